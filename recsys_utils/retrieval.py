"""Retrieval strategies: the "R" of RAG, as top-K recommenders evaluated like the CF baselines.

Each strategy asks the vector store (``vectorstore.open_store`` / ``movie_index``; ids are
``str(movie_id)``) for the movies nearest to some query vector, in one batched
``store.query_many`` call for all users, and returns a ``(n_users, k)`` matrix of catalogue
column indices (``-1`` = nothing left), exactly what ``evaluation.evaluate_ranked`` reads:

- ``profile_query``: one query per user, the user-profile embedding (rating-weighted mean of
  liked movies, ``embeddings.user_embeddings``).
- ``favourite_titles_query``: one *text* query per user, "Movies like A; B; C" built from the
  user's favourite titles and embedded with the same MiniLM model, as a chat front-end would.
- ``per_movie_rrf``: one query per liked movie (its own embedding), the lists fused with
  reciprocal rank fusion, RRF(j) = sum over lists of 1 / (rrf_k + rank_j) (Cormack et al. 2009).

These are the text-only strategies lesson 03 measures (and shows failing); the course's
recommendations come from ``recsys_utils.candidates``, whose ``unseen_top`` also excludes
the movies each user rated here: a bounded over-fetch, then ``$nin`` filters, never "k + the
whole rated count" and never the whole catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .constants import ITEM_COL, LIKE_THRESHOLD, RATING_COL, TIMESTAMP_COL, TITLE_COL, USER_COL
from .evaluation import EvalData, top_k_from_scores

__all__ = [
    "favourite_titles",
    "favourite_titles_query",
    "ids_to_columns",
    "per_movie_rrf",
    "profile_query",
    "reciprocal_rank_fusion",
    "retrieve_unrated",
    "seed_movies",
]

RRF_K = 60  # the constant of Cormack, Clarke & Buettcher (2009); damps the weight of rank 1


def ids_to_columns(ids: np.ndarray, data: EvalData) -> np.ndarray:
    """Map the store's string ids (``"" `` = padding) to catalogue column indices (-1 = none)."""
    ids = np.asarray(ids)
    flat = ids.ravel()
    present = flat != ""
    columns = np.full(flat.shape, -1, dtype=np.int64)
    if present.any():
        try:
            movie_ids = flat[present].astype(np.int64)
        except ValueError as error:
            raise ValueError(f"the store returned ids that are not movie ids ({flat[present][:3]}); "
                             "index movies with str(movie_id) as their id") from error
        columns[present] = data.item_index(movie_ids)
    return columns.reshape(ids.shape)


