import numpy as np
import pandas as pd
import pytest

from recsys_utils.splits import load_splits, make_splits, split_users, temporal_holdout


def synthetic_ratings(n_users=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        n = int(rng.integers(3, 40))
        items = rng.choice(500, size=n, replace=False)
        times = rng.integers(0, 50, size=n)  # many ties, to exercise the tie-break
        rows += [(user, int(i), float(rng.integers(1, 6)), int(t)) for i, t in zip(items, times, strict=True)]
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])


def test_temporal_holdout_has_no_leakage():
    ratings = synthetic_ratings()
    train, test = temporal_holdout(ratings, 0.2)
    assert len(train) + len(test) == len(ratings)
    assert train.merge(test, on=["user_id", "movie_id"]).empty
    order = train.groupby("user_id").timestamp.max().to_frame("train").join(test.groupby("user_id").timestamp.min().rename("test"), how="inner")
    assert (order["train"] <= order["test"]).all()
    per_user = ratings.groupby("user_id").size()
    held = test.groupby("user_id").size().reindex(per_user.index, fill_value=0)
    assert (held == np.minimum(np.ceil(per_user * 0.2), per_user - 1)).all()


def test_holdout_of_tied_timestamps_is_deterministic():
    ratings = synthetic_ratings()
    a = temporal_holdout(ratings.sample(frac=1, random_state=1), 0.3)[1]
    b = temporal_holdout(ratings.sample(frac=1, random_state=2), 0.3)[1]
    pd.testing.assert_frame_equal(a, b)


def test_user_split_is_disjoint_complete_and_seeded():
    users = np.arange(1, 1001)
    train, val, test = split_users(users, seed=7)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert set(train) | set(val) | set(test) == set(users)
    assert (len(train), len(val), len(test)) == (700, 150, 150)
    again = split_users(users, seed=7)
    assert all(np.array_equal(x, y) for x, y in zip((train, val, test), again, strict=True))
    assert not np.array_equal(train, split_users(users, seed=8)[0])


@pytest.mark.parametrize("bad", [(0.5, 0.5), (0.8, 0.3, 0.1), (1.0, 0.0, 0.0)])
def test_bad_fractions_are_refused(bad):
    with pytest.raises(ValueError, match="fractions"):
        split_users(np.arange(10), bad)


def test_splits_are_saved_and_rebuilt_when_parameters_or_files_change(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))

    class Data:
        name = "synthetic"
        ratings = synthetic_ratings()
        checksums = {"ratings": "abc"}

    first = load_splits(Data, seed=3)
    saved = load_splits(Data, seed=3)
    pd.testing.assert_frame_equal(first.train_ratings, saved.train_ratings)
    assert np.array_equal(first.test_users, saved.test_users)
    expected = make_splits(Data.ratings, seed=3)
    assert np.array_equal(expected.val_users, saved.val_users)
    # A damaged file is detected through the manifest's checksums and the split rebuilt.
    (first.folder / "users.parquet").write_bytes(b"garbage")
    rebuilt = load_splits(Data, seed=3)
    assert np.array_equal(rebuilt.train_users, first.train_users)
    assert not np.array_equal(load_splits(Data, seed=4).train_users, first.train_users)
