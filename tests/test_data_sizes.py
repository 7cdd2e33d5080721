"""ml-1m at its real size, and the budget that stops ml-25m-sized catalogues at once."""

import time

import pytest

from recsys_utils.data import BUDGET, CatalogueTooLarge, coverage, fit_budget, load_movielens, sources
from recsys_utils.data.sources import OFFLINE_ENV
from tests.grouplens_fixtures import HARD_CODED_TITLES, write_synthetic_csv, write_synthetic_ml1m


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.delenv(sources.SOURCE_ENV, raising=False)


@pytest.mark.slow  # 4-11 s to write 1M ratings (contended), about 3 s to copy, hash, parse and validate them
def test_ml1m_at_its_real_size_from_a_folder(tmp_path):
    begin = time.perf_counter()
    write_synthetic_ml1m(tmp_path / "src" / "ml-1m", n_ratings=1_100_000, n_users=6_040, n_movies=3_706, n_catalogue=3_883)
    written = (tmp_path / "src" / "ml-1m" / "ratings.dat").read_bytes().count(b"\n")
    print(f"written in {time.perf_counter() - begin:.1f} s")
    start = time.perf_counter()
    data = load_movielens("ml-1m", source=tmp_path / "src")  # the dataset folder one level down, as zips nest it
    seconds = time.perf_counter() - start
    assert written > 1_000_000 and len(data.ratings) + data.dangling_ratings == written
    assert (data.ratings.user_id.nunique(), len(data.movies)) == (6_040, 3_883)
    assert coverage(data) == {"n_movies": 3_883, "n_rated_movies": 3_706, "n_unrated_movies": 177, "n_dangling_ratings": 5}
    assert data.ratings.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "int64"]
    assert not any(t in title for title in data.movies.title for t in HARD_CODED_TITLES)
    print(f"ml-1m-sized folder: {written:,} ratings loaded in {seconds:.1f} s")


def test_a_catalogue_over_budget_stops_at_once_naming_budget_and_parameters(tmp_path):
    folder = write_synthetic_csv(tmp_path / "ml-25m", n_movies=BUDGET.max_movies + 500, n_ratings=20_000)
    data = load_movielens("ml-25m", source=folder)
    with pytest.raises(CatalogueTooLarge) as caught:
        fit_budget(data)
    message = str(caught.value)
    assert f"ml-25m has {len(data.movies):,} movies" in message
    assert "budgeted for (10,000 movies and 1,100,000 ratings" in message
    assert "MAX_MOVIES (keep the N most-rated movies)" in message and "-p MAX_MOVIES 10000" in message
    trimmed = fit_budget(data, max_movies=10_000)
    assert len(trimmed.movies) == 10_000 and trimmed.subset["max_movies"] == 10_000
    counts = data.ratings.movie_id.value_counts().reindex(data.movies.movie_id, fill_value=0)
    kept = data.movies.movie_id.isin(trimmed.movies.movie_id).to_numpy()
    assert counts[kept].min() >= counts[~kept].max()  # the most-rated movies are the ones kept
    assert trimmed.ratings.movie_id.isin(trimmed.movies.movie_id).all()
    assert trimmed.checksums["subset"] == "max_movies=10000" and data.checksums.get("subset") is None
    assert fit_budget(data, max_movies=10_000, max_users=50, seed=1).ratings.user_id.nunique() == 50


def test_a_catalogue_within_budget_is_returned_as_is(tmp_path):
    data = load_movielens("ml-1m", source=write_synthetic_ml1m(tmp_path / "ml-1m", n_ratings=5_000, n_users=100, n_movies=300))
    assert fit_budget(data) is data
    with pytest.raises(ValueError, match="MAX_MOVIES must be a positive whole number"):
        fit_budget(data, max_movies=0)
