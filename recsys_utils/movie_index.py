"""Build (once) the movie index every later lesson queries: MiniLM vectors + metadata.

``ensure_movie_index(data)`` embeds every movie of ``data.movies`` and upserts it with its
title, genres, year, mean rating and rating count (from ``data.ratings``) and the outside
ratings (IMDb, Rotten Tomatoes) joined by ``recsys_utils.enrich``. It is idempotent: a content
hash of the texts, the metadata and the model's fingerprint is kept in the store's manifest,
and when the store already holds exactly that content nothing is embedded or sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .constants import GENRES_COL, ITEM_COL, RATING_COL, TEXT_COL, TITLE_COL, YEAR_COL
from .embeddings import Embedder
from .vectorstore import VectorStore, open_store_rebuilding

if TYPE_CHECKING:
    from .embeddings.taste import Budget

logger = logging.getLogger(__name__)

# Outside ratings copied into the metadata when the movie table has them (see enrich.py).
OUTSIDE_COLUMNS = ("imdb_rating", "imdb_votes", "rotten_tomatoes")
MANIFEST_VERSION = "1"


@dataclass
class IndexReport:
    """What ``index_movies`` did, for the lesson to show and record."""

    store: VectorStore
    skipped: bool
    movies: int
    content_hash: str
    seconds: float
    embed_seconds: float = 0.0
    upsert_seconds: float = 0.0
    embedding_stats: dict[str, int] = field(default_factory=dict)
    metadata_bytes: int = 0  # JSON size of all metadata, for the index-size estimate


def movie_metadata(movies: pd.DataFrame, ratings: pd.DataFrame | None) -> list[dict[str, Any]]:
    """One metadata dict per row of ``movies`` (missing values left out, as Pinecone wants)."""
    for column in (ITEM_COL, TITLE_COL, GENRES_COL, YEAR_COL):
        if column not in movies.columns:
            raise KeyError(f"movies has no {column!r} column (columns: {list(movies.columns)})")
    if ratings is not None and len(ratings):
        grouped = ratings.groupby(ITEM_COL)[RATING_COL].agg(["mean", "count"])
        mean = grouped["mean"].reindex(movies[ITEM_COL]).to_numpy(dtype=float)
        count = grouped["count"].reindex(movies[ITEM_COL]).fillna(0).to_numpy(dtype=int)
    else:
        mean = np.full(len(movies), np.nan)
        count = np.zeros(len(movies), dtype=int)
    outside = [c for c in OUTSIDE_COLUMNS if c in movies.columns]
    records = []
    for row, movie in enumerate(movies.itertuples(index=False)):
        meta: dict[str, Any] = {
            "movie_id": int(getattr(movie, ITEM_COL)),
            "title": str(getattr(movie, TITLE_COL)),
            "genres": [str(g) for g in getattr(movie, GENRES_COL)],
            "rating_count": int(count[row]),
        }
        year = getattr(movie, YEAR_COL)
        if not pd.isna(year):
            meta["year"] = int(year)
        if np.isfinite(mean[row]):
            meta["mean_rating"] = round(float(mean[row]), 3)
        for column in outside:
            value = getattr(movie, column)
            if value is not None and not pd.isna(value):
                number = float(value)
                meta[column] = int(number) if number.is_integer() else round(number, 3)
        records.append(meta)
    return records


def content_hash(ids: list[str], texts: list[str], metadata: list[dict], model_fingerprint: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{MANIFEST_VERSION}|{model_fingerprint}\n".encode())
    for record_id, text, meta in zip(ids, texts, metadata, strict=True):
        digest.update(json.dumps([record_id, text, meta], sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _movies_with_outside_ratings(data) -> pd.DataFrame:
    if any(c in data.movies.columns for c in OUTSIDE_COLUMNS):
        return data.movies
    try:
        from .enrich import enriched_movies

        movies, _ = enriched_movies(data)
        return movies
    except Exception as error:  # enrichment is optional: the index is still useful without it
        logger.warning(
            "outside ratings unavailable (%s: %s); indexing without them", type(error).__name__, error
        )
        return data.movies


def index_movies(
    data,
    backend: str = "auto",
    store: VectorStore | None = None,
    embedder: Embedder | None = None,
    namespace: str = "",
    outside_ratings: bool = True,
    force: bool = False,
    texts: list[str] | None = None,
) -> IndexReport:
    """``ensure_movie_index`` with a report of what was done (used by lesson 02).

    ``embedder`` is anything with ``encode(texts)``, ``dimension``, ``fingerprint`` and
    ``last_stats`` (an ``Embedder`` or a taste-tuned ``TasteText``); ``texts`` replaces
    ``movies["text"]`` (one per movie, e.g. texts with user tags).
    """
    start = time.perf_counter()
    movies = _movies_with_outside_ratings(data) if outside_ratings else data.movies
    if TEXT_COL not in movies.columns:
        raise KeyError(f"movies has no {TEXT_COL!r} column; load it with recsys_utils.data.load_movielens")
    embedder = embedder or Embedder(show_progress_bar=False)
    # A damaged local index comes back empty (the damage logged), so it is rebuilt below.
    store = store or open_store_rebuilding(backend, name="movies", dimension=embedder.dimension)
    if store.dimension != embedder.dimension:
        raise ValueError(
            f"the store holds {store.dimension}-d vectors but the embedder makes {embedder.dimension}-d ones"
        )
    ids = [str(int(i)) for i in movies[ITEM_COL]]
    if texts is None:
        texts = movies[TEXT_COL].tolist()
    elif len(texts) != len(ids):
        raise ValueError(f"texts has {len(texts)} entries but the catalogue has {len(ids)} movies; give one per movie")
    metadata = movie_metadata(movies, data.ratings)
    wanted = content_hash(ids, texts, metadata, embedder.fingerprint)
    manifest = store.get_manifest()
    if not force and manifest.get("content_hash") == wanted and store.count(namespace) == len(ids):
        logger.info(
            "movie index %r already holds this content (%s...); nothing to do", store.name, wanted[:12]
        )
        return IndexReport(
            store, True, len(ids), wanted, time.perf_counter() - start, metadata_bytes=_json_bytes(metadata)
        )

    embed_start = time.perf_counter()
    vectors = embedder.encode(texts)
    embed_seconds = time.perf_counter() - embed_start
    upsert_start = time.perf_counter()
    # Mark the index incomplete first, so an interrupted rebuild is never taken as done;
    # then start from an empty namespace so movies that left the dataset do not linger.
    store.set_manifest({"content_hash": "rebuilding"})
    store.delete_all(namespace)
    store.upsert(zip(ids, vectors, metadata, strict=True), namespace=namespace)
    store.set_manifest(
        {"content_hash": wanted, "dataset": str(getattr(data, "name", "?")), "model": embedder.fingerprint}
    )
    upsert_seconds = time.perf_counter() - upsert_start
    logger.info("indexed %d movies into %r (%s backend)", len(ids), store.name, store.backend)
    return IndexReport(
        store,
        False,
        len(ids),
        wanted,
        time.perf_counter() - start,
        embed_seconds,
        upsert_seconds,
        dict(embedder.last_stats),
        metadata_bytes=_json_bytes(metadata),
    )


def _json_bytes(metadata: list[dict]) -> int:
    return sum(len(json.dumps(m, ensure_ascii=False).encode("utf-8")) for m in metadata)


def matches_records(matches) -> list[dict[str, Any]]:
    """Query matches as JSON-friendly rows (missing values are None, never NaN)."""
    rows = []
    for match in matches:
        meta = match.metadata or {}
        rows.append(
            {
                "score": round(match.score, 3),
                "title": meta.get("title"),
                "year": meta.get("year"),
                "genres": ", ".join(meta.get("genres", [])),
                "mean_rating": meta.get("mean_rating"),
                "ratings": meta.get("rating_count"),
                "imdb": meta.get("imdb_rating"),
            }
        )
    return rows


def matches_table(matches) -> pd.DataFrame:
    """Query matches as a small table for display."""
    return pd.DataFrame(matches_records(matches))


def similar_to(
    store: VectorStore, movies: pd.DataFrame, title: str, top_k: int = 5, filter: dict | None = None
):
    """Movies whose vectors are closest to the movie titled ``title`` (the movie itself left out)."""
    found = movies[movies[TITLE_COL].str.casefold() == title.casefold()]
    if found.empty:
        close = movies[movies[TITLE_COL].str.contains(title.split()[0], case=False, regex=False)][
            TITLE_COL
        ].head(5)
        raise KeyError(f"no movie titled {title!r}; similar titles: {close.tolist()}")
    movie_id = str(int(found[ITEM_COL].iloc[0]))
    record = store.fetch([movie_id]).get(movie_id)
    if record is None:
        raise KeyError(f"movie {title!r} (id {movie_id}) is not in the index; run ensure_movie_index first")
    matches = store.query(record.vector, top_k=top_k + 1, filter=filter)
    return [m for m in matches if m.id != movie_id][:top_k]


def ensure_movie_index(data, backend: str = "auto", store: VectorStore | None = None, **kw) -> VectorStore:
    """The movie index for ``data``, built only when it is missing or out of date."""
    return index_movies(data, backend=backend, store=store, **kw).store


def ensure_text_index(
    data,
    splits=None,
    kind: str = "tuned",
    seed: int = 42,
    backend: str = "auto",
    budget: str | Budget = "full",
    text: str = "plain",
    store=None,
    tuned=None,
    **kw,
):
    """The vector index of one kind of text vector, built only when missing or out of date.

    ``tuned``: the ``TasteText`` the caller already holds (loading it again costs seconds).

    ``kind="base"``: MiniLM vectors of lesson 01's texts in the index "movies" (``ensure_movie_index``);
    ``kind="tuned"``: ``embeddings.ensure_taste_text`` vectors in their own index "movies-taste"
    (a Pinecone index has one dimension and one metric, so each kind of vector gets its own).
    """
    from .embeddings.taste import TUNED_INDEX, ensure_taste_text

    if kind == "base":
        return index_movies(data, backend=backend, store=store, **kw).store
    if kind != "tuned":
        raise ValueError(f"kind must be 'tuned' or 'base'; got {kind!r}")
    if splits is None:
        from .splits import load_splits

        splits = load_splits(data, seed=seed)
    if tuned is None:
        tuned = ensure_taste_text(data, splits, seed=seed, budget=budget, text=text)
    store = store or open_store_rebuilding(backend, name=TUNED_INDEX, dimension=tuned.dimension)
    return index_movies(data, backend=backend, store=store, embedder=tuned, texts=tuned.texts, **kw).store
