"""Everything the environment needs, precomputed once as NumPy arrays (no pandas per step).

A :class:`SimulationWorld` holds two kinds of arrays and keeps them apart by name:

* agent side: the catalogue's genres and popularity, each user's projected taste, retrieved
  candidate pool with retrieval similarity, and recent viewing history;
* simulator side: ``pool_ratings``, the ground-truth predicted rating of every pooled movie,
  which only the simulator (and the myopic oracle, as a reference) may read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..catalog import build_catalog as build_shared_catalog
from ..constants import ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL
from .features import TasteProjection
from .ground_truth import RatingModel


def build_catalog(movies: pd.DataFrame, ratings: pd.DataFrame) -> Catalog:
    """The shared catalogue (genre flags, popularity from ``ratings``: pass training ratings only, so
    popularity carries no held-out information); the environment's features need genres."""
    catalog = build_shared_catalog(movies, ratings)
    if not catalog.genre_names:
        raise ValueError("movies carry no genres; the environment's features need movies.genres lists")
    return catalog


def recent_history(ratings: pd.DataFrame, user_ids: np.ndarray, catalog: Catalog, window: int) -> np.ndarray:
    """(n, window) catalogue positions of each user's last rated movies, oldest first, -1 padded."""
    latest = ratings.sort_values([USER_COL, TIMESTAMP_COL, ITEM_COL]).groupby(USER_COL).tail(window)
    out = np.full((len(user_ids), window), -1, dtype=np.int64)
    row_of = pd.Index(user_ids)
    rows = row_of.get_indexer(latest[USER_COL].to_numpy())
    keep = rows >= 0
    latest, rows = latest[keep], rows[keep]
    pos = catalog.positions(latest[ITEM_COL].to_numpy())
    rank_from_end = latest.groupby(USER_COL).cumcount(ascending=False).to_numpy()
    out[rows, window - 1 - rank_from_end] = pos
    return out


@dataclass
class SimulationWorld:
    catalog: Catalog
    projection: TasteProjection
    user_ids: np.ndarray  # (n,)
    taste: np.ndarray  # (n, d) projected taste, agent side
    pool_items: np.ndarray  # (n, P) catalogue positions, in the candidate generator's order
    pool_similarity: np.ndarray  # (n, P) float32: cosine of the user's taste and the movie's vector
    history: np.ndarray  # (n, W) catalogue positions, -1 = none, oldest first
    pool_ratings: np.ndarray  # (n, P) float32 ground truth: simulator side only
    splits: dict[str, np.ndarray] = field(default_factory=dict)  # name -> user rows
    # (n, P) float32 in [-1, 1]: the candidate generator's ALS score of each pooled movie (fitted on
    # training ratings only; ``rl.candidates``). None: not used.
    pool_cf: np.ndarray | None = None
    coverage: dict = field(default_factory=dict)  # unrated pooled movies, dropped dangling ratings
    cf_vectors: object | None = None  # the generator's ``CFVectors`` behind pool_cf (serving folds users in)

    @property
    def item_feature_dim(self) -> int:
        return (0 if self.pool_cf is None else 1) + self.catalog.item_feature_dim

    def candidate_features(self, rows: np.ndarray, slots: np.ndarray) -> np.ndarray | None:
        """(n, k, F) per-candidate item features: the collaborative score, then the catalogue's
        item features (the collaborative embedding); None when the world has neither."""
        parts = []
        if self.pool_cf is not None:
            parts.append(self.pool_cf[rows[:, None], slots][..., None])
        if self.catalog.item_features is not None:
            parts.append(self.catalog.item_features[self.pool_items[rows[:, None], slots]])
        return np.concatenate(parts, axis=-1) if parts else None

    def rows(self, split: str) -> np.ndarray:
        if split not in self.splits:
            raise KeyError(f"unknown user split {split!r}; the world has {sorted(self.splits)}")
        return self.splits[split]

    @property
    def pool_size(self) -> int:
        return self.pool_items.shape[1]


