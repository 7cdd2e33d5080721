"""Training pairs for taste tuning: two movies liked (>= 4 stars) by the same user.

Only the training split is read, so nothing about a user's held-out ratings reaches the vectors.
Sampling: an anchor is a uniformly drawn *liked rating* (so active users and popular films count
as often as the data has them), its positive another film liked by the same user, drawn uniformly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import ITEM_COL, LIKE_THRESHOLD, RATING_COL, USER_COL


def liked_lists(train_ratings: pd.DataFrame, movie_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, rows)``: user u's liked movies are ``rows[indptr[u]:indptr[u + 1]]`` (rows of ``movie_ids``).

    Users with fewer than two liked films are dropped: they cannot form a pair.
    """
    for column in (USER_COL, ITEM_COL, RATING_COL):
        if column not in train_ratings.columns:
            raise KeyError(f"train_ratings has no {column!r} column (columns: {list(train_ratings.columns)})")
    movie_ids = np.asarray(movie_ids, dtype=np.int64)
    liked = train_ratings[train_ratings[RATING_COL] >= LIKE_THRESHOLD]
    pos = np.searchsorted(movie_ids, liked[ITEM_COL].to_numpy(np.int64))
    pos = np.clip(pos, 0, len(movie_ids) - 1)
    known = movie_ids[pos] == liked[ITEM_COL].to_numpy(np.int64)
    users = liked[USER_COL].to_numpy(np.int64)[known]
    rows = pos[known]
    order = np.lexsort((rows, users))
    users, rows = users[order], rows[order]
    _, starts, counts = np.unique(users, return_index=True, return_counts=True)
    keep = counts >= 2
    starts, counts = starts[keep], counts[keep]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    picked = np.concatenate([rows[s : s + c] for s, c in zip(starts, counts, strict=True)]) if len(starts) else rows[:0]
    return indptr, picked.astype(np.int64)


def sample_pairs(indptr: np.ndarray, rows: np.ndarray, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` (anchor, positive) row pairs, two different films liked by the same user."""
    if len(indptr) < 2:
        raise ValueError("no user liked two or more films in the training split; there are no pairs to learn from")
    rng = np.random.default_rng(seed)
    counts = np.diff(indptr)
    owner = np.repeat(np.arange(len(counts)), counts)
    anchor_at = rng.integers(0, len(rows), size=n_pairs)
    user = owner[anchor_at]
    offset = anchor_at - indptr[user]
    # Another liked film of the same user: a uniform draw among the other count - 1.
    other = rng.integers(0, counts[user] - 1)
    other = other + (other >= offset)
    return rows[anchor_at], rows[indptr[user] + other]
