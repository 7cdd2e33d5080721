"""A small MovieLens-shaped world for unit tests and benchmarks that must not need downloads.

Movies get genres and a random unit vector pulled towards their genres' centroids, users get a
taste over genres, and ratings follow taste plus noise, so the same code paths (ground truth,
retrieval, environment) run on it exactly as on MovieLens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import (
    GENRES_COL,
    ITEM_COL,
    RATING_COL,
    TEXT_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
    YEAR_COL,
)

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Animation"]


def synthetic_movielens(n_users: int = 120, n_movies: int = 300, dim: int = 32, seed: int = 0):
    """Return (movies, ratings, item_vectors) following the data contract's columns."""
    rng = np.random.default_rng(seed)
    g = len(GENRES)
    flags = rng.random((n_movies, g)) < 0.22
    flags[np.arange(n_movies), rng.integers(0, g, n_movies)] = True
    centroids = rng.normal(size=(g, dim))
    vectors = flags @ centroids + 0.7 * rng.normal(size=(n_movies, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    quality = rng.normal(0, 0.5, n_movies)
    movies = pd.DataFrame(
        {
            ITEM_COL: np.arange(1, n_movies + 1, dtype=np.int64),
            TITLE_COL: [f"Movie {i}" for i in range(1, n_movies + 1)],
            YEAR_COL: pd.array(rng.integers(1950, 2000, n_movies), dtype="Int64"),
            GENRES_COL: [[GENRES[j] for j in np.flatnonzero(row)] for row in flags],
        }
    )
    movies[TEXT_COL] = movies[TITLE_COL] + " | " + movies[GENRES_COL].str.join(", ")
    taste = rng.normal(0, 1.0, (n_users, g))
    rows = []
    for u in range(n_users):
        n_rated = int(rng.integers(20, 60))
        items = rng.choice(n_movies, n_rated, replace=False)
        score = 3.5 + 0.6 * (flags[items] @ taste[u]) / flags[items].sum(1) + quality[items]
        stars = np.clip(np.round(score + rng.normal(0, 0.6, n_rated)), 1, 5)
        times = np.sort(rng.integers(8.8e8, 8.9e8, n_rated))
        rows.append(pd.DataFrame({USER_COL: u + 1, ITEM_COL: items + 1, RATING_COL: stars, TIMESTAMP_COL: times}))
    ratings = pd.concat(rows, ignore_index=True).astype(
        {USER_COL: "int64", ITEM_COL: "int64", RATING_COL: "float32", TIMESTAMP_COL: "int64"}
    )
    return movies, ratings, vectors.astype(np.float32)


def synthetic_generator(movies: pd.DataFrame, train_ratings: pd.DataFrame, vectors: np.ndarray, factors: int = 8,
                        text_weight: float = 0.3, seed: int = 0):
    """The course's candidate generator (``candidates.build_generator``) on a synthetic catalogue:
    ALS fitted on ``train_ratings`` and both indexes in memory, so tests run the lesson's pools."""
    from ..candidates import build_generator, fit_cf_vectors, index_records
    from ..candidates.build import _interactions
    from ..vectorstore import open_store

    movie_ids = movies[ITEM_COL].to_numpy(np.int64)
    users, matrix = _interactions(train_ratings, movie_ids)
    cf = fit_cf_vectors(matrix, users, factors=factors, regularization=1.0, iterations=8, seed=seed)
    cf_store = open_store("local", name="cf-synthetic", dimension=cf.dimension, metric="dotproduct", in_memory=True)
    cf_store.upsert(index_records(movies, cf.item_factors, cf.known_items))
    text_store = open_store("local", name="text-synthetic", dimension=vectors.shape[1], in_memory=True)
    text_store.upsert(index_records(movies, vectors))
    return build_generator(movies, train_ratings, vectors, cf, cf_store, text_store, text_weight=text_weight)


def synthetic_world(seed: int = 0, n_users: int = 120, n_movies: int = 300, pool_size: int = 32, window: int = 5,
                    taste_dim: int = 8, cf_features: bool = False):
    """A ready :class:`~recsys_utils.rl.world.SimulationWorld` with train/val/test user splits and
    pools from a synthetic candidate generator; ``cf_features`` adds the generator's collaborative
    features to the observation."""
    from .ground_truth import fit_rating_model
    from .world import build_catalog, build_world, weighted_taste

    movies, ratings, vectors = synthetic_movielens(n_users, n_movies, seed=seed)
    user_ids = np.sort(ratings[USER_COL].unique())
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(user_ids)
    n_train, n_val = int(0.6 * len(user_ids)), int(0.2 * len(user_ids))
    splits = {
        "train": np.sort(shuffled[:n_train]),
        "val": np.sort(shuffled[n_train : n_train + n_val]),
        "test": np.sort(shuffled[n_train + n_val :]),
    }
    catalog = build_catalog(movies, ratings)
    taste = weighted_taste(ratings, user_ids, catalog, vectors)
    model = fit_rating_model(ratings, rank=8, n_iters=8, seed=seed)
    generator = synthetic_generator(movies, ratings, vectors, seed=seed)
    return build_world(movies, ratings, vectors, taste, user_ids, generator, splits, model,
                       taste_dim=taste_dim, pool_size=pool_size, window=window, cf_features=cf_features)
