"""Collaborative-filtering baselines that the retrieval strategies of lesson 03 are measured against.

Every baseline has the same two-step interface::

    model = EASE(l2=500.0).fit(train)          # train: (n_users, n_items) sparse interactions
    scores = model.score(user_rows)            # dense float32 (len(user_rows), n_items)

``score`` returns one score per catalogue item for a batch of users at once; turning scores into
top-K lists (and removing movies the user already rated) is ``evaluation.top_k_from_scores``'s
job, shared by every model. Interactions are treated as implicit feedback: any rating counts as
"the user watched it" (value 1), the usual setting for top-K recommendation.

- ``RandomRecommender``: uniform random scores (the floor every learned model must beat).
- ``MostPopular``: how many training users rated each movie (the same list for everyone).
- ``ItemKNN``: cosine item-item similarity, top neighbours kept (Sarwar et al. 2001).
- ``ImplicitMF``: ALS (Hu, Koren & Volinsky 2008) or BPR (Rendle et al. 2009) matrix
  factorisation from the well-kept ``implicit`` library (C++/Cython; far faster than NumPy SGD).
- ``EASE``: closed-form linear item-item autoencoder (Steck 2019), 10 lines of NumPy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .constants import DEFAULT_SEED

__all__ = [
    "EASE",
    "ImplicitMF",
    "ItemKNN",
    "MostPopular",
    "RandomRecommender",
    "Recommender",
    "available_cpus",
]


KNN_BLOCK_BYTES = 32 << 20  # item-kNN builds its similarity in column blocks of this size


def available_cpus() -> int:
    """CPUs this process may use (respects container / taskset limits, unlike os.cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def _binary_csr(interactions) -> sp.csr_matrix:
    if not sp.issparse(interactions):
        raise TypeError(
            f"interactions must be a SciPy sparse matrix (users x items), got {type(interactions).__name__}; "
            "build it with evaluation.build_eval_data"
        )
    matrix = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
    matrix.data = (matrix.data != 0).astype(np.float32)
    matrix.eliminate_zeros()
    if matrix.nnz == 0:
        raise ValueError("interactions are empty: there is nothing to learn from")
    return matrix


class Recommender:
    """Base class: ``fit`` stores the binary interaction matrix, ``score`` ranks every item."""

    name = "recommender"

    def fit(self, interactions) -> Recommender:
        self.interactions_ = _binary_csr(interactions)
        self._fit(self.interactions_)
        return self

    def _fit(self, interactions: sp.csr_matrix) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def score(self, user_rows) -> np.ndarray:
        """Scores ``(len(user_rows), n_items)``; higher = recommend first."""
        if not hasattr(self, "interactions_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call .fit(train) first")
        rows = np.asarray(user_rows, dtype=np.int64)
        n_users = self.interactions_.shape[0]
        if rows.size and (rows.min() < 0 or rows.max() >= n_users):
            raise IndexError(f"user rows must lie in [0, {n_users}); got {rows.min()}..{rows.max()}")
        return np.asarray(self._score(rows), dtype=np.float32)

    def _score(self, rows: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass
class RandomRecommender(Recommender):
    seed: int = DEFAULT_SEED
    name: str = field(default="random", init=False)

    def _fit(self, interactions):
        self.n_items_ = interactions.shape[1]

    def _score(self, rows):
        # One random stream per (seed, user row): a user's list does not depend on which batch it
        # is scored in, and nothing of size users x items is ever stored (ml-25m: 10^10 cells).
        out = np.empty((rows.size, self.n_items_), dtype=np.float32)
        for i, row in enumerate(rows.tolist()):
            out[i] = np.random.default_rng([self.seed, row]).random(self.n_items_, dtype=np.float32)
        return out


@dataclass
class MostPopular(Recommender):
    name: str = field(default="most_popular", init=False)

    def _fit(self, interactions):
        self.item_counts_ = np.asarray(interactions.sum(axis=0)).ravel().astype(np.float32)

    def _score(self, rows):
        return np.broadcast_to(self.item_counts_, (rows.size, self.item_counts_.size)).copy()


@dataclass
class ItemKNN(Recommender):
    """score(u, j) = sum over the user's items i of sim(i, j), keeping each item's top neighbours.

    sim is cosine between item columns with an optional shrinkage term
    (sim = co-count / (|i| |j| + shrink)) that damps similarities computed from few users.
    """

    n_neighbours: int = 100
    shrink: float = 10.0
    name: str = field(default="item_knn", init=False)

    def _fit(self, interactions):
        if self.n_neighbours < 1:
            raise ValueError(f"n_neighbours must be >= 1, got {self.n_neighbours}")
        co_counts = (interactions.T @ interactions).tocsc().astype(np.float32)
        norms = np.sqrt(co_counts.diagonal())
        n_items = co_counts.shape[0]
        keep = min(self.n_neighbours, n_items)
        # Column blocks of at most ~32 MB: the dense n_items x n_items similarity (750 MB for
        # ml-latest-small in float64) is never built, only each block's top neighbours are kept.
        block = max(1, KNN_BLOCK_BYTES // (4 * max(n_items, 1)))
        data, indices, indptr = [], [], [0]
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            sim = co_counts[:, start:stop].toarray()
            sim /= np.outer(norms, norms[start:stop]) + self.shrink + 1e-9
            sim[np.arange(start, stop), np.arange(stop - start)] = 0.0
            if keep < n_items:
                # Keep the strongest neighbours of each target item j (column), zero the rest.
                top = np.argpartition(-sim, keep - 1, axis=0)[:keep, :]
            else:
                top = np.broadcast_to(np.arange(n_items)[:, None], sim.shape)
            top = np.sort(top, axis=0)
            values = np.take_along_axis(sim, top, axis=0)
            for j in range(stop - start):
                nonzero = values[:, j] != 0
                indices.append(top[nonzero, j])
                data.append(values[nonzero, j])
                indptr.append(indptr[-1] + int(nonzero.sum()))
        similarity = sp.csc_matrix((np.concatenate(data) if data else np.empty(0, np.float32),
                                    np.concatenate(indices) if indices else np.empty(0, np.int64), indptr),
                                   shape=(n_items, n_items))
        self.similarity_ = similarity.tocsr()

    def _score(self, rows):
        return (self.interactions_[rows] @ self.similarity_).toarray()


@dataclass
class EASE(Recommender):
    """Embarrassingly Shallow AutoEncoder: B = argmin ||X - XB||² + l2 ||B||², diag(B) = 0.

    Closed form: P = (XᵀX + l2·I)⁻¹, B = -P / diag(P) (column-wise), diag(B) = 0; scores = X B.
    One dense n x n inverse (cubic in n): 0.1 s for MovieLens-100k's 1,682 movies. n is the number
    of movies with training ratings (a never-rated movie's column of B is 0 anyway), capped at
    ``max_items`` most-rated ones when given: the cost is then bounded whatever the catalogue's
    size, and the movies left out (the rarest) score -inf, i.e. EASE never recommends them.
    """

    l2: float = 500.0
    max_items: int | None = None
    name: str = field(default="ease", init=False)

    def _fit(self, interactions):
        from scipy.linalg import lapack

        if self.l2 <= 0:
            raise ValueError(f"l2 must be positive, got {self.l2}")
        # float32 and a Cholesky inverse in place (XᵀX + l2·I is symmetric positive definite):
        # half the memory of float64 and about half the flops of a general inverse; one n x n
        # matrix is alive at a time (ml-latest-small: 380 MB instead of 750 MB x 3).
        counts = np.asarray(interactions.sum(axis=0)).ravel()
        kept = np.flatnonzero(counts > 0)
        if self.max_items is not None and kept.size > self.max_items:
            kept = np.sort(np.argsort(-counts, kind="stable")[: self.max_items])
        self.kept_ = kept
        sub = interactions[:, kept]
        gram = (sub.T @ sub).toarray().astype(np.float32)
        gram[np.diag_indices_from(gram)] += self.l2
        factor, info = lapack.spotrf(gram, lower=True, overwrite_a=True, clean=False)
        if info != 0:
            raise np.linalg.LinAlgError(f"EASE: XᵀX + l2·I is not positive definite (LAPACK info {info}); raise l2")
        precision, info = lapack.spotri(factor, lower=True, overwrite_c=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"EASE: inverse failed (LAPACK info {info})")
        lower = np.tril(precision)
        precision = lower + np.tril(lower, -1).T
        del lower
        diagonal = np.diag(precision).copy()
        precision /= -diagonal[None, :]
        np.fill_diagonal(precision, 0.0)
        self.weights_ = precision
        self.n_items_ = interactions.shape[1]

    def _score(self, rows):
        out = np.full((rows.size, self.n_items_), -np.inf, dtype=np.float32)
        out[:, self.kept_] = self.interactions_[rows][:, self.kept_] @ self.weights_
        return out


@dataclass
class ImplicitMF(Recommender):
    """Matrix factorisation from ``implicit``: ``kind="als"`` or ``kind="bpr"``.

    score(u, j) = user_factors[u] · item_factors[j] (BPR's item bias rides in the last factor,
    whose user side implicit fixes at 1). ``num_threads=None`` uses every CPU this process may
    use. BPR with more than one thread updates factors in parallel (Hogwild), so runs with the
    same seed can differ in the last digits; ALS is deterministic for a seed.
    """

    kind: str = "als"
    factors: int = 64
    iterations: int = 15
    regularization: float = 0.01
    learning_rate: float = 0.01
    alpha: float = 1.0
    seed: int = DEFAULT_SEED
    num_threads: int | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.kind}"

    def _fit(self, interactions):
        import implicit.cpu.als  # noqa: F401  (loaded first: the limit below covers only BLAS libraries already loaded)
        from threadpoolctl import threadpool_limits

        # implicit parallelises itself; a multithreaded BLAS underneath would oversubscribe the
        # CPUs (implicit warns about exactly this), so BLAS gets one thread while it builds and trains.
        with threadpool_limits(limits=1, user_api="blas"):
            model = self._build(self.num_threads or available_cpus())
            model.fit(interactions, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _build(self, threads: int):
        if self.kind == "als":
            from implicit.cpu.als import AlternatingLeastSquares

            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                num_threads=threads,
                random_state=self.seed,
            )
        elif self.kind == "bpr":
            from implicit.cpu.bpr import BayesianPersonalizedRanking

            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                num_threads=threads,
                random_state=self.seed,
            )
        else:
            raise ValueError(f"kind must be 'als' or 'bpr', got {self.kind!r}")
        return model

    def _score(self, rows):
        return self.user_factors_[rows] @ self.item_factors_.T
