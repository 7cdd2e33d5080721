"""Checks for lesson 03's exercises (``check("03.k", answer, **context)``)."""

from __future__ import annotations

import numpy as np

from .exercises import exercise


@exercise("03.1", hint="DCG = sum over hits of 1 / log2(rank + 1); divide by the DCG of a perfect list "
                       "(min(k, number of relevant) hits at the top).")
def ndcg_by_hand(answer, ranked, relevant, k=5):
    from ..metrics import ndcg_at_k

    expected = float(ndcg_at_k(np.asarray([ranked]), np.isin(np.arange(max(ranked) + 1), list(relevant))[None, :], k)[0])
    if not np.isclose(float(answer), expected, atol=1e-6):
        return f"nDCG@{k} is {expected:.4f} for this list, your answer is {float(answer):.4f}"
    return None


@exercise("03.2", hint="Each list gives a movie 1 / (60 + rank); add a movie's shares over the lists, "
                       "then sort by the sum, largest first (ties: lower id first).")
def rrf_by_hand(answer, lists, rrf_k=60):
    scores: dict[int, float] = {}
    for ranked in lists:
        for rank, movie in enumerate(ranked, start=1):
            scores[movie] = scores.get(movie, 0.0) + 1.0 / (rrf_k + rank)
    expected = sorted(scores, key=lambda m: (-scores[m], m))
    if [int(m) for m in answer] != expected:
        return f"the fused order starts {expected[:3]}, yours starts {[int(m) for m in answer][:3]}"
    return None


@exercise("03.3", hint="evaluation.paired_comparison(a, b) gives the interval of the mean difference; "
                       "significant means the interval excludes 0 and the p-value is below 0.05.")
def paired_verdict(answer, a, b, n_resamples=1000, seed=42):
    from ..evaluation import paired_comparison

    result = paired_comparison(np.asarray(a), np.asarray(b), n_resamples=n_resamples, seed=seed)
    significant = (result["p_value"] < 0.05) and (result["ci_low"] > 0 or result["ci_high"] < 0)
    if bool(answer) != significant:
        return (f"the interval is {result['ci_low']:+.4f} to {result['ci_high']:+.4f} (p = {result['p_value']:.3g}), "
                f"so the difference {'is' if significant else 'is not'} significant")
    return None


_SAMPLES = [
    {"movie_id": 1, "genres": ["Sci-Fi"], "year": 2010},
    {"movie_id": 2, "genres": ["Thriller", "Drama"], "year": 2004},
    {"movie_id": 3, "genres": ["Sci-Fi"], "year": 1999},
    {"movie_id": 4, "genres": ["Comedy"], "year": 2012},
    {"movie_id": 5, "genres": ["Thriller"], "year": 2000},
    {"movie_id": 6, "genres": ["Sci-Fi"]},
]


@exercise("03.4", hint="Combine {'genres': {'$in': [...]}}, {'year': {'$gte': ...}} and "
                       "{'movie_id': {'$nin': [...]}} in one dict (or with $and).")
def filter_for_store(answer):
    from ..vectorstore.filters import MetadataColumns, filter_mask

    mask = filter_mask(answer, MetadataColumns(_SAMPLES))
    got = [m["movie_id"] for m, keep in zip(_SAMPLES, mask, strict=True) if keep]
    expected = [2, 5]  # Sci-Fi or Thriller, from 2000 on, not movie 1
    if got != expected:
        return f"on six sample movies your filter keeps ids {got}; Sci-Fi or Thriller from 2000 on without movie 1 keeps {expected}"
    return None
