"""Taste-tuned text vectors on a tiny synthetic catalogue (24 movies, 40 users): pairs, the
projection, the artefact cache and the tuned index.

The slow tests load MiniLM once (about 4 s) and train a few hundred small steps each: 10-45 s
each on the shared 2-core machine under load, about 15 s in total when it is idle."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsys_utils.embeddings import Embedder
from recsys_utils.embeddings.item_text import movie_texts, top_tags
from recsys_utils.embeddings.pairs import liked_lists, sample_pairs
from recsys_utils.embeddings.projection import TrainSettings
from recsys_utils.embeddings.taste import TUNED_INDEX, Budget, ensure_taste_text, ensure_text_index
from recsys_utils.vectorstore import open_store

TINY = Budget(pairs=3_000, max_seconds=20.0, settings=TrainSettings(batch_size=32, learning_rate=5e-3))
WORDS = ["Amber", "Basalt", "Cobalt", "Dune", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
         "Krypton", "Lagoon", "Meadow", "Nimbus", "Onyx", "Prism", "Quartz", "Raven", "Sierra", "Tundra",
         "Umber", "Vortex", "Willow", "Zephyr"]


def _tiny():
    """24 movies with unrelated one-word titles; users of taste A like movies 0-11, of taste B 12-23."""
    n = len(WORDS)
    genres = [["Drama"] if i % 2 else ["Comedy"] for i in range(n)]
    movies = pd.DataFrame({"movie_id": np.arange(1, n + 1, dtype="int64"), "title": WORDS,
                           "year": pd.array([1990 + i % 7 for i in range(n)], dtype="Int64"), "genres": genres})
    movies["text"] = [f"Title: {t}. Genres: {', '.join(g)}." for t, g in zip(WORDS, genres, strict=True)]
    rng = np.random.default_rng(0)
    rows = []
    for user in range(1, 41):
        own = np.arange(12) if user % 2 else np.arange(12, 24)
        other = np.setdiff1d(np.arange(24), own)
        for t, movie in enumerate(rng.permutation(own)[:8]):
            rows.append((user, movie + 1, 5.0, t))
        for t, movie in enumerate(rng.choice(other, 3, replace=False)):
            rows.append((user, movie + 1, 1.0, 100 + t))
    ratings = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])
    ratings = ratings.astype({"user_id": "int64", "movie_id": "int64", "rating": "float32", "timestamp": "int64"})
    last = ratings.groupby("user_id")["timestamp"].transform("max")
    liked_late = ratings.sort_values("timestamp").groupby("user_id").nth(6).index  # one like per user held out
    test = ratings.loc[liked_late]
    train = ratings.drop(index=liked_late)
    assert (last > 0).all()
    tags = pd.DataFrame({"user_id": [1, 3, 2], "movie_id": [1, 1, 13], "tag": ["Space", "space", "heist"],
                         "timestamp": [0, 0, 0]})
    data = SimpleNamespace(name="tiny", movies=movies, ratings=ratings, checksums={"x": "1"}, tags=tags)
    splits = SimpleNamespace(train_ratings=train.reset_index(drop=True), test_ratings=test.reset_index(drop=True), seed=1)
    return data, splits


@pytest.fixture
def embedder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    return Embedder(cache_dir=tmp_path / "cache", show_progress_bar=False)


def test_pairs_are_two_different_films_liked_by_one_user():
    data, splits = _tiny()
    indptr, rows = liked_lists(splits.train_ratings, data.movies.movie_id.to_numpy())
    assert len(indptr) - 1 == 40
    anchors, positives = sample_pairs(indptr, rows, 2_000, seed=3)
    assert (anchors != positives).all()
    # Every pair sits inside one taste group: users never like across groups in this fixture.
    assert ((anchors < 12) == (positives < 12)).all()
    again = sample_pairs(indptr, rows, 2_000, seed=3)
    assert np.array_equal(again[0], anchors) and np.array_equal(again[1], positives)
    with pytest.raises(ValueError, match="no user liked two"):
        sample_pairs(np.array([0]), np.array([], dtype=np.int64), 5, seed=0)


def test_tags_leave_out_held_out_pairs_and_richer_texts_extend_the_plain_one():
    data, splits = _tiny()
    held = pd.DataFrame({"user_id": [2], "movie_id": [13]})
    assert top_tags(data.tags, held).to_dict() == {1: ["space"]}
    texts = movie_texts(data, "tags", SimpleNamespace(test_ratings=held))
    assert texts[0] == data.movies.text[0] + " Tags: space." and texts[12] == data.movies.text[12]
    with pytest.raises(ValueError, match="text variant"):
        movie_texts(data, "reviews")


@pytest.mark.slow
def test_tuning_pulls_co_liked_movies_together_and_is_cached(embedder, tmp_path):
    data, splits = _tiny()
    tuned = ensure_taste_text(data, splits, seed=7, budget=TINY, embedder=embedder, folder=tmp_path / "art")
    report = tuned.report
    assert tuned.movie_vectors.shape == (24, 384) and tuned.movie_vectors.dtype == np.float32
    assert np.linalg.norm(tuned.movie_vectors, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert report["pairs"] > 0 and report["steps"] == report["pairs"] // TINY.settings.batch_size
    base = embedder.encode(data.movies.text.tolist())
    same = np.zeros((24, 24), bool)
    same[:12, :12] = same[12:, 12:] = True
    np.fill_diagonal(same, False)
    other = ~same
    np.fill_diagonal(other, False)

    def gap(v):
        sim = v @ v.T
        return sim[same].mean() - sim[other].mean()

    assert gap(tuned.movie_vectors) > gap(base) + 0.1
    assert report["ndcg@10_after"] > report["ndcg@10_before"]
    # encode() of a movie's own text lands on its tuned vector.
    assert tuned.encode([data.movies.text[3]])[0] == pytest.approx(tuned.movie_vectors[3], abs=1e-5)
    # A second call reads the artefact: same vectors, same report, no training.
    manifest = json.loads((tuned.folder / "manifest.json").read_text())
    again = ensure_taste_text(data, splits, seed=7, budget=TINY, embedder=embedder, folder=tmp_path / "art")
    assert np.array_equal(again.movie_vectors, tuned.movie_vectors) and again.report == manifest["report"]
    # Another seed is another artefact.
    assert ensure_taste_text(data, splits, seed=8, budget=TINY, embedder=embedder, folder=tmp_path / "art",
                             measure_quality=False).key != tuned.key


@pytest.mark.slow
def test_damaged_artefact_is_retrained(embedder, tmp_path):
    data, splits = _tiny()
    first = ensure_taste_text(data, splits, seed=7, budget=TINY, embedder=embedder, folder=tmp_path / "art",
                              measure_quality=False)
    (first.folder / "movie_vectors.npz").write_bytes(b"broken")
    again = ensure_taste_text(data, splits, seed=7, budget=TINY, embedder=embedder, folder=tmp_path / "art",
                              measure_quality=False)
    assert again.movie_vectors.shape == (24, 384)
    assert not list((tmp_path / "art").glob("*.tmp-*"))


@pytest.mark.slow
def test_each_kind_gets_its_own_index(embedder, tmp_path, monkeypatch):
    from recsys_utils.embeddings import taste

    data, splits = _tiny()
    monkeypatch.setitem(taste.BUDGETS, "smoke", TINY)
    tuned_store = ensure_text_index(data, splits, kind="tuned", seed=7, backend="local", budget="smoke")
    base_store = ensure_text_index(data, splits, kind="base", backend="local", embedder=embedder)
    assert tuned_store.name == TUNED_INDEX and base_store.name == "movies"
    assert tuned_store.count() == base_store.count() == 24
    tuned = ensure_taste_text(data, splits, seed=7, budget="smoke")
    record = tuned_store.fetch(["5"])["5"]
    assert np.asarray(record.vector) == pytest.approx(tuned.movie_vectors[4], abs=1e-5)
    reopened = open_store("local", name=TUNED_INDEX, dimension=384)
    assert reopened.query(tuned.movie_vectors[4], top_k=1).matches[0].id == "5"
    with pytest.raises(ValueError, match="kind"):
        ensure_text_index(data, splits, kind="cf")
