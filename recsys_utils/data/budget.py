"""The catalogue size lessons 01-03 are budgeted for, and the parameters that trim a bigger one.

Their cost grows with the catalogue (every movie is embedded, indexed and scored) and with the
ratings (splits, collaborative filtering, evaluation), so a dataset beyond the sizes the course
is measured on (ml-latest-small's 9,742 movies, ml-1m's 1,000,209 ratings) stops at once, naming
the budget and the parameters that trim it, instead of running for hours:

    data = fit_budget(load_movielens(DATASET), max_movies=MAX_MOVIES, max_users=MAX_USERS, seed=SEED)

``MAX_MOVIES`` keeps the N most-rated movies (ties by id), ``MAX_USERS`` a seeded random sample
of N users; both are lesson parameters (``-p MAX_MOVIES 10000`` for the whole course).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..constants import DEFAULT_SEED, ITEM_COL, USER_COL


@dataclass(frozen=True)
class CatalogueBudget:
    max_movies: int = 10_000
    max_ratings: int = 1_100_000

    def describe(self) -> str:
        return f"{self.max_movies:,} movies and {self.max_ratings:,} ratings"


BUDGET = CatalogueBudget()
TRIM_PARAMETERS = ("MAX_MOVIES", "MAX_USERS")


class CatalogueTooLarge(ValueError):
    """The dataset is beyond the lessons' budget; the message names the budget and the trimming parameters."""


def fit_budget(data, max_movies: int | None = None, max_users: int | None = None, seed: int = DEFAULT_SEED,
               budget: CatalogueBudget = BUDGET):
    """``data`` trimmed by ``max_movies``/``max_users``; ``CatalogueTooLarge`` if it is still over budget.

    A trimmed copy records the trim in ``subset`` and in its checksums, so caches keyed on the
    data (splits, enriched movies) never mix it up with the whole dataset.
    """
    trimmed = data
    if max_movies is not None or max_users is not None:
        trimmed = trim(data, max_movies, max_users, seed)
    n_movies, n_ratings = len(trimmed.movies), len(trimmed.ratings)
    if n_movies <= budget.max_movies and n_ratings <= budget.max_ratings:
        return trimmed
    per_user = n_ratings / max(trimmed.ratings[USER_COL].nunique(), 1)
    users_hint = int(budget.max_ratings // max(per_user, 1))
    movies_hint = min(n_movies, budget.max_movies)
    raise CatalogueTooLarge(
        f"{data.name} has {n_movies:,} movies and {n_ratings:,} ratings"
        f"{' after trimming' if trimmed is not data else ''}: more than lessons 01-03 are budgeted for "
        f"({budget.describe()}, the sizes the course is measured on: ml-latest-small's 9,742 movies, "
        f"ml-1m's 1,000,209 ratings). Trim the catalogue with the parameters MAX_MOVIES (keep the N most-rated "
        f"movies) and MAX_USERS (keep a seeded sample of N users), for the whole course: "
        f"python -m recsys_utils.course run --dataset {data.name} -p MAX_MOVIES {movies_hint} -p MAX_USERS {users_hint}"
    )


def trim(data, max_movies: int | None = None, max_users: int | None = None, seed: int = DEFAULT_SEED):
    """The ``max_movies`` most-rated movies and their ratings by a seeded sample of ``max_users`` users."""
    for name, value in (("max_movies", max_movies), ("max_users", max_users)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{name.upper()} must be a positive whole number or None, got {value!r}")
    movies, ratings = data.movies, data.ratings
    if max_movies is not None and len(movies) > max_movies:
        counts = ratings.groupby(ITEM_COL).size()
        order = movies[[ITEM_COL]].assign(n=movies[ITEM_COL].map(counts).fillna(0).to_numpy())
        keep = order.sort_values(["n", ITEM_COL], ascending=[False, True], kind="stable")[ITEM_COL].head(max_movies)
        movies = movies[movies[ITEM_COL].isin(keep)].reset_index(drop=True)
        ratings = ratings[ratings[ITEM_COL].isin(keep)]
    users = np.sort(ratings[USER_COL].unique())
    if max_users is not None and len(users) > max_users:
        chosen = np.random.default_rng(seed).choice(users, size=max_users, replace=False)
        ratings = ratings[ratings[USER_COL].isin(chosen)]
    ratings = ratings.reset_index(drop=True)
    subset = {"max_movies": max_movies, "max_users": max_users, "seed": seed if max_users is not None else None}
    label = ",".join(f"{k}={v}" for k, v in subset.items() if v is not None)
    return replace(
        data, movies=movies, ratings=ratings,
        users=None if data.users is None else data.users[data.users[USER_COL].isin(ratings[USER_COL].unique())],
        checksums={**data.checksums, "subset": label}, subset=subset,
    )
