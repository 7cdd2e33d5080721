"""Checks of lesson 01's exercises (``check("01.k", answer, data=data, ...)``)."""

from __future__ import annotations

import math

from ..constants import ITEM_COL, LIKE_THRESHOLD, RATING_COL, USER_COL
from ..data import coverage
from ..splits import temporal_holdout
from .exercises import exercise


@exercise("01.1", hint="sparsity = 1 - (number of ratings) / (number of users x number of rated movies); "
                       "count users and movies with nunique() on data.ratings.")
def sparsity(answer, data, **_):
    ratings = data.ratings
    expected = 1 - len(ratings) / (ratings[USER_COL].nunique() * ratings[ITEM_COL].nunique())
    if not isinstance(answer, (int, float)) or not 0 <= answer <= 1:
        return f"give the sparsity as a number between 0 and 1, not {answer!r}"
    if not math.isclose(answer, expected, abs_tol=1e-4):
        return f"{answer:.4f} is not the sparsity of these ratings; did you use all movies of the catalogue instead of the rated ones?"
    return None


@exercise("01.2", hint="temporal_holdout(data.ratings, holdout_fraction=0.1) returns (train, test); keep test ratings "
                       ">= 4 stars and count the distinct users.")
def liked_held_out_users(answer, data, **_):
    _, test = temporal_holdout(data.ratings, holdout_fraction=0.1)
    expected = int(test.loc[test[RATING_COL] >= LIKE_THRESHOLD, USER_COL].nunique())
    if answer != expected:
        return f"{answer!r} users is not what a 10% temporal holdout gives; hold out each user's latest ratings, not random ones"
    return None


@exercise("01.3", hint="movies of data.movies whose movie_id never appears in data.ratings; "
                       "data.movies.movie_id.isin(...) helps.")
def unrated_movies(answer, data, **_):
    expected = coverage(data)["n_unrated_movies"]
    if answer != expected:
        return f"{answer!r} is not the number of catalogue movies without a rating"
    return None
