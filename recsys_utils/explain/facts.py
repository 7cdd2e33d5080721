"""The facts an explanation may use, retrieved from the data layer.

An explanation is grounded when everything it states comes from these two records: the
recommended movie's metadata (``MovieFacts``) and the user's liked movies (``UserContext``).
Both the prompt builder and the faithfulness check read them, so "the facts given to the
model" and "the facts the check accepts" are the same thing by construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from ..constants import (
    GENRES_COL,
    ITEM_COL,
    LIKE_THRESHOLD,
    RATING_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
    YEAR_COL,
)

# Outside metadata joined by ``recsys_utils.enrich``; absent on a plain MovieLens load. The
# second IMDb column (from the Rotten Tomatoes source) fills in when the first has no match.
IMDB_COLS = ("imdb_rating", "vega_imdb_rating")
ROTTEN_TOMATOES_COL = "rotten_tomatoes"


@dataclass(frozen=True)
class MovieFacts:
    """One movie's metadata. ``mean_rating`` / ``n_ratings`` are MovieLens figures (1-5 scale);
    ``imdb_rating`` is on IMDb's 1-10 scale and ``rotten_tomatoes`` a 0-100 percentage, each
    ``None`` when not known."""

    movie_id: int
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    mean_rating: float | None = None
    n_ratings: int | None = None
    imdb_rating: float | None = None
    rotten_tomatoes: float | None = None

    def __post_init__(self):
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValueError(f"movie {self.movie_id} has no title; every MovieFacts needs a non-empty title")
        object.__setattr__(self, "genres", tuple(self.genres))

    def to_dict(self) -> dict:
        return {
            "movie_id": self.movie_id,
            "title": self.title,
            "year": self.year,
            "genres": list(self.genres),
            "mean_rating": self.mean_rating,
            "n_ratings": self.n_ratings,
            "imdb_rating": self.imdb_rating,
            "rotten_tomatoes": self.rotten_tomatoes,
        }


@dataclass(frozen=True)
class LikedMovie:
    """A movie the user liked, with the user's own rating (1-5); ``None`` when the person only
    named it (a cold-start profile's liked titles)."""

    facts: MovieFacts
    rating: float | None = None


@dataclass(frozen=True)
class UserContext:
    """The user's most relevant liked movies (best first) and an optional free-text wish.

    The wish is user text: it is passed to the model as data and never as an instruction.
    """

    user_id: int
    liked: tuple[LikedMovie, ...] = ()
    wish: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "liked", tuple(self.liked))


@dataclass(frozen=True)
class FactSheet:
    """Every title, genre, year and number the explanation of one (user, movie) pair may state."""

    titles: tuple[str, ...]
    genres: frozenset[str]
    years: frozenset[int]
    numbers: tuple[float, ...] = field(default_factory=tuple)


def fact_sheet(user: UserContext, movie: MovieFacts) -> FactSheet:
    movies = [movie, *(liked.facts for liked in user.liked)]
    numbers: list[float] = [liked.rating for liked in user.liked if liked.rating is not None]
    for m in movies:
        numbers += [v for v in (m.mean_rating, m.n_ratings, m.imdb_rating, m.rotten_tomatoes) if v is not None]
    return FactSheet(
        titles=tuple(dict.fromkeys(m.title for m in movies)),
        genres=frozenset(g for m in movies for g in m.genres),
        years=frozenset(m.year for m in movies if m.year is not None),
        numbers=tuple(float(n) for n in numbers),
    )


