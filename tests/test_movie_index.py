"""ensure_movie_index: metadata, idempotence, rebuilds, and both backends."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from pinecone_standin import PineconeStandIn

from recsys_utils.embeddings import Embedder
from recsys_utils.movie_index import ensure_movie_index, index_movies, movie_metadata
from recsys_utils.vectorstore import open_store


def _data(titles=("Toy Story", "Heat", "Alien", "Fargo")) -> SimpleNamespace:
    n = len(titles)
    movies = pd.DataFrame(
        {
            "movie_id": np.arange(1, n + 1, dtype="int64"),
            "title": list(titles),
            "year": pd.array([1995, 1995, None, 1996][:n], dtype="Int64"),
            "genres": [["Animation", "Comedy"], ["Crime"], ["Horror", "Sci-Fi"], ["Crime", "Drama"]][:n],
            "imdb_rating": [8.3, 8.2, np.nan, 8.1][:n],
        }
    )
    movies["text"] = [
        f"Title: {t}. Genres: {', '.join(g)}." for t, g in zip(movies.title, movies.genres, strict=True)
    ]
    ratings = pd.DataFrame(
        {
            "user_id": np.array([1, 2, 1, 3], dtype="int64"),
            "movie_id": np.array([1, 1, 2, 4], dtype="int64"),
            "rating": np.array([5, 3, 4, 2], dtype="float32"),
            "timestamp": np.arange(4, dtype="int64"),
        }
    )
    ratings = ratings[ratings.movie_id <= n]
    return SimpleNamespace(name="synthetic", movies=movies, ratings=ratings)


@pytest.fixture
def embedder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return Embedder(cache_dir=tmp_path / "cache")


def test_metadata_has_ratings_and_leaves_out_missing_values():
    data = _data()
    meta = movie_metadata(data.movies, data.ratings)
    assert meta[0] == {
        "movie_id": 1,
        "title": "Toy Story",
        "genres": ["Animation", "Comedy"],
        "rating_count": 2,
        "year": 1995,
        "mean_rating": 4.0,
        "imdb_rating": 8.3,
    }
    assert "year" not in meta[2] and "mean_rating" not in meta[2] and "imdb_rating" not in meta[2]
    assert meta[2]["rating_count"] == 0


def test_index_is_built_once_and_queryable(tmp_path, embedder):
    data = _data()
    store = open_store("local", path=tmp_path / "vs")
    first = index_movies(data, store=store, embedder=embedder)
    assert not first.skipped and first.movies == 4 and store.count() == 4
    hits = store.query(embedder.encode(["a scary space monster movie"])[0], top_k=1)
    assert hits[0].metadata["title"] == "Alien"
    crime = store.query(
        embedder.encode(["crime"])[0], top_k=4, filter={"genres": "Crime", "year": {"$gte": 1996}}
    )
    assert [m.id for m in crime] == ["4"]
    # A second run (even in a new process, i.e. a reopened store) does nothing.
    again = index_movies(data, store=open_store("local", path=tmp_path / "vs"), embedder=embedder)
    assert again.skipped and again.content_hash == first.content_hash


def test_changed_content_rebuilds_and_drops_removed_movies(tmp_path, embedder):
    store = open_store("local", path=tmp_path / "vs")
    index_movies(_data(), store=store, embedder=embedder)
    changed = index_movies(_data(("Toy Story 2", "Heat", "Alien")), store=store, embedder=embedder)
    assert not changed.skipped
    assert store.count() == 3 and "4" not in store.fetch(["4"])
    assert store.fetch(["1"])["1"].metadata["title"] == "Toy Story 2"
    assert changed.embedding_stats["encoded"] == 1  # only the changed text was embedded again


def test_incomplete_index_is_rebuilt(tmp_path, embedder):
    store = open_store("local", path=tmp_path / "vs")
    index_movies(_data(), store=store, embedder=embedder)
    store.delete(["2"])
    assert not index_movies(_data(), store=store, embedder=embedder).skipped
    assert store.count() == 4


def test_default_store_lives_under_artifacts(tmp_path, monkeypatch, embedder):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    store = ensure_movie_index(_data(), embedder=embedder)
    assert store.backend == "local"
    assert (tmp_path / "artifacts" / "vectorstore" / "movies" / "store.json").exists()


def test_pinecone_backend_through_the_sdk(monkeypatch, embedder):
    with PineconeStandIn(api_key="k-test") as standin:
        monkeypatch.setenv("PINECONE_API_KEY", "k-test")
        monkeypatch.setenv("PINECONE_CONTROLLER_HOST", standin.url)
        store = ensure_movie_index(_data(), embedder=embedder)
        assert store.backend == "pinecone" and store.count() == 4
        upserts = sum(r["path"] == "/vectors/upsert" for r in standin.requests)
        again = index_movies(_data(), embedder=embedder)
        assert again.skipped
        assert sum(r["path"] == "/vectors/upsert" for r in standin.requests) == upserts
        assert store.query(embedder.encode(["space horror"])[0], top_k=1)[0].metadata["title"] == "Alien"
