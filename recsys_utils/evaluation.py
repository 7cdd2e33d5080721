"""The evaluation protocol of lesson 03, batched over all users, and its statistics.

Protocol (stated once here and in the lesson):

1. Split: the data layer's per-user temporal holdout; each user's latest 20% of ratings are the
   test set, the rest is training data.
2. Candidates: the whole movie catalogue minus the movies the user rated in training (a system
   gains nothing by recommending what the user already saw).
3. Relevant: the held-out movies the user rated >= ``LIKE_THRESHOLD`` (4 stars).
4. Users: those with at least one relevant held-out movie. Users with none cannot distinguish a
   good ranking from a bad one (every metric is 0 or undefined), so they are left out and counted.
5. Metrics at K = ``EVAL_KS`` (5, 10, 20), averaged over users with equal weight.
6. Statistics: per-user paired differences between two systems, with bootstrap confidence
   intervals and sign-flip permutation p-values (Holm-adjusted when many pairs are compared).

Every step runs on matrices of all users at once: scores ``(n_users, n_items)``, one
``argpartition`` for the top K, metric arrays of one value per user.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from . import metrics
from .constants import DEFAULT_SEED, EVAL_KS, ITEM_COL, LIKE_THRESHOLD, RATING_COL, USER_COL
from .fileio import atomic_write_json
from .paths import cache_dir

__all__ = [
    "EvalData",
    "Timing",
    "bootstrap_mean_ci",
    "build_eval_data",
    "evaluate_ranked",
    "holm_adjust",
    "paired_comparison",
    "compare_to_reference",
    "cold_item_view",
    "rank_with_model",
    "recall_curve",
    "side_by_side",
    "select_on_validation",
    "summarise",
    "top_k_from_scores",
]


@dataclass(frozen=True)
class EvalData:
    """Everything the protocol needs, as index-aligned arrays and sparse matrices.

    Rows are users (``user_ids[row]``), columns are catalogue movies (``item_ids[col]``).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix  # training ratings (float32; 0 = not rated)
    heldout: sp.csr_matrix  # held-out ratings (float32; 0 = not held out)
    relevant: sp.csr_matrix  # held-out rating >= like_threshold (bool)
    like_threshold: float

    @property
    def n_users(self) -> int:
        return self.train.shape[0]

    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    @property
    def eval_rows(self) -> np.ndarray:
        """Rows of the users who have at least one relevant held-out movie (protocol step 4)."""
        return np.flatnonzero(metrics.n_relevant(self.relevant) > 0)

    @property
    def item_popularity(self) -> np.ndarray:
        """Share of training users who rated each movie (in [0, 1])."""
        counts = np.asarray((self.train != 0).sum(axis=0)).ravel()
        return counts / max(self.n_users, 1)

    def item_index(self, movie_ids) -> np.ndarray:
        """Column index of each movie id; -1 for ids outside the catalogue."""
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, movie_ids)
        pos = np.clip(pos, 0, self.item_ids.size - 1)
        return np.where(self.item_ids[pos] == movie_ids, pos, -1)

    def user_index(self, user_ids) -> np.ndarray:
        user_ids = np.asarray(user_ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.user_ids, user_ids), 0, self.user_ids.size - 1)
        return np.where(self.user_ids[pos] == user_ids, pos, -1)


def _ratings_matrix(frame: pd.DataFrame, users: np.ndarray, items: np.ndarray, what: str) -> sp.csr_matrix:
    for column in (USER_COL, ITEM_COL, RATING_COL):
        if column not in frame.columns:
            raise KeyError(f"{what} lacks column {column!r}; expected columns {USER_COL}, {ITEM_COL}, {RATING_COL}")
    rows = np.searchsorted(users, frame[USER_COL].to_numpy(np.int64))
    cols = np.searchsorted(items, frame[ITEM_COL].to_numpy(np.int64))
    unknown = (cols >= items.size) | (items[np.minimum(cols, items.size - 1)] != frame[ITEM_COL].to_numpy(np.int64))
    if unknown.any():
        missing = np.unique(frame[ITEM_COL].to_numpy()[unknown])[:5].tolist()
        raise ValueError(f"{what} holds movie ids that are not in the catalogue (e.g. {missing}); pass item_ids covering them")
    values = frame[RATING_COL].to_numpy(np.float32)
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(users.size, items.size), dtype=np.float32)
    if matrix.nnz != len(frame):
        raise ValueError(f"{what} rates some (user, movie) pair twice; deduplicate it first")
    return matrix


