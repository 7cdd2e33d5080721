"""A stand-in for the RL policy: tests must not train an agent."""

from __future__ import annotations

import numpy as np


class LinearPolicy:
    """A fixed linear scorer over the candidate features (similarity, popularity, recent-genre
    overlap, genre flags): the synthetic world's base policy, reported as a test double."""

    kind = "linear test policy (synthetic world)"
    version = "linear-test"

    def __init__(self, weights: np.ndarray):
        self.weights = np.asarray(weights, dtype=np.float64)

    @classmethod
    def default(cls, catalog) -> LinearPolicy:
        weights = np.zeros(3 + len(catalog.genre_names))
        weights[:3] = (1.0, 0.3, -0.8)  # similar, somewhat popular, not what was just shown
        return cls(weights)

    def score(self, ctx) -> np.ndarray:
        return ctx.features @ self.weights
