"""The movie catalogue: one type for every package that needs ids, titles, genres and popularity.

``Catalog`` holds row-aligned arrays sorted by movie id: ``movie_ids`` (int64), ``genres`` (a
multi-hot float32 matrix over ``genre_names``), ``popularity`` (log(1 + #ratings) scaled to
[0, 1]), and optionally ``item_features``, ``titles`` and ``years``. The first five fields are
``rl.world.Catalog``'s, in its order, so ``rl`` can use this type unchanged. ``positions(ids)`` maps ids to rows and raises
``KeyError`` for unknown ids; ``row(id)`` / ``rows(ids)`` are the forgiving variants (None / -1).

The RL environment (``rl.world``) and the service (``service.artifacts``) both build on it.
Movies without ratings are part of the catalogue: their popularity is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .constants import GENRES_COL, ITEM_COL, TITLE_COL, YEAR_COL
from .data.titles import TitleIndex


@dataclass
class Catalog:
    movie_ids: np.ndarray  # (m,) int64, sorted
    genres: np.ndarray  # (m, G) float32 multi-hot
    genre_names: list[str]
    popularity: np.ndarray  # (m,) float32 in [0, 1]
    # (m, F) float32: per-movie features an agent sees (rl: the collaborative embedding, zero rows
    # for movies without training ratings); None: no item features (F = 0).
    item_features: np.ndarray | None = None
    titles: list[str] | None = None
    years: list[int | None] | None = None
    _row: dict[int, int] = field(default_factory=dict, repr=False, compare=False)
    _title_index: TitleIndex | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.movie_ids = np.asarray(self.movie_ids, dtype=np.int64)
        if len(self.movie_ids) > 1 and not np.all(np.diff(self.movie_ids) > 0):
            raise ValueError("Catalog.movie_ids must be sorted and unique")
        self._row = {int(m): i for i, m in enumerate(self.movie_ids)}

    @property
    def item_feature_dim(self) -> int:
        return 0 if self.item_features is None else int(self.item_features.shape[1])

    def __len__(self) -> int:
        return len(self.movie_ids)

    def positions(self, movie_ids) -> np.ndarray:
        ids = np.asarray(movie_ids, dtype=np.int64)
        if len(self.movie_ids) == 0:
            if ids.size:
                raise KeyError(f"movie ids {ids.ravel()[:5].tolist()} are not in the (empty) catalogue")
            return ids
        pos = np.clip(np.searchsorted(self.movie_ids, ids), 0, len(self.movie_ids) - 1)
        bad = self.movie_ids[pos] != ids
        if bad.any():
            raise KeyError(f"movie ids {ids[bad][:5].tolist()} are not in the catalogue")
        return pos

    def row(self, movie_id: int) -> int | None:
        return self._row.get(int(movie_id))

    def rows(self, movie_ids) -> np.ndarray:
        """Rows of ``movie_ids``; -1 for unknown ids (a binary search: the ids are sorted)."""
        ids = np.asarray(movie_ids, dtype=np.int64).ravel()
        if len(self.movie_ids) == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.movie_ids, ids), len(self.movie_ids) - 1)
        return np.where(self.movie_ids[pos] == ids, pos, -1)

    def genre_list(self, row: int) -> tuple[str, ...]:
        return tuple(self.genre_names[j] for j in np.flatnonzero(self.genres[row]))

    def search(self, query: str, limit: int = 10) -> list[int]:
        """Rows whose title contains every word of ``query`` (``data.titles.TitleIndex``, the one title
        matcher): the exact title first, then the most popular."""
        if self.titles is None:
            raise ValueError("this catalogue was built without titles")
        if self._title_index is None:
            self._title_index = TitleIndex(self.movie_ids, self.titles, self.popularity)
        return self._title_index.search_rows(query, limit)


def popularity_from_counts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    top = counts.max() if len(counts) else 0.0
    return (np.log1p(counts) / max(np.log1p(top), 1e-9)).astype(np.float32)


def build_catalog(movies: pd.DataFrame, ratings: pd.DataFrame) -> Catalog:
    """Genre flags from ``movies.genres``, popularity from ``ratings`` (pass training ratings
    only where popularity must carry no held-out information); titles and years when present."""
    movies = movies.sort_values(ITEM_COL).reset_index(drop=True)
    movie_ids = movies[ITEM_COL].to_numpy(dtype=np.int64)
    lists = [tuple(str(g) for g in gs) for gs in movies[GENRES_COL]]
    genre_names = sorted({g for gs in lists for g in gs})
    col = {g: j for j, g in enumerate(genre_names)}
    genres = np.zeros((len(movies), len(genre_names)), dtype=np.float32)
    for i, gs in enumerate(lists):
        genres[i, [col[g] for g in gs]] = 1.0
    counts = ratings[ITEM_COL].value_counts().reindex(movie_ids, fill_value=0).to_numpy(dtype=np.float64)
    titles = movies[TITLE_COL].astype(str).tolist() if TITLE_COL in movies else None
    years = [None if pd.isna(y) else int(y) for y in movies[YEAR_COL]] if YEAR_COL in movies else None
    return Catalog(movie_ids, genres, genre_names, popularity_from_counts(counts), titles=titles, years=years)