def build_eval_data(
    train_ratings: pd.DataFrame,
    test_ratings: pd.DataFrame,
    item_ids: Iterable[int] | None = None,
    like_threshold: float = LIKE_THRESHOLD,
) -> EvalData:
    """Index train/test ratings into aligned sparse matrices.

    ``item_ids`` is the catalogue (default: every movie seen in either set); pass
    ``data.movies.movie_id`` so content retrieval may also recommend movies nobody rated in
    training. Users are those with training ratings: a user without history cannot be ranked
    by any method here, so their held-out ratings are dropped (and counted in the error message
    if that leaves nothing to evaluate).
    """
    if len(train_ratings) == 0:
        raise ValueError("train_ratings is empty; load the splits with recsys_utils.splits.load_splits")
    users = np.unique(train_ratings[USER_COL].to_numpy(np.int64))
    if item_ids is None:
        item_ids = np.union1d(train_ratings[ITEM_COL].to_numpy(np.int64), test_ratings[ITEM_COL].to_numpy(np.int64))
    items = np.unique(np.asarray(list(item_ids) if not isinstance(item_ids, np.ndarray) else item_ids, dtype=np.int64))
    test_known = test_ratings[test_ratings[USER_COL].isin(users)]
    train = _ratings_matrix(train_ratings, users, items, "train_ratings")
    heldout = _ratings_matrix(test_known, users, items, "test_ratings")
    # Compare only the stored ratings: `heldout >= t` on a sparse matrix would also test the
    # implicit zeros (and mark every unrated movie relevant when t <= 0).
    relevant = heldout.copy()
    relevant.data = (relevant.data >= like_threshold).astype(np.float32)
    relevant.eliminate_zeros()
    relevant = relevant.astype(bool)
    if relevant.nnz == 0:
        raise ValueError(
            f"no held-out rating reaches like_threshold={like_threshold}; nothing is relevant, so no metric is defined"
        )
    return EvalData(users, items, train, heldout, relevant, float(like_threshold))


def top_k_from_scores(scores: np.ndarray, exclude, k: int) -> np.ndarray:
    """Top-``k`` column indices per row of ``scores``, best first, skipping ``exclude``d items.

    ``exclude`` is a sparse ``(n_rows, n_items)`` matrix whose non-zeros are forbidden (the
    movies each user already rated). One ``argpartition`` over all rows finds the k best in
    O(n_items) per row; only those k are then sorted. Rows with fewer than k allowed items are
    padded with -1. Ties are broken by the lower column index, so results are deterministic.
    """
    scores = np.array(scores, dtype=np.float32, copy=True)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (users x items), got shape {scores.shape}")
    n_rows, n_items = scores.shape
    if exclude is not None:
        if exclude.shape != scores.shape:
            raise ValueError(f"exclude has shape {exclude.shape} but scores has {scores.shape}; they must align")
        coo = sp.coo_matrix(exclude)
        scores[coo.row, coo.col] = -np.inf
    scores[np.isnan(scores)] = -np.inf
    k_eff = min(k, n_items)
    if k_eff < n_items:
        part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.broadcast_to(np.arange(n_items), (n_rows, n_items)).copy()
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)  # score descending, then column ascending
    ranked = np.take_along_axis(part, order, axis=1)
    ranked[np.take_along_axis(part_scores, order, axis=1) == -np.inf] = -1
    if k_eff < k:
        ranked = np.hstack([ranked, np.full((n_rows, k - k_eff), -1, dtype=ranked.dtype)])
    return ranked.astype(np.int64)


def rank_with_model(model, data: EvalData, rows: np.ndarray | None = None, k: int = max(EVAL_KS),
                    batch_size: int = 2048) -> np.ndarray:
    """Top-k lists from any ``baselines`` model for ``rows`` (default: the evaluated users).

    Users are scored in batches of ``batch_size`` so memory stays at batch x n_items floats.
    """
    rows = data.eval_rows if rows is None else np.asarray(rows, dtype=np.int64)
    out = []
    for start in range(0, rows.size, batch_size):
        chunk = rows[start : start + batch_size]
        out.append(top_k_from_scores(model.score(chunk), data.train[chunk], k))
    return np.vstack(out) if out else np.empty((0, k), dtype=np.int64)


