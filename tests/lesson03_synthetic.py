"""Synthetic ratings with planted structure for the lesson-03 unit tests (no download needed).

Users and movies fall into ``n_groups`` taste groups; a user rates mostly movies of their own
group (high stars) plus some popular movies of any group (mixed stars). Collaborative filtering
can recover the groups from co-ratings, so a learned model must beat random and popularity here,
and a content vector that encodes the group lets retrieval work too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, RATING_COL, TIMESTAMP_COL, TITLE_COL, USER_COL


def synthetic_ratings(n_users: int = 300, n_items: int = 200, n_groups: int = 5, per_user: int = 30,
                      seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Return ``(ratings, movies, item_vectors)``; item ids start at 1 like MovieLens."""
    rng = np.random.default_rng(seed)
    user_group = rng.integers(n_groups, size=n_users)
    item_group = rng.integers(n_groups, size=n_items)
    popularity = rng.zipf(1.6, size=n_items).astype(float)
    popularity /= popularity.sum()
    rows = []
    for u in range(n_users):
        own = np.flatnonzero(item_group == user_group[u])
        n_own = min(len(own), int(per_user * 0.7))
        chosen_own = rng.choice(own, size=n_own, replace=False, p=popularity[own] / popularity[own].sum())
        rest = np.setdiff1d(np.arange(n_items), chosen_own)
        chosen_pop = rng.choice(rest, size=per_user - n_own, replace=False, p=popularity[rest] / popularity[rest].sum())
        for j in chosen_own:
            rows.append((u + 1, j + 1, float(rng.choice([4, 5], p=[0.4, 0.6]))))
        for j in chosen_pop:
            rows.append((u + 1, j + 1, float(rng.choice([1, 2, 3, 4], p=[0.2, 0.3, 0.3, 0.2]))))
    ratings = pd.DataFrame(rows, columns=[USER_COL, ITEM_COL, RATING_COL])
    ratings[RATING_COL] = ratings[RATING_COL].astype(np.float32)
    ratings[TIMESTAMP_COL] = rng.permutation(len(ratings)).astype(np.int64) + 1_000_000
    movies = pd.DataFrame({ITEM_COL: np.arange(1, n_items + 1, dtype=np.int64),
                           TITLE_COL: [f"Movie {j} of group {g}" for j, g in zip(range(1, n_items + 1), item_group, strict=True)]})
    centres = rng.normal(size=(n_groups, 16))
    item_vectors = (centres[item_group] + 0.3 * rng.normal(size=(n_items, 16))).astype(np.float32)
    item_vectors /= np.linalg.norm(item_vectors, axis=1, keepdims=True)
    return ratings, movies, item_vectors


def temporal_split(ratings: pd.DataFrame, test_share: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's latest ``test_share`` of ratings held out (the course protocol, in miniature)."""
    ordered = ratings.sort_values([USER_COL, TIMESTAMP_COL])
    position = ordered.groupby(USER_COL).cumcount()
    size = ordered.groupby(USER_COL)[ITEM_COL].transform("size")
    is_test = position >= np.ceil(size * (1 - test_share))
    return ordered[~is_test].reset_index(drop=True), ordered[is_test].reset_index(drop=True)


class ExactStore:
    """A minimal in-memory stand-in with the vector-store ``query_many`` contract (cosine)."""

    def __init__(self, ids, vectors):
        self.ids = np.asarray([str(i) for i in ids])
        vectors = np.asarray(vectors, dtype=np.float32)
        self.unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.calls = 0

    def query_many(self, vectors, top_k, filter=None, namespace=""):
        self.calls += 1
        q = np.asarray(vectors, dtype=np.float32)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        sims = q @ self.unit.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :top_k]
        ids = self.ids[order]
        scores = np.take_along_axis(sims, order, axis=1)
        if top_k > len(self.ids):  # pad as the real stores do
            pad = top_k - len(self.ids)
            ids = np.hstack([ids, np.full((len(q), pad), "")])
            scores = np.hstack([scores, np.full((len(q), pad), -np.inf, dtype=np.float32)])
        return ids, scores
