"""Collaborative item vectors for the index: ALS factors from training ratings only.

Why ALS factors (``implicit``) and not an EASE-derived embedding: a user's ALS factor is a
query vector whose dot product with the item factors *is* the model's score, so a
``dotproduct`` index ranks exactly like the model, at any catalogue size (64 floats per movie).
EASE's scores x_u B need the n x n matrix B (or a lossy low-rank copy of it) and a dense
n x n inverse to fit, which grows with the cube of the catalogue; the lesson's validation
table shows how far EASE and ALS are apart in quality (``CFVectors.validation``).

Cold start (a profile of liked movies, no user row) folds the liked movies into the same
space with ALS's own user step (Hu, Koren & Volinsky 2008, eq. 4, in implicit's convention:
confidence c = ``alpha`` for a liked movie, 1 - its preference 0 elsewhere):

    u = (YᵀY + λI + (c - 1) Σ_{i∈liked} y_i y_iᵀ)⁻¹ · c Σ_{i∈liked} y_i

which is exactly what ALS computes for a training user with those interactions. With the
fitted ``alpha = 1`` (the choice on both course datasets) the middle term vanishes and the fold-in
is linear, ``u = (YᵀY + λI)⁻¹ Σ y_i``: the inverse is computed once and each fold-in is a sum and a
matrix-vector product. Measured in the service's online path (a known user with feedback folds
in ~100 rated movies, twice per request: the generator's query and the policy's state), the
solve path cost 0.2-0.3 ms per fold-in; ``tests/test_candidates.py`` holds the two paths equal.

**Neighbours of the liked titles** (``neighbour_query``): the same factors in a ``cosine``
index of their own; the query ``Σ_{i∈liked} y_i / ‖y_i‖`` ranks every movie j by
``Σ_{i∈liked} cos(y_i, y_j)``, the summed item-to-item similarity to the liked titles. Why
both: a fold-in of a single title, ``u ∝ (YᵀY + λI)⁻¹ y_i``, ranks by dot products, which reward
the long factors of much-rated movies (on ml-latest-small the fold-in of Inception ranks The Dark
Knight, The Matrix, Fight Club, The Shawshank Redemption first; its cosine neighbours are The
Dark Knight, The Dark Knight Rises, Avatar, Inglourious Basterds), while the cosine neighbours
are the films whose factors point the same way: rated by the same people as that title. How
much each counts is chosen on validation (``build.select_fusion``; figures in the generator
module's docstring).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..baselines import ImplicitMF

__all__ = ["CFVectors", "fit_cf_vectors"]


@dataclass
class CFVectors:
    """ALS factors aligned with the generator's catalogue (rows of ``item_factors``)."""

    item_factors: np.ndarray  # (n_items, f) float32; all-zero for movies nobody rated in training
    user_factors: np.ndarray  # (n_users, f) float32, rows aligned with ``user_ids``
    user_ids: np.ndarray  # (n_users,) int64 sorted
    regularization: float
    alpha: float
    params: dict = field(default_factory=dict)
    _gram: np.ndarray | None = field(default=None, repr=False)
    _gram_inverse: np.ndarray | None = field(default=None, repr=False)
    _unit: np.ndarray | None = field(default=None, repr=False)

    @property
    def dimension(self) -> int:
        return int(self.item_factors.shape[1])

    @property
    def unit_item_factors(self) -> np.ndarray:
        """``item_factors`` scaled to unit length (all-zero rows stay zero): the cosine index's view."""
        if self._unit is None:
            norms = np.linalg.norm(self.item_factors, axis=1, keepdims=True)
            self._unit = np.where(norms > 0, self.item_factors / np.maximum(norms, 1e-30), 0.0).astype(np.float32)
        return self._unit

    def neighbour_query(self, item_rows) -> np.ndarray:
        """``Σ y_i / ‖y_i‖`` over the liked rows: the cosine index's query for their neighbours."""
        rows = np.unique(np.asarray(item_rows, dtype=np.int64))
        return self.unit_item_factors[rows].sum(axis=0).astype(np.float32)

    @property
    def known_items(self) -> np.ndarray:
        """Rows with a non-zero factor: the movies the CF index holds."""
        return np.flatnonzero(np.any(self.item_factors != 0, axis=1))

    def fold_in(self, item_rows) -> np.ndarray:
        """The ALS user vector of someone who liked ``item_rows`` (see the module docstring)."""
        rows = np.unique(np.asarray(item_rows, dtype=np.int64))
        if self._gram is None:
            factors = self.item_factors.astype(np.float64)
            self._gram = factors.T @ factors + self.regularization * np.eye(self.dimension)
        liked = self.item_factors[rows].astype(np.float64)
        if self.alpha == 1.0:  # linear in the liked set (module docstring)
            if self._gram_inverse is None:
                self._gram_inverse = np.linalg.inv(self._gram)
            return (self._gram_inverse @ liked.sum(axis=0)).astype(np.float32)
        a = self._gram + (self.alpha - 1.0) * liked.T @ liked
        b = self.alpha * liked.sum(axis=0)
        # A 128 x 128 solve is microseconds on one thread; a multithreaded BLAS on a busy machine
        # spends a hundred times that waking its threads (measured 0.22 s per call under load).
        with _blas_controller().limit(limits=1, user_api="blas"):
            return np.linalg.solve(a, b).astype(np.float32)


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # finds the BLAS libraries once (10 ms), not per request


def fit_cf_vectors(train: sp.csr_matrix, user_ids: np.ndarray, factors: int = 64, regularization: float = 1.0,
                   alpha: float = 1.0, iterations: int = 15, seed: int = 42) -> CFVectors:
    """Fit ALS (``baselines.ImplicitMF``) on a users x items training matrix."""
    model = ImplicitMF("als", factors=factors, regularization=regularization, alpha=alpha, iterations=iterations,
                       seed=seed).fit(train)
    items = model.item_factors_.copy()
    # A movie nobody rated gets an all-zero factor from ALS's item step (nothing to fit); keep it
    # exactly zero so "not in the CF index" and "CF score 0" agree.
    unrated = np.asarray((model.interactions_ != 0).sum(axis=0)).ravel() == 0
    items[unrated] = 0.0
    params = {"factors": factors, "regularization": regularization, "alpha": alpha, "iterations": iterations, "seed": seed}
    return CFVectors(items, model.user_factors_.copy(), np.asarray(user_ids, dtype=np.int64), float(regularization),
                     float(alpha), params)
