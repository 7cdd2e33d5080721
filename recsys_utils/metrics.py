"""Ranking metrics for top-K recommendation, computed for all users at once.

One signature for every metric::

    metric(ranked, reference, k) -> numpy array with one value per user

- ``ranked``: int array of shape ``(n_users, L)``, ``L >= k``. Row ``u`` holds the catalogue
  *column indices* recommended to user ``u``, best first. ``-1`` pads a row that has fewer than
  ``L`` recommendations (it never counts as a hit and is ignored by the beyond-accuracy metrics).
- ``reference``: what the list is judged against. For the accuracy metrics it is the
  relevance matrix ``(n_users, n_items)`` (boolean NumPy array or SciPy sparse matrix; row ``u``
  marks the held-out items user ``u`` liked). For the beyond-accuracy metrics it is a property
  of the items: their popularity (novelty, popularity bias), their vectors (diversity) or the
  catalogue size (coverage).
- ``k``: the cut-off; only the first ``k`` columns of ``ranked`` are read.

Users without any relevant item
    Recall, nDCG, MRR, hit rate, precision and average precision return ``NaN`` for a user whose
    relevance row is empty. Such a user cannot tell a good ranking from a bad one (every ranking
    scores 0), so averaging them in would only pull every system towards 0 by the same amount
    and hide real differences. ``mean_over_users`` skips NaN; ``evaluation`` removes these users
    before scoring and reports how many it removed.

Binary relevance throughout: an item is relevant or not (the course's protocol calls a held-out
rating >= ``LIKE_THRESHOLD`` relevant). The formulas match trec_eval's (``P_k``, ``recall_k``,
``ndcg_cut_k``, ``recip_rank`` on the top-k, ``map_cut_k``, ``success_k``); the tests check that
against ``pytrec-eval-terrier``.

Why hand-written rather than a library: pytrec_eval (the oracle in the tests) takes one Python
dict per user, which is about 100x slower than these array operations over all users, and the
course evaluates a dozen systems for every user several times (bootstrap, K curves).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "ACCURACY_METRICS",
    "average_precision_at_k",
    "catalogue_coverage",
    "hit_rate_at_k",
    "hits_at_k",
    "intra_list_diversity",
    "mean_over_users",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty_at_k",
    "popularity_at_k",
    "precision_at_k",
    "recall_at_k",
]


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------


def _check_ranked(ranked, k: int) -> np.ndarray:
    ranked = np.asarray(ranked)
    if ranked.ndim != 2:
        raise ValueError(
            f"ranked must be a 2-D array (users x positions), got shape {ranked.shape}; "
            "wrap a single user's list as ranked[None, :]"
        )
    if not np.issubdtype(ranked.dtype, np.integer):
        raise TypeError(f"ranked must hold integer item indices, got dtype {ranked.dtype}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if ranked.shape[1] < k:
        raise ValueError(f"ranked has only {ranked.shape[1]} positions per user but k={k}; rank more items")
    return ranked[:, :k]


def _check_relevant(relevant, n_users: int):
    if sp.issparse(relevant):
        relevant = sp.csr_array(relevant)
    else:
        relevant = np.asarray(relevant).astype(bool, copy=False)
        if relevant.ndim != 2:
            raise ValueError(f"relevant must be 2-D (users x items), got shape {relevant.shape}")
    if relevant.shape[0] != n_users:
        raise ValueError(f"ranked has {n_users} users (rows) but relevant has {relevant.shape[0]}; align them")
    return relevant


def n_relevant(relevant) -> np.ndarray:
    """Number of relevant items per user (row sums of the relevance matrix)."""
    if sp.issparse(relevant):
        # != 0 builds a new matrix, so explicit zeros are ignored without mutating the input.
        return np.asarray((sp.csr_array(relevant) != 0).sum(axis=1)).ravel().astype(np.int64)
    return np.asarray(relevant, dtype=bool).sum(axis=1).astype(np.int64)


def hits_at_k(ranked, relevant, k: int) -> np.ndarray:
    """Boolean matrix ``(n_users, k)``: is the item at each of the first ``k`` positions relevant?

    ``hits[u, i] = relevant[u, ranked[u, i]]`` (False where ``ranked`` is padded with -1).
    """
    top = _check_ranked(ranked, k)
    relevant = _check_relevant(relevant, top.shape[0])
    n_items = relevant.shape[1]
    if top.size and top.max() >= n_items:
        raise ValueError(f"ranked holds item index {top.max()} but relevant has only {n_items} items")
    valid = top >= 0
    if sp.issparse(relevant):
        # Look up (user, item) pairs as single int64 keys in the sorted key list of the
        # relevance matrix: no densification, one vectorised search for all users.
        coo = relevant.tocoo()
        keep = coo.data != 0
        rel_keys = np.sort(coo.row[keep].astype(np.int64) * n_items + coo.col[keep])
        rows = np.arange(top.shape[0], dtype=np.int64)[:, None]
        keys = rows * n_items + np.where(valid, top, 0)
        pos = np.searchsorted(rel_keys, keys)
        found = pos < rel_keys.size
        found[found] = rel_keys[pos[found]] == keys[found]
        return found & valid
    return np.take_along_axis(relevant, np.where(valid, top, 0), axis=1) & valid


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _nan_where_no_relevant(values: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    values = values.astype(np.float64, copy=False)
    values[n_rel == 0] = np.nan
    return values


# ---------------------------------------------------------------------------------------------
# accuracy metrics: metric(ranked, relevant, k) -> per-user array (NaN = no relevant item)
# ---------------------------------------------------------------------------------------------


def precision_at_k(ranked, relevant, k: int) -> np.ndarray:
    """Precision@K = |top-K ∩ relevant| / K.

    Divides by K even if fewer than K items were recommended (padding counts as a miss), as
    trec_eval's ``P_k`` does, so a system cannot gain by recommending less.
    """
    hits = hits_at_k(ranked, relevant, k)
    return _nan_where_no_relevant(hits.sum(axis=1) / k, n_relevant(relevant))


def recall_at_k(ranked, relevant, k: int) -> np.ndarray:
    """Recall@K = |top-K ∩ relevant| / |relevant|.

    The denominator is all of the user's relevant items (trec_eval's ``recall_k``), so a user
    with more than K relevant items cannot reach 1.
    """
    hits = hits_at_k(ranked, relevant, k)
    n_rel = n_relevant(relevant)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _nan_where_no_relevant(hits.sum(axis=1) / n_rel, n_rel)


def ndcg_at_k(ranked, relevant, k: int) -> np.ndarray:
    """nDCG@K with binary gains (trec_eval's ``ndcg_cut_k``).

    DCG@K = sum_{i=1..K} rel_i / log2(i + 1); IDCG@K = sum_{i=1..min(K, |relevant|)} 1 / log2(i + 1);
    nDCG@K = DCG@K / IDCG@K, in [0, 1]; 1 exactly when the first min(K, |relevant|) positions
    are all relevant.
    """
    hits = hits_at_k(ranked, relevant, k)
    disc = _discounts(k)
    dcg = hits.astype(np.float64) @ disc
    n_rel = n_relevant(relevant)
    ideal_cum = np.concatenate([[0.0], np.cumsum(disc)])
    idcg = ideal_cum[np.minimum(n_rel, k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return _nan_where_no_relevant(dcg / idcg, n_rel)


def mrr_at_k(ranked, relevant, k: int) -> np.ndarray:
    """Reciprocal rank of the first relevant item within the top K: 1 / rank, or 0 if none.

    Averaged over users this is MRR@K (trec_eval's ``recip_rank`` on a list cut at K).
    """
    hits = hits_at_k(ranked, relevant, k)
    first = hits.argmax(axis=1)
    rr = np.where(hits.any(axis=1), 1.0 / (first + 1.0), 0.0)
    return _nan_where_no_relevant(rr, n_relevant(relevant))


def hit_rate_at_k(ranked, relevant, k: int) -> np.ndarray:
    """HitRate@K = 1 if at least one of the top K is relevant, else 0 (trec_eval's ``success_k``)."""
    hits = hits_at_k(ranked, relevant, k)
    return _nan_where_no_relevant(hits.any(axis=1).astype(np.float64), n_relevant(relevant))


def average_precision_at_k(ranked, relevant, k: int) -> np.ndarray:
    """AP@K = (1 / |relevant|) * sum_{i=1..K} Precision@i * rel_i (trec_eval's ``map_cut_k``).

    Averaged over users this is MAP@K.
    """
    hits = hits_at_k(ranked, relevant, k).astype(np.float64)
    precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    n_rel = n_relevant(relevant)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _nan_where_no_relevant((precision_at_i * hits).sum(axis=1) / n_rel, n_rel)


ACCURACY_METRICS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "mrr": mrr_at_k,
    "hit_rate": hit_rate_at_k,
    "map": average_precision_at_k,
}


# ---------------------------------------------------------------------------------------------
# beyond-accuracy metrics: metric(ranked, item property, k)
# ---------------------------------------------------------------------------------------------


def catalogue_coverage(ranked, n_items: int, k: int) -> float:
    """Coverage@K = |union over users of their top K| / n_items, in [0, 1].

    A property of the whole system, so it returns one number, not one per user. Most-popular
    scores about K / n_items; a system that personalises well covers much more.
    """
    top = _check_ranked(ranked, k)
    if n_items < 1:
        raise ValueError(f"n_items must be positive, got {n_items}")
    shown = np.unique(top[top >= 0])
    if shown.size and shown[-1] >= n_items:
        raise ValueError(f"ranked holds item index {shown[-1]} but the catalogue has {n_items} items")
    return float(shown.size / n_items)


def _item_property(top: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values[top] with NaN where top is padding."""
    values = np.asarray(values, dtype=np.float64)
    if top.size and top.max() >= values.shape[0]:
        raise ValueError(f"ranked holds item index {top.max()} but only {values.shape[0]} item values were given")
    out = values[np.where(top >= 0, top, 0)]
    out[top < 0] = np.nan
    return out


def popularity_at_k(ranked, item_popularity, k: int) -> np.ndarray:
    """Average recommendation popularity: mean over the top K of each item's popularity.

    ``item_popularity[j]`` is the share of training users who rated item ``j`` (in [0, 1]).
    Higher = the list leans on blockbusters (popularity bias).
    """
    top = _check_ranked(ranked, k)
    with np.errstate(invalid="ignore"):
        return np.nanmean(_item_property(top, item_popularity), axis=1)


def novelty_at_k(ranked, item_popularity, k: int) -> np.ndarray:
    """Novelty@K = mean over the top K of -log2(popularity(item)) (self-information, in bits).

    ``item_popularity`` as in ``popularity_at_k``. Items nobody rated in training get the
    popularity of one rating among all users, so novelty stays finite. Higher = less obvious.
    """
    top = _check_ranked(ranked, k)
    pop = np.asarray(item_popularity, dtype=np.float64)
    positive = pop[pop > 0]
    floor = positive.min() if positive.size else 1.0
    info = -np.log2(np.maximum(pop, floor))
    with np.errstate(invalid="ignore"):
        return np.nanmean(_item_property(top, info), axis=1)


def intra_list_diversity(ranked, item_vectors, k: int) -> np.ndarray:
    """ILD@K = mean over pairs i < j in the top K of (1 - cosine(v_i, v_j)).

    ``item_vectors`` is ``(n_items, d)`` (e.g. MiniLM embeddings of the titles and genres).
    0 = every item alike; around 1 = unrelated items. Padding positions are left out; a list with
    fewer than two items gets NaN.
    """
    top = _check_ranked(ranked, k)
    vectors = np.asarray(item_vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"item_vectors must be 2-D (items x dims), got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    valid = top >= 0
    if top.size and top.max() >= unit.shape[0]:
        raise ValueError(f"ranked holds item index {top.max()} but only {unit.shape[0]} item vectors were given")
    stacked = unit[np.where(valid, top, 0)] * valid[..., None]  # (users, k, d), padding -> 0 vector
    # sum_{i != j} cos(i, j) = |sum_i v_i|^2 - sum_i |v_i|^2 for unit vectors: O(k d) per user.
    total = stacked.sum(axis=1)
    pair_sum = (np.einsum("ud,ud->u", total, total) - np.einsum("ukd,ukd->u", stacked, stacked)) / 2.0
    n = valid.sum(axis=1).astype(np.float64)
    n_pairs = n * (n - 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        ild = 1.0 - pair_sum / n_pairs
    ild[n < 2] = np.nan
    return ild


def mean_over_users(values) -> float:
    """Mean of a per-user metric, skipping users marked NaN (no relevant item)."""
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).any():
        raise ValueError("no user has a defined value (every user lacks relevant items); check the test split")
    return float(np.nanmean(values))