def facts_from_data(
    data,
    user_id: int,
    movie_id: int,
    ratings: pd.DataFrame | None = None,
    top_n: int = 5,
    wish: str | None = None,
    movies: pd.DataFrame | None = None,
) -> tuple[UserContext, MovieFacts]:
    """Retrieve the grounded facts for explaining ``movie_id`` to ``user_id``.

    ``data`` is the object ``recsys_utils.data.load_movielens`` returns. ``ratings`` defaults
    to ``data.ratings``; pass the training ratings in an evaluation so an explanation never
    cites a rating from the held-out future. The user's liked movies (rated at least
    ``LIKE_THRESHOLD``; the best-rated ones when none reach it) are ranked by how many genres
    they share with the recommended movie, then by rating, then by recency: the retrieval step
    of RAG picks the liked movies that can actually explain this recommendation.

    ``movies`` defaults to ``data.movies``; pass ``recsys_utils.enrich.enriched_movies(data)[0]``
    to add IMDb and Rotten Tomatoes figures (columns that are missing are simply not cited).
    """
    ratings = data.ratings if ratings is None else ratings
    movies = data.movies if movies is None else movies
    if top_n < 1:
        raise ValueError(f"top_n={top_n}; ask for at least one liked movie")
    known = movies[ITEM_COL] == movie_id
    if not known.any():
        raise ValueError(f"movie_id {movie_id} is not in data.movies; pick a movie id from the catalogue")
    user_ratings = ratings[ratings[USER_COL] == user_id]
    if user_ratings.empty:
        raise ValueError(
            f"user_id {user_id} has no ratings in the ratings given; pick a user who rated movies "
            "(or pass the ratings table that holds their history)"
        )
    movie = _movie_facts(movies[known].iloc[0], ratings)

    user_ratings = user_ratings[user_ratings[ITEM_COL] != movie_id]
    liked = user_ratings[user_ratings[RATING_COL] >= LIKE_THRESHOLD]
    if liked.empty:
        liked = user_ratings
    liked = liked.merge(movies, on=ITEM_COL, how="inner")
    target_genres = set(movie.genres)
    liked = liked.assign(_shared=[len(target_genres & set(g)) for g in liked[GENRES_COL]])
    liked = liked.sort_values(["_shared", RATING_COL, TIMESTAMP_COL, ITEM_COL], ascending=[False, False, False, True])
    chosen = liked.head(top_n)
    stats = _rating_stats(ratings, chosen[ITEM_COL].tolist())
    liked_movies = tuple(
        LikedMovie(facts=_movie_facts(row, ratings, stats), rating=float(row[RATING_COL]))
        for _, row in chosen.iterrows()
    )
    return UserContext(user_id=int(user_id), liked=liked_movies, wish=wish), movie


def context_for_profile(
    liked: Sequence[MovieFacts],
    movie: MovieFacts,
    wish: str | None = None,
    user_id: int = 0,
    top_n: int = 5,
) -> UserContext:
    """The grounding facts for a cold-start profile: the titles the person said they liked and their wish.

    The liked movies carry no rating (the person named them, they did not rate them) and are
    ranked like a known user's: most genres shared with the recommended ``movie`` first, the
    order given breaking ties. The recommended movie itself is left out. Explanations written
    from this context name what the person liked and the wish (``OfflineExplainer``).
    """
    if top_n < 1:
        raise ValueError(f"top_n={top_n}; ask for at least one liked movie")
    target = set(movie.genres)
    kept = [m for m in liked if m.movie_id != movie.movie_id]
    ranked = sorted(enumerate(kept), key=lambda p: (-len(target & set(p[1].genres)), p[0]))
    chosen = tuple(LikedMovie(m, None) for _, m in ranked[:top_n])
    wish = wish.strip() if isinstance(wish, str) and wish.strip() else None
    return UserContext(user_id=int(user_id), liked=chosen, wish=wish)


def _rating_stats(ratings: pd.DataFrame, movie_ids: list[int]) -> dict[int, tuple[float, int]]:
    subset = ratings[ratings[ITEM_COL].isin(movie_ids)]
    grouped = subset.groupby(ITEM_COL)[RATING_COL].agg(["mean", "count"])
    return {int(i): (float(r["mean"]), int(r["count"])) for i, r in grouped.iterrows()}


def _movie_facts(row, ratings: pd.DataFrame, stats: dict[int, tuple[float, int]] | None = None) -> MovieFacts:
    movie_id = int(row[ITEM_COL])
    if stats is None:
        stats = _rating_stats(ratings, [movie_id])
    mean, count = stats.get(movie_id, (None, None))
    return MovieFacts(
        movie_id=movie_id,
        title=str(row[TITLE_COL]),
        year=_optional_int(row.get(YEAR_COL)),
        genres=tuple(str(g) for g in row[GENRES_COL]) if _is_listlike(row.get(GENRES_COL)) else (),
        mean_rating=round(mean, 2) if mean is not None else None,
        n_ratings=count,
        imdb_rating=next((v for v in (_optional_float(row.get(c)) for c in IMDB_COLS) if v is not None), None),
        rotten_tomatoes=_optional_float(row.get(ROTTEN_TOMATOES_COL)),
    )


def _is_listlike(value) -> bool:
    return isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and not isinstance(value, str))


def _optional_float(value) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _optional_int(value) -> int | None:
    number = _optional_float(value)
    return None if number is None else int(number)
