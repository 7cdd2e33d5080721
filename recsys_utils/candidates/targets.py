"""Issue 11's target figures for the candidate generator, each with a paired bootstrap interval.

All on lesson 03's protocol (temporal holdout, relevant = held-out rating >= 4, the users with
at least one relevant movie), resampling users with replacement (the same users for both
systems of a comparison, so the comparison is paired):

- **pool recall**: the generator's Recall@P at the RL lesson's pool size P and at 100 against
  the best CF model's full-catalogue ranking; target ratio >= 0.95 (within 5% relative);
- **top-10**: generator minus best CF on nDCG@10; target: the interval's upper end >= 0 (not
  significantly below);
- **cold start**: profiles of 3-5 liked titles (``evaluate.cold_start_profiles``) on their
  later likes, generator over most-popular on nDCG@10; target ratio >= 1.5;
- **text only**: the text index alone (known users' taste profiles) minus most-popular on
  nDCG@10, target >= 0, and its long-tail share of the top 10 against most-popular's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics
from ..constants import DEFAULT_SEED
from ..evaluation import EvalData, paired_comparison
from .evaluate import cold_start_profiles, most_popular_for_profiles, ranked_columns
from .generator import CandidateGenerator

__all__ = ["long_tail_mask", "paired_ratio", "generator_targets"]


def paired_ratio(a, b, n_resamples: int = 2000, seed: int = DEFAULT_SEED,
                 confidence: float = 0.95) -> dict[str, float]:
    """mean(a) / mean(b) over the same users, with a percentile bootstrap interval over users."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 2 or b.sum() == 0:
        raise ValueError("need at least two users and a non-zero reference mean for a ratio")
    rng = np.random.default_rng(seed)
    ratios = np.empty(n_resamples)
    for start in range(0, n_resamples, 500):  # 500 resamples x users at a time bounds memory
        idx = rng.integers(0, a.size, size=(min(500, n_resamples - start), a.size))
        ratios[start : start + idx.shape[0]] = a[idx].mean(axis=1) / np.maximum(b[idx].mean(axis=1), 1e-300)
    tail = (1 - confidence) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return {"ratio": float(a.mean() / b.mean()), "ci_low": float(low), "ci_high": float(high),
            "mean_a": float(a.mean()), "mean_b": float(b.mean()), "n_users": int(a.size)}


def long_tail_mask(data: EvalData, head_share: float = 0.5) -> np.ndarray:
    """Movies outside the short head: the most-rated movies that together hold ``head_share`` of
    the training ratings are the head; everything else (including never-rated movies) is tail."""
    counts = np.asarray((data.train != 0).sum(axis=0)).ravel().astype(np.float64)
    order = np.argsort(-counts, kind="stable")
    cumulative = np.cumsum(counts[order]) / max(counts.sum(), 1.0)
    n_head = int(np.searchsorted(cumulative, head_share) + 1)
    tail = np.ones(data.n_items, dtype=bool)
    tail[order[:n_head]] = False
    return tail


def _tail_share(ranked: np.ndarray, tail: np.ndarray, k: int) -> np.ndarray:
    top = ranked[:, :k]
    shown = top >= 0
    return np.where(shown, tail[np.where(shown, top, 0)], False).sum(axis=1) / np.maximum(shown.sum(axis=1), 1)


