"""User embeddings: where a user's taste sits in the movie embedding space.

Batch rule (``user_embedding``): the rating-weighted mean of the vectors of the movies the user
liked (rating >= ``LIKE_THRESHOLD``), scaled to unit length. A user who liked nothing still gets
a direction: the rating-weighted mean of everything they rated.

Online rule (``update_user_embedding``), used by the serving lesson when feedback arrives::

    new = normalise(count * current + weight * item_vector)

``current`` is treated as the mean direction of ``count`` units of weight seen so far, and the
new item enters with ``weight`` (e.g. its rating; negative to push away from a disliked film).
The caller keeps ``count += weight``. Because ``current`` is unit length while the batch mean
of several non-parallel vectors is shorter, the online rule gives a new item slightly less pull
than recomputing from scratch; it is exact for the first update and keeps the cost O(d).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ..constants import ITEM_COL, LIKE_THRESHOLD, RATING_COL, USER_COL


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if norm == 0.0 or not np.isfinite(norm):
        raise ValueError("the weighted vectors cancel out; cannot form a direction")
    return (vector / norm).astype(np.float32)


def _liked_weights(ratings: np.ndarray) -> np.ndarray:
    liked = ratings >= LIKE_THRESHOLD
    return np.where(liked, ratings, 0.0) if liked.any() else ratings.astype(np.float64)


def user_embedding(item_vectors: np.ndarray, ratings: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Unit-length rating-weighted mean of the liked items (rows of ``item_vectors``).

    With ``rows`` (the rated items' rows, one rating each), ``item_vectors`` is the whole matrix
    and only the liked rows are read: the service's online path embeds a grown history of
    100-700 movies twice per request, and gathering every rated row cost more than the sum."""
    ratings = np.asarray(ratings, dtype=np.float64).ravel()
    if rows is None:
        item_vectors = np.asarray(item_vectors, dtype=np.float32)
        rows = np.arange(len(item_vectors))
        if item_vectors.ndim != 2 or len(item_vectors) != len(ratings):
            raise ValueError(
                f"item_vectors must be (n, d) with one rating per row; got {item_vectors.shape} "
                f"vectors and {len(ratings)} ratings"
            )
    elif len(rows) != len(ratings):
        raise ValueError(f"{len(rows)} rows but {len(ratings)} ratings; give one rating per rated row")
    if len(ratings) == 0:
        raise ValueError("a user embedding needs at least one rated movie")
    if np.any(ratings <= 0) or not np.all(np.isfinite(ratings)):
        raise ValueError("ratings must be positive finite numbers (MovieLens stars)")
    weights = _liked_weights(ratings)
    used = weights > 0  # rows of weight 0 add nothing: gather and widen only the others
    return _unit(weights[used] @ np.asarray(item_vectors[np.asarray(rows)[used]], dtype=np.float64))


def user_embeddings(
    ratings_df: pd.DataFrame, movies_df: pd.DataFrame, item_vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``user_embedding`` for every user in ``ratings_df`` at once.

    ``item_vectors`` is aligned row-for-row with ``movies_df``. Returns the sorted user ids and
    a float32 matrix whose row i is the unit-length embedding of ``user_ids[i]``.
    """
    for column in (USER_COL, ITEM_COL, RATING_COL):
        if column not in ratings_df.columns:
            raise KeyError(f"ratings_df has no {column!r} column (columns: {list(ratings_df.columns)})")
    item_vectors = np.asarray(item_vectors, dtype=np.float32)
    if len(item_vectors) != len(movies_df):
        raise ValueError(
            f"item_vectors has {len(item_vectors)} rows but movies_df has {len(movies_df)}; "
            "embed movies_df with movie_embeddings(movies_df) so they line up"
        )
    if ratings_df.empty:
        raise ValueError("ratings_df is empty; there are no users to embed")
    movie_ids = movies_df[ITEM_COL].to_numpy()
    order = np.argsort(movie_ids, kind="stable")
    rated = ratings_df[ITEM_COL].to_numpy()
    pos = np.searchsorted(movie_ids[order], rated)
    pos = np.clip(pos, 0, len(order) - 1)
    known = movie_ids[order][pos] == rated
    if not known.all():
        unknown = np.unique(rated[~known])[:5]
        raise ValueError(f"ratings mention movie ids missing from movies_df, e.g. {unknown.tolist()}")
    rows = order[pos]
    user_ids, user_rows = np.unique(ratings_df[USER_COL].to_numpy(), return_inverse=True)
    stars = ratings_df[RATING_COL].to_numpy(dtype=np.float64)
    liked = stars >= LIKE_THRESHOLD
    liked_any = np.bincount(user_rows, weights=liked, minlength=len(user_ids)) > 0
    # Users with at least one like count only their likes; others count everything they rated.
    weights = np.where(liked | ~liked_any[user_rows], stars, 0.0)
    matrix = sparse.csr_matrix((weights, (user_rows, rows)), shape=(len(user_ids), len(movies_df)))
    summed = np.asarray(matrix @ item_vectors, dtype=np.float32)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    if np.any(norms == 0):
        bad = user_ids[(norms == 0).ravel()][:5]
        raise ValueError(f"users {bad.tolist()} have no usable ratings (all weights cancel out)")
    return user_ids, (summed / norms).astype(np.float32)


def update_user_embedding(
    current: np.ndarray, item_vector: np.ndarray, weight: float, count: float
) -> np.ndarray:
    """Fold one piece of feedback into a user embedding (see the module docstring).

    ``count`` is the total weight already in ``current`` (for a fresh profile from
    ``user_embedding``, the sum of the liked ratings; 0 for a new user, in which case the
    result is just the item's direction). Returns the new unit-length embedding; the caller
    keeps ``count + weight`` for the next update. A zero weight returns ``current`` unchanged.
    """
    current = np.asarray(current, dtype=np.float32).ravel()
    item_vector = np.asarray(item_vector, dtype=np.float32).ravel()
    if current.shape != item_vector.shape:
        raise ValueError(f"current has shape {current.shape} but item_vector has {item_vector.shape}")
    if count < 0 or not np.isfinite(count) or not np.isfinite(weight):
        raise ValueError(
            f"count must be a finite number >= 0 and weight finite; got count={count}, weight={weight}"
        )
    if weight == 0:
        return current.copy()
    combined = float(count) * current + float(weight) * item_vector
    norm = float(np.linalg.norm(combined))
    if norm < 1e-8:
        # Feedback exactly cancelled the profile: keep the old direction rather than divide by 0.
        return current.copy()
    return (combined / norm).astype(np.float32)