def retrieve_unrated(store, query_vectors: np.ndarray, data: EvalData, rows: np.ndarray, k: int,
                     filters: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` unrated movies for each user ``rows[i]`` nearest to ``query_vectors[i]``.

    Returns ``(columns, scores)``, both ``(len(rows), k)``; padding is ``-1`` / ``-inf``.
    Rated movies are excluded by ``candidates.unseen_top`` (bounded windows and ``$nin``).
    """
    from .candidates import unseen_top

    rows = np.asarray(rows, dtype=np.int64)
    query_vectors = np.asarray(query_vectors, dtype=np.float32)
    if query_vectors.shape[0] != rows.size:
        raise ValueError(f"{query_vectors.shape[0]} query vectors for {rows.size} users; give one per user")
    seen = [data.item_ids[data.train[r].indices] for r in rows]
    found = unseen_top(store, query_vectors, seen, k, filters)
    columns = np.full((rows.size, k), -1, dtype=np.int64)
    scores = np.full((rows.size, k), -np.inf, dtype=np.float32)
    for i, (ids, values) in enumerate(found):
        columns[i, : ids.size] = data.item_index(ids)
        scores[i, : ids.size] = values
    return columns, scores


# ---------------------------------------------------------------------------------------------
# strategy 1: the user-profile embedding as one query
# ---------------------------------------------------------------------------------------------


def profile_query(store, user_vectors: np.ndarray, data: EvalData, rows: np.ndarray, k: int) -> np.ndarray:
    """One query per user: their profile vector (``user_vectors[row]`` for each row)."""
    rows = np.asarray(rows, dtype=np.int64)
    return retrieve_unrated(store, np.asarray(user_vectors)[rows], data, rows, k)[0]


# ---------------------------------------------------------------------------------------------
# strategy 2: a text query from the user's favourite titles
# ---------------------------------------------------------------------------------------------


def favourite_titles(ratings: pd.DataFrame, movies: pd.DataFrame, n_titles: int = 5) -> pd.Series:
    """Each user's ``n_titles`` favourite titles: highest rating first, then most recent."""
    if n_titles < 1:
        raise ValueError(f"n_titles must be >= 1, got {n_titles}")
    titled = ratings[[USER_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL]].merge(
        movies[[ITEM_COL, TITLE_COL]], on=ITEM_COL, how="left", validate="many_to_one")
    titled = titled.sort_values([USER_COL, RATING_COL, TIMESTAMP_COL, ITEM_COL], ascending=[True, False, False, True])
    top = titled.groupby(USER_COL, sort=True).head(n_titles)
    return top.groupby(USER_COL, sort=True)[TITLE_COL].agg(list)


def titles_query_text(titles: Sequence[str]) -> str:
    """The sentence a user might type: it reads like the movie texts that were embedded."""
    return "Movies like: " + "; ".join(str(t) for t in titles) + "."


def favourite_titles_query(store, embedder, ratings: pd.DataFrame, movies: pd.DataFrame, data: EvalData,
                           rows: np.ndarray, k: int, n_titles: int = 5) -> np.ndarray:
    """One text query per user, "Movies like: A; B; C.", embedded with ``embedder.encode``."""
    rows = np.asarray(rows, dtype=np.int64)
    titles = favourite_titles(ratings, movies, n_titles)
    user_ids = data.user_ids[rows]
    missing = np.setdiff1d(user_ids, titles.index.to_numpy())
    if missing.size:
        raise ValueError(f"{missing.size} users have no rated movie in `ratings` (e.g. {missing[:3].tolist()})")
    texts = [titles_query_text(t) for t in titles.loc[user_ids]]
    vectors = embedder.encode(texts)
    return retrieve_unrated(store, vectors, data, rows, k)[0]


# ---------------------------------------------------------------------------------------------
# strategy 3: one query per liked movie, fused with reciprocal rank fusion
# ---------------------------------------------------------------------------------------------


def seed_movies(data: EvalData, rows: np.ndarray, max_seeds: int = 10,
                like_threshold: float = LIKE_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``max_seeds`` seed movies per user: liked ones (highest rating first), else any rated.

    Returns ``(seed_owner, seed_column)``: position in ``rows`` and catalogue column of each seed.
    Falls back to all rated movies for a user who liked none, mirroring the profile embedding.
    """
    train = data.train[np.asarray(rows, dtype=np.int64)].tocoo()
    frame = pd.DataFrame({"owner": train.row, "col": train.col, "rating": train.data})
    liked_any = frame.groupby("owner")["rating"].transform("max") >= like_threshold
    frame = frame[(frame["rating"] >= like_threshold) | ~liked_any]
    frame = frame.sort_values(["owner", "rating", "col"], ascending=[True, False, True])
    frame = frame.groupby("owner", sort=True).head(max_seeds)
    return frame["owner"].to_numpy(np.int64), frame["col"].to_numpy(np.int64)


def reciprocal_rank_fusion(owner: np.ndarray, columns: np.ndarray, n_users: int, n_items: int,
                           rrf_k: int = RRF_K) -> sp.csr_matrix:
    """Fuse many ranked lists into one score matrix: RRF(u, j) = sum_lists 1 / (rrf_k + rank).

    ``columns[q]`` is the ranked list of query ``q`` (best first, -1 = padding) and ``owner[q]``
    the user it belongs to. Duplicate (user, item) entries are summed by the sparse constructor,
    which is the fusion itself, so no Python loop over users or lists is needed.
    """
    ranks = np.broadcast_to(np.arange(1, columns.shape[1] + 1), columns.shape)
    owners = np.broadcast_to(np.asarray(owner)[:, None], columns.shape)
    keep = columns >= 0
    values = 1.0 / (rrf_k + ranks[keep])
    return sp.csr_matrix((values, (owners[keep], columns[keep])), shape=(n_users, n_items))


def per_movie_rrf(store, item_vectors: np.ndarray, data: EvalData, rows: np.ndarray, k: int,
                  max_seeds: int = 10, per_query: int = 50, rrf_k: int = RRF_K) -> np.ndarray:
    """For each user, query with each seed movie's own vector; fuse the lists with RRF.

    ``item_vectors`` is aligned with the catalogue columns (``data.item_ids``). All seed queries
    of all users go to the store in one ``query_many`` call.
    """
    rows = np.asarray(rows, dtype=np.int64)
    owner, seed_cols = seed_movies(data, rows, max_seeds)
    vectors = np.asarray(item_vectors, dtype=np.float32)[seed_cols]
    # per_query + 1: a seed's nearest neighbour is itself (rated, dropped below by the mask).
    ids, _ = store.query_many(vectors, top_k=min(per_query + 1, data.n_items))
    fused = reciprocal_rank_fusion(owner, ids_to_columns(ids, data), rows.size, data.n_items, rrf_k)
    scores = fused.toarray().astype(np.float32)
    scores[scores == 0] = -np.inf  # never retrieved: not a recommendation
    return top_k_from_scores(scores, data.train[rows], k)
