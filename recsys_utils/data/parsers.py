"""Parsers for every GroupLens format (and RecBole's copy of ml-100k).

Each parser takes a folder and returns ``(movies, ratings, users, extras)`` with the column
names and dtypes of ``recsys_utils.constants``; ``frames.finish_movies`` adds the text field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..constants import GENRES_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL, TITLE_COL, USER_COL, YEAR_COL
from .registry import FORMAT_CSV, FORMAT_ML1M, FORMAT_ML100K, FORMAT_RECBOLE
from .titles import parse_title

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
# Placeholders that mean "no genre": kept out of the genre lists so they are not embedded.
NO_GENRE = {"unknown", "(no genres listed)", ""}

# ml-1m's users.dat codes occupations; its README gives the names.
ML1M_OCCUPATIONS = {
    0: "other", 1: "academic/educator", 2: "artist", 3: "clerical/admin", 4: "college/grad student",
    5: "customer service", 6: "doctor/health care", 7: "executive/managerial", 8: "farmer",
    9: "homemaker", 10: "K-12 student", 11: "lawyer", 12: "programmer", 13: "retired",
    14: "sales/marketing", 15: "scientist", 16: "self-employed", 17: "technician/engineer",
    18: "tradesman/craftsman", 19: "unemployed", 20: "writer",
}

# The file whose presence identifies each format.
SIGNATURES = {
    FORMAT_ML100K: "u.data",
    FORMAT_ML1M: "ratings.dat",
    FORMAT_CSV: "ratings.csv",
    FORMAT_RECBOLE: "*.inter",
}


class ParseError(ValueError):
    """A file does not have the layout its format promises."""


def detect_format(folder: Path) -> str | None:
    for fmt, pattern in SIGNATURES.items():
        if any(folder.glob(pattern)):
            return fmt
    return None


def parse_folder(folder: Path, fmt: str):
    parser = {
        FORMAT_ML100K: parse_ml100k,
        FORMAT_ML1M: parse_ml1m,
        FORMAT_CSV: parse_csv,
        FORMAT_RECBOLE: parse_recbole,
    }[fmt]
    try:
        return parser(folder)
    except (KeyError, ValueError, IndexError, pd.errors.ParserError) as error:
        if isinstance(error, ParseError):
            raise
        raise ParseError(f"{folder} does not look like a complete {fmt} dataset: {error}") from error


def _require(folder: Path, *names: str) -> None:
    missing = [n for n in names if not (folder / n).exists()]
    if missing:
        raise ParseError(f"{folder} lacks {', '.join(missing)}")


def _ratings_frame(users, items, ratings, timestamps) -> pd.DataFrame:
    return pd.DataFrame(
        {
            USER_COL: np.asarray(users, dtype=np.int64),
            ITEM_COL: np.asarray(items, dtype=np.int64),
            RATING_COL: np.asarray(ratings, dtype=np.float32),
            TIMESTAMP_COL: np.asarray(timestamps, dtype=np.float64).astype(np.int64),
        }
    )


def _movies_frame(ids, raw_titles, genres, fallback_years=None) -> pd.DataFrame:
    parsed = [parse_title(str(t)) for t in raw_titles]
    years = [year for _, year in parsed]
    if fallback_years is not None:
        years = [y if y is not None else f for y, f in zip(years, fallback_years, strict=True)]
    return pd.DataFrame(
        {
            ITEM_COL: np.asarray(ids, dtype=np.int64),
            TITLE_COL: [title for title, _ in parsed],
            YEAR_COL: pd.array(years, dtype="Int64"),
            GENRES_COL: [[g for g in gs if g not in NO_GENRE] for gs in genres],
        }
    )


def parse_ml100k(folder: Path):
    """``u.data`` (tab separated), ``u.item`` (pipe separated, latin-1, 19 genre flags), ``u.user``."""
    _require(folder, "u.data", "u.item")
    data = pd.read_csv(folder / "u.data", sep="\t", header=None, names=["u", "i", "r", "t"])
    items = pd.read_csv(
        folder / "u.item", sep="|", header=None, encoding="latin-1",
        names=["id", "title", "release", "video", "imdb_url", *ML100K_GENRES],
    )
    if items[list(ML100K_GENRES)].isna().any().any():
        raise ParseError(f"{folder / 'u.item'} has rows without the 19 genre flags")
    flags = items[list(ML100K_GENRES)].to_numpy(dtype=bool)
    genres = [[g for g, on in zip(ML100K_GENRES, row, strict=True) if on] for row in flags]
    release_years = pd.to_datetime(items["release"], format="%d-%b-%Y", errors="coerce").dt.year
    fallback = [None if pd.isna(y) else int(y) for y in release_years]
    movies = _movies_frame(items["id"], items["title"].fillna(""), genres, fallback)
    ratings = _ratings_frame(data["u"], data["i"], data["r"], data["t"])
    users = None
    if (folder / "u.user").exists():
        users = pd.read_csv(
            folder / "u.user", sep="|", header=None, encoding="latin-1",
            names=[USER_COL, "age", "gender", "occupation", "zip_code"], dtype={"zip_code": str},
        )
    return movies, ratings, users, {}


def parse_ml1m(folder: Path):
    """``::``-separated ``ratings.dat``, ``movies.dat`` (pipe-separated genres) and ``users.dat``."""
    _require(folder, "ratings.dat", "movies.dat")

    def read(name, columns):
        # "::" is a multi-character separator; splitting lines ourselves is faster than the
        # python engine of read_csv and keeps "::" inside titles impossible by construction.
        lines = (folder / name).read_text(encoding="latin-1").splitlines()
        rows = [line.split("::") for line in lines if line.strip()]
        bad = [i for i, row in enumerate(rows) if len(row) != len(columns)]
        if bad:
            raise ParseError(f"{folder / name} line {bad[0] + 1} has {len(rows[bad[0]])} fields, expected {len(columns)}")
        return pd.DataFrame(rows, columns=columns)

    r = read("ratings.dat", ["u", "i", "r", "t"])
    m = read("movies.dat", ["id", "title", "genres"])
    movies = _movies_frame(m["id"].astype(int), m["title"], [g.split("|") for g in m["genres"]])
    ratings = _ratings_frame(r["u"].astype(int), r["i"].astype(int), r["r"].astype(float), r["t"].astype(int))
    users = None
    if (folder / "users.dat").exists():
        u = read("users.dat", [USER_COL, "gender", "age", "occupation", "zip_code"])
        users = pd.DataFrame(
            {
                USER_COL: u[USER_COL].astype(np.int64),
                "age": u["age"].astype(int),
                "gender": u["gender"],
                "occupation": u["occupation"].astype(int).map(ML1M_OCCUPATIONS),
                "zip_code": u["zip_code"],
            }
        )
    return movies, ratings, users, {}


def parse_csv(folder: Path):
    """``movies.csv``/``ratings.csv`` plus optional ``links.csv`` and ``tags.csv`` (UTF-8)."""
    _require(folder, "ratings.csv", "movies.csv")
    r = pd.read_csv(folder / "ratings.csv", dtype={"userId": np.int64, "movieId": np.int64})
    m = pd.read_csv(folder / "movies.csv", dtype={"movieId": np.int64, "title": str, "genres": str})
    for frame, name, needed in ((r, "ratings.csv", ["userId", "movieId", "rating", "timestamp"]),
                                (m, "movies.csv", ["movieId", "title", "genres"])):
        missing = set(needed) - set(frame.columns)
        if missing:
            raise ParseError(f"{folder / name} lacks the columns {sorted(missing)}")
    movies = _movies_frame(m["movieId"], m["title"], [str(g).split("|") for g in m["genres"].fillna("")])
    ratings = _ratings_frame(r["userId"], r["movieId"], r["rating"], r["timestamp"])
    extras = {}
    if (folder / "links.csv").exists():
        links = pd.read_csv(folder / "links.csv", dtype={"movieId": np.int64, "imdbId": str})
        # IMDb ids are "tt" + 7 digits; the CSV stores them without the prefix and leading zeros.
        imdb = links.set_index("movieId")["imdbId"].map(lambda s: f"tt{int(s):07d}" if pd.notna(s) else None)
        tmdb = links.set_index("movieId")["tmdbId"]
        movies["imdb_id"] = movies[ITEM_COL].map(imdb).astype("string")
        movies["tmdb_id"] = movies[ITEM_COL].map(tmdb).astype("Int64")
    if (folder / "tags.csv").exists():
        tags = pd.read_csv(folder / "tags.csv", dtype={"userId": np.int64, "movieId": np.int64, "tag": str})
        extras["tags"] = tags.rename(columns={"userId": USER_COL, "movieId": ITEM_COL})
    return movies, ratings, None, extras


def parse_recbole(folder: Path):
    """RecBole's atomic files: ``.inter`` (user, item, rating, timestamp), ``.item``, ``.user``.

    Headers carry types (``user_id:token``); genres are a space-separated ``class`` field and
    titles keep GroupLens' trailing-article form without the year, which is its own field.
    """
    inter = next(folder.glob("*.inter"))
    item = next(folder.glob("*.item"), None)
    if item is None:
        raise ParseError(f"{folder} has {inter.name} but no .item file")
    r = pd.read_csv(inter, sep="\t")
    r.columns = [c.split(":")[0] for c in r.columns]
    i = pd.read_csv(item, sep="\t", dtype=str, keep_default_na=False)
    i.columns = [c.split(":")[0] for c in i.columns]
    years = [int(y) if y.isdigit() else None for y in i["release_year"]]
    # RecBole keeps a typo of the data's placeholder title ("unkonwn") for movie 267.
    titles = ["unknown" if t == "unkonwn" else t for t in i["movie_title"]]
    movies = _movies_frame(i["item_id"].astype(int), titles, [c.split() for c in i["class"]])
    movies[YEAR_COL] = pd.array(years, dtype="Int64")
    ratings = _ratings_frame(r["user_id"], r["item_id"], r["rating"], r["timestamp"])
    users = None
    user_file = next(folder.glob("*.user"), None)
    if user_file is not None:
        u = pd.read_csv(user_file, sep="\t", dtype=str)
        u.columns = [c.split(":")[0] for c in u.columns]
        users = pd.DataFrame(
            {
                USER_COL: u["user_id"].astype(np.int64),
                "age": u["age"].astype(int),
                "gender": u["gender"],
                "occupation": u["occupation"],
                "zip_code": u["zip_code"],
            }
        )
    return movies, ratings, users, {}