def weighted_taste(ratings: pd.DataFrame, user_ids: np.ndarray, catalog: Catalog, item_vectors: np.ndarray) -> np.ndarray:
    """Mean of rated movies' vectors weighted by (rating - 2.5): a stand-in used only when the
    embeddings module's ``user_embeddings`` is not available (e.g. unit tests)."""
    rows = pd.Index(user_ids).get_indexer(ratings[USER_COL].to_numpy())
    keep = rows >= 0
    w = ratings[RATING_COL].to_numpy(dtype=np.float32)[keep] - 2.5
    out = np.zeros((len(user_ids), item_vectors.shape[1]), dtype=np.float32)
    np.add.at(out, rows[keep], w[:, None] * item_vectors[catalog.positions(ratings[ITEM_COL].to_numpy()[keep])])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def build_world(
    movies: pd.DataFrame,
    history_ratings: pd.DataFrame,
    item_vectors: np.ndarray,
    taste_vectors: np.ndarray,
    user_ids: np.ndarray,
    generator,
    splits: dict[str, np.ndarray],
    rating_model: RatingModel,
    taste_dim: int = 16,
    pool_size: int = 40,
    window: int = 5,
    cf_features: bool = True,
) -> SimulationWorld:
    """Assemble the world from the data layer's tables and the course's candidate generator.

    ``history_ratings`` is what the agent side may know about users (their training-period
    ratings): it sets popularity and the recent history; ``generator`` (fitted on the same
    training ratings) proposes each user's pool of unseen movies and the collaborative features.
    The ground truth enters only through ``rating_model`` (fitted by the caller on all ratings).
    ``item_vectors`` (the taste space, MiniLM) is aligned with ``movies`` sorted by movie id.
    """
    from .candidates import cf_item_features, generator_pools

    # Ratings of movies missing from the catalogue (dangling) cannot be shown or counted.
    dangling = ~history_ratings[ITEM_COL].isin(movies[ITEM_COL])
    history_ratings = history_ratings[~dangling]
    catalog = build_catalog(movies, history_ratings)
    if not np.array_equal(np.asarray(generator.movie_ids), catalog.movie_ids):
        raise ValueError("the candidate generator was built on another catalogue; build it on these movies")
    if cf_features:
        catalog.item_features = cf_item_features(generator)
    if len(item_vectors) != len(catalog.movie_ids):
        raise ValueError(f"{len(item_vectors)} item vectors for {len(catalog.movie_ids)} movies; align them")
    item_vectors = np.asarray(item_vectors, dtype=np.float32)
    projection = TasteProjection.fit(item_vectors, taste_dim)
    pools = generator_pools(generator, user_ids, pool_size)
    pool_items = catalog.positions(pools.movie_ids.ravel()).reshape(pools.movie_ids.shape)
    taste_vectors = np.asarray(taste_vectors, dtype=np.float32)
    taste = taste_vectors / np.maximum(np.linalg.norm(taste_vectors, axis=1, keepdims=True), 1e-9)
    unit_items = item_vectors / np.maximum(np.linalg.norm(item_vectors, axis=1, keepdims=True), 1e-9)
    similarity = np.einsum("nd,npd->np", taste, unit_items[pool_items])
    history = recent_history(history_ratings, user_ids, catalog, window)
    pool_ratings, unrated = rating_model.predict_with_unrated(np.asarray(user_ids)[:, None], pools.movie_ids)
    row_of = pd.Index(user_ids)
    split_rows = {}
    for name, ids in splits.items():
        rows = row_of.get_indexer(np.asarray(ids))
        if (rows < 0).any():
            raise KeyError(f"split {name!r} names users without a taste vector or pool: {np.asarray(ids)[rows < 0][:5]}")
        split_rows[name] = rows
    # Pooled movies without any rating get the user's baseline rating (``predict_with_unrated``).
    coverage = {"unrated_pool_cells": unrated, "pool_cells": int(pool_items.size),
                "dangling_ratings_dropped": int(dangling.sum())}
    return SimulationWorld(
        catalog=catalog, projection=projection, user_ids=np.asarray(user_ids), taste=projection.transform(taste_vectors),
        pool_items=pool_items, pool_similarity=similarity.astype(np.float32), history=history,
        pool_ratings=pool_ratings, splits=split_rows, pool_cf=pools.cf_scores if cf_features else None,
        coverage=coverage, cf_vectors=generator.cf if cf_features else None,
    )
