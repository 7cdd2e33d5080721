"""Turning candidate lists into the evaluation protocol's matrices, and the cold-start protocol.

Cold-start protocol (lesson 03 and ``benchmarks/bench_retrieval.py``): each evaluated user
becomes a new user who names ``n`` films they loved (``n`` drawn from 3-5 per user with the
seed), their favourites in training (highest rating, then most recent). Their later likes
(held-out ratings >= 4) are the relevant movies; only the named films are excluded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..constants import DEFAULT_SEED, ITEM_COL, LIKE_THRESHOLD, RATING_COL, TIMESTAMP_COL, USER_COL
from .generator import Candidates

__all__ = ["cold_start_profiles", "most_popular_for_profiles", "ranked_columns"]


def ranked_columns(candidates: Sequence[Candidates], item_ids: np.ndarray, k: int) -> np.ndarray:
    """``(len(candidates), k)`` catalogue columns (``-1`` = padding), as ``evaluation`` reads them."""
    item_ids = np.asarray(item_ids, dtype=np.int64)
    out = np.full((len(candidates), k), -1, dtype=np.int64)
    for row, cands in enumerate(candidates):
        ids = cands.movie_ids[:k]
        cols = np.searchsorted(item_ids, ids)
        if ids.size and (cols.max() >= item_ids.size or np.any(item_ids[cols] != ids)):
            raise ValueError("candidates hold movie ids outside the evaluation catalogue")
        out[row, : ids.size] = cols
    return out


def cold_start_profiles(train_ratings: pd.DataFrame, user_ids, sizes: Sequence[int] = (3, 4, 5),
                        seed: int = DEFAULT_SEED, like_threshold: float = LIKE_THRESHOLD) -> dict[int, np.ndarray]:
    """Per user: the movie ids of ``n`` favourite liked training movies (``n`` drawn from ``sizes``).

    Users with fewer liked training movies than their drawn ``n`` keep all they have (at least
    ``min(sizes)``); users with fewer than ``min(sizes)`` liked movies are left out.
    """
    users = np.asarray(user_ids, dtype=np.int64)
    liked = train_ratings[(train_ratings[RATING_COL] >= like_threshold) & train_ratings[USER_COL].isin(users)]
    liked = liked.sort_values([USER_COL, RATING_COL, TIMESTAMP_COL, ITEM_COL], ascending=[True, False, False, True])
    by_user = {int(u): g[ITEM_COL].to_numpy(np.int64) for u, g in liked.groupby(USER_COL, sort=True)}
    drawn = np.random.default_rng(seed).choice(np.asarray(sizes), size=users.size)
    profiles = {}
    for user, n in zip(users.tolist(), drawn.tolist(), strict=True):
        films = by_user.get(user, np.empty(0, dtype=np.int64))
        if films.size >= min(sizes):
            profiles[user] = films[:n]
    return profiles


def most_popular_for_profiles(popularity: np.ndarray, item_ids: np.ndarray, profiles: Sequence[np.ndarray],
                              k: int) -> np.ndarray:
    """Most-popular's columns for each profile, the profile's own films left out."""
    order = np.argsort(-np.asarray(popularity), kind="stable")
    top = order[: k + max((len(p) for p in profiles), default=0)]
    out = np.full((len(profiles), k), -1, dtype=np.int64)
    for row, films in enumerate(profiles):
        named = np.searchsorted(item_ids, films)
        kept = top[~np.isin(top, named)][:k]
        out[row, : kept.size] = kept
    return out
