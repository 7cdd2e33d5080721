"""Example movies and users picked from the data, so no lesson names a dataset-specific title.

Lessons used to hard-code ml-100k titles ("Star Wars", "Fargo"), which stop the course on any
other MovieLens. These helpers choose from whatever catalogue is loaded: the classic pick when
the catalogue holds it (so ml-100k's lessons read as before), otherwise the most-rated film of
the same genre. Every choice is deterministic (ties broken by ``movie_id``).

>>> pick = example_movie(data, "Sci-Fi", prefer=("Star Wars",))   # doctest: +SKIP
>>> pair = inception_example(data)   # (Inception id, Interstellar id) or None
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..constants import GENRES_COL, ITEM_COL, LIKE_THRESHOLD, RATING_COL, TITLE_COL, USER_COL, YEAR_COL
from .titles import normalise_title

# The design's own example: a fan of Inception (2010) is recommended Interstellar (2014).
INCEPTION = ("Inception", 2010)
INTERSTELLAR = ("Interstellar", 2014)


@dataclass(frozen=True)
class ExampleMovie:
    movie_id: int
    title: str
    year: int | None
    genres: tuple[str, ...]
    n_ratings: int

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


def rating_counts(ratings: pd.DataFrame) -> pd.Series:
    """Ratings per movie id (movies without ratings are absent)."""
    return ratings.groupby(ITEM_COL).size()


def _as_example(movies: pd.DataFrame, counts: pd.Series, movie_id: int) -> ExampleMovie:
    row = movies.loc[movies[ITEM_COL] == movie_id].iloc[0]
    year = row[YEAR_COL]
    return ExampleMovie(
        movie_id=int(movie_id),
        title=str(row[TITLE_COL]),
        year=None if pd.isna(year) else int(year),
        genres=tuple(row[GENRES_COL]),
        n_ratings=int(counts.get(movie_id, 0)),
    )


def _by_popularity(movies: pd.DataFrame, counts: pd.Series) -> pd.DataFrame:
    frame = movies[[ITEM_COL, TITLE_COL, YEAR_COL, GENRES_COL]].copy()
    frame["n_ratings"] = frame[ITEM_COL].map(counts).fillna(0).astype(int)
    return frame.sort_values(["n_ratings", ITEM_COL], ascending=[False, True], kind="stable")


def find_movie(data, title: str, year: int | None = None) -> int | None:
    """The movie id whose normalised title (and year, when given) matches, most-rated first."""
    key = normalise_title(title)
    frame = _by_popularity(data.movies, rating_counts(data.ratings))
    hits = frame[[normalise_title(t) == key for t in frame[TITLE_COL]]]
    if year is not None:
        hits = hits[hits[YEAR_COL] == year]
    return None if hits.empty else int(hits[ITEM_COL].iloc[0])


def most_rated(data, genre: str | None = None, n: int = 1, exclude: Iterable[int] = ()) -> list[ExampleMovie]:
    """The ``n`` most-rated movies, of ``genre`` when given."""
    counts = rating_counts(data.ratings)
    frame = _by_popularity(data.movies, counts)
    if genre is not None:
        frame = frame[[genre in g for g in frame[GENRES_COL]]]
    frame = frame[~frame[ITEM_COL].isin(list(exclude)) & (frame["n_ratings"] > 0)]
    if frame.empty:
        raise LookupError(
            f"no rated movie of genre {genre!r} in {data.name}; genres present: {', '.join(genre_names(data))}"
        )
    return [_as_example(data.movies, counts, int(m)) for m in frame[ITEM_COL].head(n)]


def genre_names(data) -> list[str]:
    return sorted({g for genres in data.movies[GENRES_COL] for g in genres})


def example_movie(data, genre: str, prefer: Sequence[str] = (), exclude: Iterable[int] = ()) -> ExampleMovie:
    """The first of ``prefer`` that the catalogue holds, else the most-rated film of ``genre``."""
    counts = rating_counts(data.ratings)
    excluded = set(exclude)
    for title in prefer:
        movie_id = find_movie(data, title)
        if movie_id is not None and movie_id not in excluded and counts.get(movie_id, 0) > 0:
            return _as_example(data.movies, counts, movie_id)
    return most_rated(data, genre, 1, exclude=excluded)[0]


def example_movies(data, wanted: Sequence[tuple[str, Sequence[str]]]) -> list[ExampleMovie]:
    """One distinct example per ``(genre, preferred titles)``, in order."""
    chosen: list[ExampleMovie] = []
    for genre, prefer in wanted:
        chosen.append(example_movie(data, genre, prefer, exclude=[m.movie_id for m in chosen]))
    return chosen


def inception_example(data) -> tuple[ExampleMovie, ExampleMovie] | None:
    """``(Inception, Interstellar)`` when the catalogue holds both films, else None (ml-100k ends in 1998)."""
    counts = rating_counts(data.ratings)
    ids = [find_movie(data, title, year) for title, year in (INCEPTION, INTERSTELLAR)]
    if any(i is None for i in ids):
        return None
    first, second = (_as_example(data.movies, counts, i) for i in ids)
    return first, second


def clear_taste_user(data, min_likes: int = 20, ratings: pd.DataFrame | None = None) -> tuple[int, str]:
    """A user whose likes concentrate most in one genre: ``(user_id, genre)``.

    Among users with at least ``min_likes`` liked ratings (>= 4 stars), the one with the largest
    share of likes in a single genre, relative to that genre's share of all likes (a lift), so that
    a big genre like Drama does not win by size alone.
    """
    ratings = data.ratings if ratings is None else ratings
    liked = ratings[ratings[RATING_COL] >= LIKE_THRESHOLD][[USER_COL, ITEM_COL]]
    per_user = liked.groupby(USER_COL).size()
    eligible = per_user[per_user >= min_likes].index
    if len(eligible) == 0:
        raise LookupError(f"no user has {min_likes} liked ratings in {data.name}; lower min_likes")
    genres = data.movies.set_index(ITEM_COL)[GENRES_COL]
    exploded = liked[liked[USER_COL].isin(eligible)].assign(genre=lambda f: f[ITEM_COL].map(genres))
    exploded = exploded.explode("genre").dropna(subset=["genre"])
    overall = exploded["genre"].value_counts(normalize=True)
    share = exploded.groupby([USER_COL, "genre"]).size() / exploded.groupby(USER_COL).size()
    lift = (share / share.index.get_level_values("genre").map(overall).to_numpy()).rename("lift")
    # Only genres with a real presence (at least 5% of all likes) count, so a one-off genre cannot win.
    lift = lift[share.index.get_level_values("genre").isin(overall[overall >= 0.05].index)]
    best = lift.reset_index().sort_values(["lift", USER_COL], ascending=[False, True], kind="stable").iloc[0]
    return int(best[USER_COL]), str(best["genre"])


def seeded_choice(values: Sequence[int], seed: int, n: int) -> list[int]:
    """``n`` distinct values picked reproducibly (for example users shown in a lesson)."""
    rng = np.random.default_rng(seed)
    return [int(v) for v in rng.choice(np.asarray(values), size=min(n, len(values)), replace=False)]
