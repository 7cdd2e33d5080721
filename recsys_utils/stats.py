"""Descriptive statistics of a ratings table: the quirks lesson 01 teaches."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .constants import GENRES_COL, ITEM_COL, RATING_COL, USER_COL, YEAR_COL


def dataset_summary(ratings: pd.DataFrame, movies: pd.DataFrame) -> dict[str, float | int]:
    """Sizes, sparsity and the concentration of ratings on popular movies."""
    n_users = ratings[USER_COL].nunique()
    n_items = ratings[ITEM_COL].nunique()
    per_item = ratings[ITEM_COL].value_counts().to_numpy()  # sorted, most popular first
    per_user = ratings[USER_COL].value_counts().to_numpy()
    top_decile = max(1, int(np.ceil(0.1 * n_items)))
    return {
        "n_ratings": int(len(ratings)),
        "n_users": int(n_users),
        "n_movies_rated": int(n_items),
        "n_movies_catalogue": int(len(movies)),
        "density": float(len(ratings) / (n_users * n_items)),
        "sparsity": float(1 - len(ratings) / (n_users * n_items)),
        "mean_rating": float(ratings[RATING_COL].mean()),
        "share_liked": float((ratings[RATING_COL] >= 4).mean()),
        "ratings_per_user_median": float(np.median(per_user)),
        "ratings_per_user_min": int(per_user.min()),
        "ratings_per_movie_median": float(np.median(per_item)),
        "movies_with_one_rating": int((per_item == 1).sum()),
        "share_of_ratings_on_top10pct_movies": float(per_item[:top_decile].sum() / per_item.sum()),
        "gini_movie_popularity": gini(per_item),
    }


def gini(counts) -> float:
    """Gini coefficient of a non-negative distribution: 0 = all equal, 1 = one item has all."""
    values = np.sort(np.asarray(counts, dtype=float))
    if values.size == 0 or values.sum() == 0:
        return 0.0
    ranks = np.arange(1, values.size + 1)
    return float((2 * (ranks * values).sum()) / (values.size * values.sum()) - (values.size + 1) / values.size)


def rating_distribution(ratings: pd.DataFrame) -> dict[str, float]:
    shares = ratings[RATING_COL].value_counts(normalize=True).sort_index()
    return {f"{k:g}": float(v) for k, v in shares.items()}


def popularity_curve(ratings: pd.DataFrame) -> np.ndarray:
    """Cumulative share of ratings covered by the most popular movies, in popularity order."""
    counts = ratings[ITEM_COL].value_counts().to_numpy()
    return np.cumsum(counts) / counts.sum()


def genres_by_decade(movies: pd.DataFrame) -> pd.DataFrame:
    """Number of movies per genre and release decade (a movie counts once per genre)."""
    exploded = movies[[YEAR_COL, GENRES_COL]].dropna(subset=[YEAR_COL]).explode(GENRES_COL).dropna()
    exploded["decade"] = (exploded[YEAR_COL].astype(int) // 10) * 10
    return exploded.groupby(["decade", GENRES_COL]).size().unstack(fill_value=0)
