"""Where the pipeline's candidates come from: one function, ``candidate_source``.

Today the service asks the movie index directly (``InPlaceSearch`` over the index's own vectors
for the embedded store, ``StoreSearch`` through the store's filter language otherwise). When
the retrieval lesson's ``recsys_utils.candidates`` generator lands, ``candidate_source`` is the
one line that switches to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def candidate_source(store, catalog):
    """The search strategy for ``store``: exact in-memory search for the embedded store (same
    results, see ``tests/test_service_api.py``), the store's own query otherwise."""
    return InPlaceSearch(catalog) if getattr(store, "backend", "") == "local" else StoreSearch(store, catalog)


@dataclass(frozen=True)
class SearchFilter:
    """The request's filters; each search strategy translates them (Pinecone syntax or a mask)."""

    genres: tuple[str, ...] = ()  # canonical genre names; a movie matches when it has ANY of them
    year_min: int | None = None
    year_max: int | None = None
    exclude_movie_ids: tuple[int, ...] = ()

    def as_store_filter(self) -> dict | None:
        parts = []
        if self.genres:
            parts.append({"genres": {"$in": list(self.genres)}})
        if self.year_min is not None:
            parts.append({"year": {"$gte": self.year_min}})
        if self.year_max is not None:
            parts.append({"year": {"$lte": self.year_max}})
        if self.exclude_movie_ids:
            parts.append({"movie_id": {"$nin": list(self.exclude_movie_ids)}})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}


class StoreSearch:
    """Ask the vector store (Pinecone or embedded) with its filter language; the excluded movies
    are left out by ``candidates.unseen_top`` (bounded windows, then ``$nin``), the course's one
    seen-movie exclusion, so ``top_k`` stays within Pinecone's 10,000 for any user."""

    def __init__(self, store, catalog):
        self.store, self.catalog = store, catalog

    def search(self, vector: np.ndarray, excluded: np.ndarray, flt: SearchFilter | None, n: int):
        from ..candidates.generator import unseen_top

        query_filter = flt.as_store_filter() if flt is not None else None
        excluded_ids = self.catalog.movie_ids[np.asarray(excluded, dtype=np.int64)]
        ((ids, scores),) = unseen_top(self.store, vector[None, :], [excluded_ids], n, query_filter)
        rows = self.catalog.rows(ids)
        keep = rows >= 0
        return rows[keep], scores[keep].astype(np.float32)


class InPlaceSearch:
    """Exact cosine search over the index's own vectors, held in memory since start-up.

    Used for the embedded store only: that store *is* an exact NumPy search over these same
    vectors, so the results are identical (``tests/test_service_api.py`` compares them), but a
    heavy MovieLens user has rated ~700 movies, and over-fetching that many ids through
    ``query_many`` cost ~1.6 ms per request (string ids, metadata columns) against ~0.1 ms here.
    """

    def __init__(self, catalog):
        self.catalog = catalog
        self.years = np.array([-1 if y is None else y for y in catalog.years], dtype=np.int64)
        self.genre_col = {g: j for j, g in enumerate(catalog.genre_names)}

    def mask(self, flt: SearchFilter) -> np.ndarray:
        keep = np.ones(len(self.catalog), dtype=bool)
        if flt.genres:
            cols = [self.genre_col[g] for g in flt.genres]
            keep &= self.catalog.genres[:, cols].any(axis=1)
        # A movie without a year never passes a year bound (Pinecone: a missing field fails $gte).
        if flt.year_min is not None:
            keep &= (self.years >= 0) & (self.years >= flt.year_min)
        if flt.year_max is not None:
            keep &= (self.years >= 0) & (self.years <= flt.year_max)
        if flt.exclude_movie_ids:
            rows = self.catalog.rows(flt.exclude_movie_ids)
            keep[rows[rows >= 0]] = False
        return keep

    def search(self, vector: np.ndarray, excluded: np.ndarray, flt: SearchFilter | None, n: int):
        norm = float(np.linalg.norm(vector))
        scores = self.catalog.vectors @ (vector / max(norm, 1e-12))
        allowed = np.ones(len(scores), dtype=bool) if flt is None else self.mask(flt)
        allowed[excluded] = False
        candidates = np.flatnonzero(allowed)
        if len(candidates) > n:
            part = np.argpartition(-scores[candidates], n - 1)[:n]
            candidates = candidates[part]
        # Best first; ties by catalogue row (= movie id order), like the store.
        order = np.lexsort((candidates, -scores[candidates]))
        rows = candidates[order]
        return rows, scores[rows].astype(np.float32)