def evaluate_ranked(
    ranked: np.ndarray,
    data: EvalData,
    rows: np.ndarray | None = None,
    ks: Iterable[int] = EVAL_KS,
    item_vectors: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-user metrics: one row per evaluated user, columns like ``ndcg@10``, ``novelty@10``.

    ``ranked`` holds the lists of ``rows`` (default ``data.eval_rows``), as from
    ``rank_with_model``. Intra-list diversity needs ``item_vectors`` (n_items x d).
    """
    rows = data.eval_rows if rows is None else np.asarray(rows, dtype=np.int64)
    ranked = np.asarray(ranked)
    if ranked.shape[0] != rows.size:
        raise ValueError(f"ranked has {ranked.shape[0]} rows but {rows.size} users are evaluated; pass matching rows")
    relevant = data.relevant[rows]
    popularity = data.item_popularity
    columns: dict[str, np.ndarray] = {}
    for k in ks:
        for name, metric in metrics.ACCURACY_METRICS.items():
            columns[f"{name}@{k}"] = metric(ranked, relevant, k)
        columns[f"novelty@{k}"] = metrics.novelty_at_k(ranked, popularity, k)
        columns[f"popularity@{k}"] = metrics.popularity_at_k(ranked, popularity, k)
        if item_vectors is not None:
            columns[f"diversity@{k}"] = metrics.intra_list_diversity(ranked, item_vectors, k)
    frame = pd.DataFrame(columns, index=pd.Index(data.user_ids[rows], name=USER_COL))
    return frame


def summarise(per_user: Mapping[str, pd.DataFrame], ranked: Mapping[str, np.ndarray] | None = None,
              n_items: int | None = None, ks: Iterable[int] = EVAL_KS) -> pd.DataFrame:
    """Mean of every per-user metric for each system (rows = systems), plus coverage@K."""
    table = pd.DataFrame({name: frame.mean(axis=0, skipna=True) for name, frame in per_user.items()}).T
    if ranked is not None and n_items is not None:
        for k in ks:
            table[f"coverage@{k}"] = [metrics.catalogue_coverage(ranked[name], n_items, k) for name in table.index]
    return table


def select_on_validation(train_ratings: pd.DataFrame, candidates: Mapping[str, Callable[[], object]],
                         item_ids=None, metric: str = "ndcg@10", holdout_fraction: float = 0.2,
                         like_threshold: float = LIKE_THRESHOLD, cache: bool = True) -> tuple[str, pd.Series]:
    """Pick hyperparameters without touching the test set.

    The training ratings are split again in time (each user's latest ``holdout_fraction`` become
    validation, ``splits.temporal_holdout``); every candidate (name -> factory of an unfitted
    model) is fitted on the rest and scored on validation. Returns the best name and all scores.
    Each score is cached under ``paths.cache_dir()/validation`` by the data and the model's settings
    (``cache=False`` always refits).
    """
    from .splits import temporal_holdout

    if not candidates:
        raise ValueError("no candidates to select from")
    fit_part, validation = temporal_holdout(train_ratings, holdout_fraction)
    data = build_eval_data(fit_part, validation, item_ids, like_threshold)
    k = int(metric.split("@")[1]) if "@" in metric else max(EVAL_KS)
    data_key = _validation_data_key(fit_part, validation, item_ids, metric, like_threshold) if cache else None
    scores = {}
    for name, make in candidates.items():
        model = make()
        cached = _validation_cache_path(data_key, model) if cache else None
        if cached is not None and cached.exists():
            scores[name] = float(json.loads(cached.read_text())["score"])
            continue
        ranked = rank_with_model(model.fit(data.train), data, k=k)
        scores[name] = metrics.mean_over_users(evaluate_ranked(ranked, data, ks=(k,))[metric])
        if cached is not None:
            atomic_write_json(cached, {"model": repr(model), "metric": metric, "score": scores[name]})
    table = pd.Series(scores, name=f"validation {metric}")
    return str(table.idxmax()), table


# Bump when the validation protocol changes, so that no old score is reused.
VALIDATION_CACHE_VERSION = 1


def _validation_data_key(fit_part: pd.DataFrame, validation: pd.DataFrame, item_ids, metric: str,
                         like_threshold: float) -> str:
    """What a validation score depends on besides the model: the ratings of both parts, the catalogue
    columns and the metric."""
    digest = hashlib.sha256(f"v{VALIDATION_CACHE_VERSION}|{metric}|{like_threshold}".encode())
    for frame in (fit_part, validation):
        for column in (USER_COL, ITEM_COL, RATING_COL):
            digest.update(np.ascontiguousarray(frame[column].to_numpy()).tobytes())
    if item_ids is not None:
        digest.update(np.ascontiguousarray(np.asarray(item_ids, dtype=np.int64)).tobytes())
    return digest.hexdigest()


def _validation_cache_path(data_key: str, model) -> Path | None:
    """One cached score per (data, model settings): an unfitted baseline's dataclass repr lists every
    setting, seed included. Grid searches over the catalogue's item-item models are what a warm run of
    lesson 03 repeated (about a minute on ml-latest-small); an object without a dataclass repr is
    never cached."""
    if not dataclasses.is_dataclass(model):
        return None
    model_key = hashlib.sha256(repr(model).encode()).hexdigest()[:24]
    return cache_dir() / "validation" / f"{data_key[:24]}-{model_key}.json"


def recall_curve(ranked: np.ndarray, data: EvalData, rows: np.ndarray | None = None,
                 max_k: int | None = None) -> np.ndarray:
    """Mean Recall@K for K = 1..max_k (default: the list length), for a recall-at-K plot."""
    rows = data.eval_rows if rows is None else np.asarray(rows, dtype=np.int64)
    max_k = ranked.shape[1] if max_k is None else max_k
    hits = metrics.hits_at_k(ranked, data.relevant[rows], max_k)
    n_rel = metrics.n_relevant(data.relevant[rows]).astype(np.float64)
    keep = n_rel > 0
    return (np.cumsum(hits[keep], axis=1) / n_rel[keep, None]).mean(axis=0)


def cold_item_view(ranked: Mapping[str, np.ndarray], data: EvalData, k: int = 20,
                   max_train_ratings: int = 5, rows: np.ndarray | None = None) -> pd.DataFrame:
    """How each system treats rarely rated ("cold") movies, with at most ``max_train_ratings``.

    ``share_cold_recommended``: share of the top-k slots given to cold movies.
    ``cold_hits_per_1000_users``: relevant held-out cold movies found in the top k, per 1000 users
    (the relevant cold movies are few, so a per-user recall would be mostly undefined).
    ``attrs``: ``n_cold_movies``, ``n_relevant_cold`` (liked held-out user-movie pairs on cold
    movies) and ``n_relevant_cold_movies`` (distinct cold movies among them).
    """
    rows = data.eval_rows if rows is None else np.asarray(rows, dtype=np.int64)
    counts = np.asarray((data.train != 0).sum(axis=0)).ravel()
    cold = counts <= max_train_ratings
    relevant_cold = data.relevant[rows].multiply(cold[None, :]).tocsr()
    # multiply() keeps the non-cold pairs as stored False entries: drop them before counting
    # (counting .nnz without this reported every liked held-out pair as "cold").
    relevant_cold.eliminate_zeros()
    out = {}
    for name, lists in ranked.items():
        top = lists[:, :k]
        shown = top >= 0
        share = float(cold[np.where(shown, top, 0)][shown].mean()) if shown.any() else 0.0
        cold_hits = metrics.hits_at_k(top, relevant_cold, k).sum()
        out[name] = {"share_cold_recommended": share, "cold_hits_per_1000_users": 1000.0 * cold_hits / rows.size}
    table = pd.DataFrame(out).T
    table.attrs["n_cold_movies"] = int(cold.sum())
    table.attrs["n_relevant_cold"] = int(relevant_cold.nnz)  # liked held-out (user, cold movie) pairs
    table.attrs["n_relevant_cold_movies"] = int(np.unique(relevant_cold.indices).size)
    return table


def side_by_side(ranked: Mapping[str, np.ndarray], data: EvalData, movies: pd.DataFrame, user_position: int,
                 k: int = 5, rows: np.ndarray | None = None) -> pd.DataFrame:
    """One user's top-k titles under each system, a check mark on held-out movies they liked."""
    from .constants import TITLE_COL

    rows = data.eval_rows if rows is None else np.asarray(rows, dtype=np.int64)
    titles = movies.set_index(ITEM_COL)[TITLE_COL]
    liked = set(data.relevant[rows[user_position]].indices.tolist())
    table = {}
    for name, lists in ranked.items():
        cells = []
        for col in lists[user_position, :k]:
            if col < 0:
                cells.append("")
                continue
            mark = "✓ " if col in liked else ""
            cells.append(mark + str(titles.get(int(data.item_ids[col]), data.item_ids[col])))
        table[name] = cells
    return pd.DataFrame(table, index=pd.RangeIndex(1, k + 1, name="rank"))


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------


def _finite_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples must align user by user; got shapes {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 2:
        raise ValueError("fewer than two users have a defined value for both systems; nothing to compare")
    return a[keep], b[keep]


def bootstrap_mean_ci(values, confidence: float = 0.95, n_resamples: int = 2000,
                      seed: int = DEFAULT_SEED, method: str = "BCa") -> tuple[float, float, float]:
    """Mean over users and its bootstrap confidence interval (BCa by default, ``scipy.stats.bootstrap``).

    Users are resampled with replacement; NaN users (no relevant item) are left out first.
    Returns ``(mean, low, high)``.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise ValueError("need at least two users with a defined value for a confidence interval")
    if np.ptp(values) == 0:  # every user identical: the interval is that value (BCa would divide by 0)
        return float(values[0]), float(values[0]), float(values[0])
    result = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                             method=method, vectorized=True, rng=np.random.default_rng(seed))
    return float(values.mean()), float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_comparison(a, b, confidence: float = 0.95, n_resamples: int = 2000,
                      seed: int = DEFAULT_SEED) -> dict[str, float]:
    """Is system A better than system B on the same users?

    Works on the per-user differences d_u = a_u - b_u (pairing removes the large
    user-to-user variation that both systems share):

    - ``mean_diff`` = mean(d), with a BCa bootstrap ``ci_low``..``ci_high`` (resampling users);
    - ``p_value``: two-sided sign-flip permutation test of "mean(d) = 0": under the null, each
      user's difference is as likely to be +d_u as -d_u (``scipy.stats.permutation_test``,
      ``permutation_type="samples"``);
    - ``wins`` / ``losses``: users on which A scores higher / lower.
    """
    a, b = _finite_pairs(a, b)
    diff = a - b
    mean, low, high = bootstrap_mean_ci(diff, confidence, n_resamples, seed)

    def mean_difference(x, y, axis):
        return np.mean(x - y, axis=axis)

    if np.all(diff == 0):
        p_value = 1.0
    else:
        test = stats.permutation_test((a, b), mean_difference, permutation_type="samples", vectorized=True,
                                      n_resamples=n_resamples, alternative="two-sided",
                                      rng=np.random.default_rng(seed))
        p_value = float(test.pvalue)
    return {
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "mean_diff": mean,
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
        "wins": int((diff > 0).sum()),
        "losses": int((diff < 0).sum()),
        "n_users": int(diff.size),
    }


def holm_adjust(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (controls the family-wise error rate of many tests)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    m = p.size
    adjusted_sorted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(adjusted_sorted, 1.0)
    return adjusted


def compare_to_reference(per_user: Mapping[str, pd.DataFrame], reference: str, metric: str,
                         alpha: float = 0.05, **kwargs) -> pd.DataFrame:
    """Paired comparison of every system against ``reference`` on ``metric``, Holm-adjusted.

    ``significant`` is True when the Holm-adjusted p-value is below ``alpha`` AND the bootstrap
    interval of the mean difference excludes 0 (both views agree).
    """
    if reference not in per_user:
        raise KeyError(f"reference system {reference!r} not among {sorted(per_user)}")
    rows = []
    ref = per_user[reference][metric]
    for name, frame in per_user.items():
        if name == reference:
            continue
        aligned = frame[metric].reindex(ref.index)
        rows.append({"system": name, "reference": reference, "metric": metric,
                     **paired_comparison(aligned.to_numpy(), ref.to_numpy(), **kwargs)})
    table = pd.DataFrame(rows).set_index("system")
    table["p_holm"] = holm_adjust(table["p_value"].to_numpy())
    excludes_zero = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    table["significant"] = (table["p_holm"] < alpha) & excludes_zero
    return table


# ---------------------------------------------------------------------------------------------
# timing (for the benchmark script and the lesson's "how long did it take" table)
# ---------------------------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    seconds: float
    n_users: int


def timed(name: str, function: Callable[[], np.ndarray], n_users: int) -> tuple[np.ndarray, Timing]:
    start = time.perf_counter()
    result = function()
    return result, Timing(name, time.perf_counter() - start, n_users)
