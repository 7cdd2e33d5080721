"""Per-user candidate pools and collaborative features from the course's one candidate generator.

The agent does not choose among all movies: like a production two-stage recommender, retrieval
proposes a pool and the policy re-ranks it. The pool is exactly what the service starts from,
``recsys_utils.candidates`` (lesson 03): ALS and text retrieval fused, each user's training
ratings excluded by the generator itself (``unseen_top``). The generator is fitted on training
ratings only, so neither the pools nor the collaborative features below carry held-out ratings.

Collaborative features per candidate, identical for every learner and the greedy:

- ``cf_score``: the generator's own ALS score, user factor . item factor (an implicit-feedback
  preference, about 0 to 1), clipped to [-1, 1];
- the movie's ALS item vector (``generator.item_vectors("cf")``, 64-128 numbers) reduced by PCA
  to ``cf_dim`` coordinates. Why reduced: the per-candidate block enters the shared scorer and the
  greedy's boosted trees for each of the K candidates, and their cost grows with its width; the
  full-width dot product is already in ``cf_score``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CF_DIM = 8


@dataclass
class CandidatePools:
    """(n, P) pools in the generator's order, best first, with the generator's ALS score of each."""

    movie_ids: np.ndarray  # (n, P) int64
    cf_scores: np.ndarray  # (n, P) float32, clipped to [-1, 1]


def generator_pools(generator, user_ids: np.ndarray, pool_size: int) -> CandidatePools:
    """The generator's top-``pool_size`` unseen movies for each known user (its fused order)."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    lists = generator.for_users(user_ids, pool_size)
    short = [int(u) for u, c in zip(user_ids, lists, strict=True) if len(c) < pool_size]
    if short:
        raise ValueError(f"the generator returned fewer than pool_size={pool_size} unseen movies for users "
                         f"{short[:5]}; lower pool_size or the number of steps/candidates")
    ids = np.stack([c.movie_ids[:pool_size] for c in lists])
    rows = np.searchsorted(generator.user_ids, user_ids)
    users = generator.cf.user_factors[rows]  # (n, f): fitted on training ratings only
    items = generator.item_vectors("cf")[np.searchsorted(generator.movie_ids, ids)]  # (n, P, f)
    scores = np.clip(np.einsum("nf,npf->np", users, items), -1.0, 1.0).astype(np.float32)
    return CandidatePools(ids, scores)


def cf_item_features(generator, dim: int = CF_DIM) -> np.ndarray:
    """(m, dim) float32 in [-1, 1], aligned with ``generator.movie_ids``: the ALS item vectors
    reduced by PCA (fitted on the movies the ALS knows) and scaled by three standard deviations;
    zero rows for movies nobody rated in training (the ALS has no vector for them)."""
    from .features import TasteProjection

    factors = np.asarray(generator.item_vectors("cf"), dtype=np.float32)
    known = np.any(factors != 0, axis=1)
    out = np.zeros((len(factors), dim), dtype=np.float32)
    if known.sum() > dim:
        out[known] = TasteProjection.fit(factors[known], dim).transform(factors[known])
    return out