def generator_targets(gen: CandidateGenerator, data: EvalData, train_ratings: pd.DataFrame, best_cf_ranked: np.ndarray,
                      popular_ranked: np.ndarray, pool_size: int, rows: np.ndarray | None = None,
                      n_resamples: int = 2000, seed: int = DEFAULT_SEED) -> dict:
    """Every target figure (see the module docstring) and the per-user arrays behind them.

    ``best_cf_ranked``: the best CF model's full-catalogue top-100 for ``rows``;
    ``popular_ranked``: most-popular's top-10 (seen movies excluded) for ``rows``.
    """
    rows = data.eval_rows if rows is None else np.asarray(rows, dtype=np.int64)
    relevant = data.relevant[rows]
    depth = max(100, pool_size)
    users = data.user_ids[rows]
    gen_ranked = ranked_columns(gen.for_users(users, depth), data.item_ids, depth)
    out: dict = {"pool_size": int(pool_size), "n_users": int(rows.size), "text_weight": gen.text_weight,
                 "cold_text_weight": gen.cold_text_weight}
    per_user = {}
    for p in sorted({pool_size, 100}):
        g = metrics.recall_at_k(gen_ranked, relevant, p)
        c = metrics.recall_at_k(best_cf_ranked, relevant, p)
        out[f"pool_recall@{p}"] = paired_ratio(g, c, n_resamples, seed)
        per_user[f"generator recall@{p}"], per_user[f"best_cf recall@{p}"] = g, c
    g10 = metrics.ndcg_at_k(gen_ranked, relevant, 10)
    c10 = metrics.ndcg_at_k(best_cf_ranked, relevant, 10)
    out["ndcg@10_vs_best_cf"] = paired_comparison(g10, c10, n_resamples=n_resamples, seed=seed)
    per_user["generator ndcg@10"], per_user["best_cf ndcg@10"] = g10, c10

    # text only: the text index alone for the same known users
    text_ranked = ranked_columns(gen.for_users(users, 10, text_weight=1.0), data.item_ids, 10)
    t10 = metrics.ndcg_at_k(text_ranked, relevant, 10)
    p10 = metrics.ndcg_at_k(popular_ranked, relevant, 10)
    out["text_only_ndcg@10_vs_most_popular"] = paired_comparison(t10, p10, n_resamples=n_resamples, seed=seed)
    tail = long_tail_mask(data)
    out["long_tail_share@10"] = {"text_only": float(_tail_share(text_ranked, tail, 10).mean()),
                                 "most_popular": float(_tail_share(popular_ranked, tail, 10).mean()),
                                 "generator": float(_tail_share(gen_ranked, tail, 10).mean()),
                                 "best_cf": float(_tail_share(best_cf_ranked, tail, 10).mean()),
                                 "tail_movies": int(tail.sum())}
    per_user["text_only ndcg@10"], per_user["most_popular ndcg@10"] = t10, p10

    # cold start: 3-5 liked titles per user, later likes relevant
    profiles = cold_start_profiles(train_ratings, users, seed=seed)
    keep = np.isin(users, np.fromiter(profiles, dtype=np.int64))
    liked = [profiles[int(u)] for u in users[keep]]
    cold = ranked_columns([gen.for_profile(films, k=10) for films in liked], data.item_ids, 10)
    popular = most_popular_for_profiles(np.asarray((data.train != 0).sum(axis=0)).ravel(), data.item_ids, liked, 10)
    cold_rel = relevant[np.flatnonzero(keep)]
    cg, cp = metrics.ndcg_at_k(cold, cold_rel, 10), metrics.ndcg_at_k(popular, cold_rel, 10)
    out["cold_start_ndcg@10_ratio_to_most_popular"] = paired_ratio(cg, cp, n_resamples, seed)
    out["cold_start_hit_rate@10"] = {"generator": float(metrics.hit_rate_at_k(cold, cold_rel, 10).mean()),
                                     "most_popular": float(metrics.hit_rate_at_k(popular, cold_rel, 10).mean())}
    out["cold_start_users"] = int(keep.sum())
    out["met"] = {
        **{f"pool_recall@{p}": out[f"pool_recall@{p}"]["ratio"] >= 0.95 for p in sorted({pool_size, 100})},
        "ndcg@10_not_below_best_cf": out["ndcg@10_vs_best_cf"]["ci_high"] >= 0,
        "cold_start_1.5x_most_popular": out["cold_start_ndcg@10_ratio_to_most_popular"]["ratio"] >= 1.5,
        "text_only_at_least_most_popular": out["text_only_ndcg@10_vs_most_popular"]["mean_diff"] >= 0,
        "text_only_more_long_tail": out["long_tail_share@10"]["text_only"] > out["long_tail_share@10"]["most_popular"],
    }
    out["ranked"] = {"generator": gen_ranked, "text_only": text_ranked}
    out["per_user"] = per_user
    out["cold_start_per_user"] = {"generator": cg, "most_popular": cp}
    return out
