"""Parsers for every GroupLens format (and RecBole's copy of ml-100k), with line-exact errors.

Each parser takes a folder and returns ``(movies, ratings, users, extras)`` with the column
names and dtypes of ``recsys_utils.constants``; ``load_movielens`` adds the text field.

Bad data never passes silently: a line with too few or too many fields, an id that is not an
integer (``5.7``), a rating outside the dataset's declared scale (99, -3) or a duplicated movie
id raises ``ParseError`` naming the file, the line and what to do. Validation is vectorised
(pandas' C reader, then whole-column checks), so ml-25m's 25M ratings cost seconds, not minutes.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..constants import GENRES_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL, TITLE_COL, USER_COL, YEAR_COL
from .registry import FORMAT_CSV, FORMAT_ML1M, FORMAT_ML100K, FORMAT_RECBOLE, RatingScale
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

# The file whose presence identifies each format, and every file of the format the course reads.
SIGNATURES = {
    FORMAT_ML100K: "u.data",
    FORMAT_ML1M: "ratings.dat",
    FORMAT_CSV: "ratings.csv",
    FORMAT_RECBOLE: "*.inter",
}
FORMAT_FILES = {
    FORMAT_ML100K: ("u.data", "u.item", "u.user", "u.genre", "u.occupation", "u.info"),
    FORMAT_ML1M: ("ratings.dat", "movies.dat", "users.dat"),
    FORMAT_CSV: ("ratings.csv", "movies.csv", "links.csv", "tags.csv"),
    FORMAT_RECBOLE: ("*.inter", "*.item", "*.user"),
}

ADVICE = (
    "fix or delete that line, or replace the file with an unmodified copy of the GroupLens release "
    "(nothing was cached: the next load reads the source again)"
)
# Ids beyond this are not MovieLens ids, and int64 would overflow on the way.
MAX_ID = 2**53
_PANDAS_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class ParseError(ValueError):
    """A file does not have the layout its format promises; ``file`` and ``line`` say where."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.file = file
        self.line = line


def detect_format(folder: Path) -> str | None:
    for fmt, pattern in SIGNATURES.items():
        if any(folder.glob(pattern)):
            return fmt
    return None


def format_files(folder: Path, fmt: str) -> list[Path]:
    """The files of ``fmt`` present in ``folder`` (README, genome scores and split files are not read)."""
    found: dict[str, Path] = {}
    for pattern in FORMAT_FILES[fmt]:
        for path in sorted(folder.glob(pattern)):
            if path.is_file():
                found[path.name] = path
    return list(found.values())


def parse_folder(folder: Path, fmt: str, scale: RatingScale | None = None, label: str | None = None):
    """Parse ``folder`` in format ``fmt``; ``label`` replaces the folder in error messages (e.g. the
    user's source when the files are parsed from a staging copy); ``scale`` bounds the ratings."""
    parser = {
        FORMAT_ML100K: parse_ml100k,
        FORMAT_ML1M: parse_ml1m,
        FORMAT_CSV: parse_csv,
        FORMAT_RECBOLE: parse_recbole,
    }[fmt]
    return parser(Path(folder), scale=scale, label=label or str(folder))


@dataclass
class _Table:
    """A file read into a frame, remembering which file line each row came from."""

    name: str  # what errors call the file
    frame: pd.DataFrame
    lines: np.ndarray  # 1-based file line of each row

    def fail(self, row: int, problem: str) -> ParseError:
        line = int(self.lines[row])
        return ParseError(f"{self.name} line {line}: {problem}; {ADVICE}", self.name, line)

    def require(self, columns: list[str], described: list[str]) -> None:
        """Every row has a value in each of ``columns`` (a short line leaves the last ones empty)."""
        missing = self.frame[columns].isna().to_numpy()
        if not missing.any():
            return
        row = int(np.flatnonzero(missing.any(axis=1))[0])
        col = int(np.flatnonzero(missing[row])[0])
        if missing[row, col:].all():
            later = " and the fields after it are" if col < len(columns) - 1 else " is"
            raise self.fail(row, f"has too few fields: the {described[col]}{later} missing")
        raise self.fail(row, f"the {described[col]} is empty")

    def integers(self, column: str, what: str) -> np.ndarray:
        values = self.frame[column]
        if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(values.dtype, pd.ArrowDtype):
            out = values.to_numpy(np.int64)
            bad = np.abs(out) > MAX_ID
        else:
            number = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
            with np.errstate(invalid="ignore"):
                bad = np.isnan(number) | (np.mod(number, 1) != 0) | (np.abs(number) > MAX_ID)
            out = None if bad.any() else number.astype(np.int64)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise self.fail(row, f"the {what} {_raw(values.iloc[row])} is not an integer")
        return out

    def ratings(self, column: str, scale: RatingScale | None) -> np.ndarray:
        values = self.frame[column]
        number = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(number)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise self.fail(row, f"the rating {_raw(values.iloc[row])} is not a number")
        if scale is not None:
            steps = (number - scale.low) / scale.step
            off = (number < scale.low) | (number > scale.high) | (np.abs(steps - np.round(steps)) > 1e-6)
            if off.any():
                row = int(np.flatnonzero(off)[0])
                raise self.fail(row, f"the rating {_raw(values.iloc[row])} is outside {scale.describe()}")
        return number.astype(np.float32)

    def unique(self, ids: np.ndarray, what: str) -> None:
        order = np.argsort(ids, kind="stable")
        repeated = np.flatnonzero(ids[order][1:] == ids[order][:-1])
        if repeated.size:
            first, second = sorted((int(order[repeated[0]]), int(order[repeated[0] + 1])))
            raise self.fail(second, f"{what} {ids[second]} repeats line {int(self.lines[first])}")


def _raw(value) -> str:
    """A field as the file wrote it (a column with blank lines is read as floats: 7.0 -> '7')."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "an empty field"
    if isinstance(value, (float, np.floating)):
        return repr(np.format_float_positional(value, trim="-"))
    return repr(str(value))


def _read_table(
    source: Path | bytes,
    name: str,
    sep: str,
    columns: list[str] | None,
    encoding: str = "utf-8",
    header: bool = False,
    quoting: int = csv.QUOTE_NONE,
    dtype=None,
) -> _Table:
    """Read a delimited file with pandas' C reader, turning its errors into line-exact ones.

    ``index_col=False`` and the ParserWarning filter stop pandas from silently taking a first
    line with an extra field as an index; blank lines are kept as rows (so row -> line stays
    exact) and then dropped.
    """
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                handle, sep=sep, header=0 if header else None, names=None if header else columns,
                encoding=encoding, quoting=quoting, index_col=False, skip_blank_lines=False,
                dtype=dtype, keep_default_na=False, na_values=[""], low_memory=False,
            )
    except pd.errors.ParserWarning:
        first = 2 if header else 1
        raise ParseError(f"{name} line {first}: has more fields than the {len(columns or [])} expected; {ADVICE}",
                         name, first) from None
    except pd.errors.ParserError as error:
        match = _PANDAS_FIELDS.search(str(error))
        if match:
            expected, line, saw = (int(g) for g in match.groups())
            raise ParseError(f"{name} line {line}: has {saw} fields, expected {expected}; {ADVICE}", name, line) from None
        raise ParseError(f"{name}: {str(error).strip()}; {ADVICE}", name) from None
    except UnicodeDecodeError as error:
        raise ParseError(f"{name}: not {encoding} text ({error.reason} at byte {error.start}); {ADVICE}", name) from None
    except pd.errors.EmptyDataError:
        raise ParseError(f"{name} is empty; {ADVICE}", name) from None
    if header and columns is not None:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise ParseError(f"{name} line 1: the header lacks the columns {absent}; {ADVICE}", name, 1)
    lines = np.arange(len(frame), dtype=np.int64) + (2 if header else 1)
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        frame, lines = frame.loc[~blank].reset_index(drop=True), lines[~blank]
    return _Table(name, frame, lines)


def _require_files(folder: Path, label: str, *names: str) -> None:
    missing = [n for n in names if not (folder / n).exists()]
    if missing:
        raise ParseError(f"{label} lacks {', '.join(missing)}: copy the whole dataset folder (or its zip)", label)


def _ratings_frame(table: _Table, cols: tuple[str, str, str, str], scale: RatingScale | None) -> pd.DataFrame:
    u, i, r, t = cols
    table.require(list(cols), ["user id", "movie id", "rating", "timestamp"])
    return pd.DataFrame(
        {
            USER_COL: table.integers(u, "user id"),
            ITEM_COL: table.integers(i, "movie id"),
            RATING_COL: table.ratings(r, scale),
            TIMESTAMP_COL: table.integers(t, "timestamp"),
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


def parse_ml100k(folder: Path, scale: RatingScale | None = None, label: str | None = None):
    """``u.data`` (tab separated), ``u.item`` (pipe separated, latin-1, 19 genre flags), ``u.user``."""
    label = label or str(folder)
    _require_files(folder, label, "u.data", "u.item")
    data = _read_table(folder / "u.data", f"{label}/u.data", "\t", ["u", "i", "r", "t"])
    item_cols = ["id", "title", "release", "video", "imdb_url", *ML100K_GENRES]
    items = _read_table(folder / "u.item", f"{label}/u.item", "|", item_cols, encoding="latin-1",
                        dtype={"title": str, "release": str, "video": str, "imdb_url": str})
    items.require(["id", *ML100K_GENRES], ["movie id", *(f"genre flag {g!r}" for g in ML100K_GENRES)])
    ids = items.integers("id", "movie id")
    items.unique(ids, "movie id")
    flags = np.column_stack([items.integers(g, f"genre flag {g!r}") for g in ML100K_GENRES])
    off = ~np.isin(flags, (0, 1))
    if off.any():
        row, col = (int(x[0]) for x in np.nonzero(off))
        raise items.fail(row, f"the genre flag {ML100K_GENRES[col]!r} is {flags[row, col]}, not 0 or 1")
    flags = flags.astype(bool)
    genres = [[g for g, on in zip(ML100K_GENRES, row, strict=True) if on] for row in flags]
    release_years = pd.to_datetime(items.frame["release"], format="%d-%b-%Y", errors="coerce").dt.year
    fallback = [None if pd.isna(y) else int(y) for y in release_years]
    movies = _movies_frame(ids, items.frame["title"].fillna(""), genres, fallback)
    ratings = _ratings_frame(data, ("u", "i", "r", "t"), scale)
    users = None
    if (folder / "u.user").exists():
        table = _read_table(folder / "u.user", f"{label}/u.user", "|", [USER_COL, "age", "gender", "occupation", "zip_code"],
                            encoding="latin-1", dtype={"gender": str, "occupation": str, "zip_code": str})
        table.require([USER_COL, "age", "gender", "occupation"], ["user id", "age", "gender", "occupation"])
        users = table.frame.assign(**{USER_COL: table.integers(USER_COL, "user id"), "age": table.integers("age", "age")})
    return movies, ratings, users, {}


def _dat_bytes(path: Path, name: str) -> bytes:
    """A ``::``-separated file with ``::`` turned into tabs, for pandas' fast single-character reader.

    ratings.dat and users.dat hold only numbers and codes, so no field can contain a tab or ``::``.
    """
    raw = path.read_bytes()
    if b"\t" in raw:
        line = raw[: raw.index(b"\t")].count(b"\n") + 1
        raise ParseError(f"{name} line {line}: holds a tab, which the '::' format never does; {ADVICE}", name, line)
    return raw.replace(b"::", b"\t")


def parse_ml1m(folder: Path, scale: RatingScale | None = None, label: str | None = None):
    """``::``-separated ``ratings.dat``, ``movies.dat`` (pipe-separated genres) and ``users.dat``, latin-1."""
    label = label or str(folder)
    _require_files(folder, label, "ratings.dat", "movies.dat")
    r = _read_table(_dat_bytes(folder / "ratings.dat", f"{label}/ratings.dat"), f"{label}/ratings.dat", "\t", ["u", "i", "r", "t"], encoding="latin-1")
    ratings = _ratings_frame(r, ("u", "i", "r", "t"), scale)
    movies = _parse_movies_dat(folder / "movies.dat", f"{label}/movies.dat")
    users = None
    if (folder / "users.dat").exists():
        u = _read_table(_dat_bytes(folder / "users.dat", f"{label}/users.dat"), f"{label}/users.dat", "\t", [USER_COL, "gender", "age", "occupation", "zip_code"],
                        encoding="latin-1", dtype={"gender": str, "zip_code": str})
        u.require([USER_COL, "gender", "age", "occupation"], ["user id", "gender", "age", "occupation"])
        occupation = u.integers("occupation", "occupation code")
        unknown = ~np.isin(occupation, list(ML1M_OCCUPATIONS))
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise u.fail(row, f"the occupation code {occupation[row]} is not one of ml-1m's 0-20")
        users = pd.DataFrame(
            {
                USER_COL: u.integers(USER_COL, "user id"),
                "age": u.integers("age", "age"),
                "gender": u.frame["gender"].to_numpy(),
                "occupation": pd.Series(occupation).map(ML1M_OCCUPATIONS).to_numpy(),
                "zip_code": u.frame["zip_code"].to_numpy(),
            }
        )
    return movies, ratings, users, {}


def _parse_movies_dat(path: Path, name: str) -> pd.DataFrame:
    """``id::title::genres``: split at the first and the last ``::`` so a title may hold colons.

    The catalogue is small (3,883 lines in ml-1m), so a Python loop costs milliseconds here.
    """
    text = path.read_bytes().decode("latin-1")
    ids, titles, genres, lines = [], [], [], []
    # split("\n"), not splitlines(): latin-1 titles may hold \x85 or \x1c, which splitlines() takes for line ends.
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        head, sep, rest = line.partition("::")
        title, sep2, genre_field = rest.rpartition("::")
        if not (sep and sep2):
            fields = line.count("::") + 1
            raise ParseError(f"{name} line {number}: has {fields} fields, expected 3 (movie id, title, genres); {ADVICE}",
                             name, number)
        ids.append(head)
        titles.append(title)
        genres.append(genre_field.split("|"))
        lines.append(number)
    table = _Table(name, pd.DataFrame({"id": ids}), np.asarray(lines, dtype=np.int64))
    movie_ids = table.integers("id", "movie id")
    table.unique(movie_ids, "movie id")
    return _movies_frame(movie_ids, titles, genres)


def parse_csv(folder: Path, scale: RatingScale | None = None, label: str | None = None):
    """``movies.csv``/``ratings.csv`` plus optional ``links.csv`` and ``tags.csv`` (UTF-8, quoted titles)."""
    label = label or str(folder)
    _require_files(folder, label, "ratings.csv", "movies.csv")
    minimal = csv.QUOTE_MINIMAL
    r = _read_table(folder / "ratings.csv", f"{label}/ratings.csv", ",", ["userId", "movieId", "rating", "timestamp"],
                    header=True, quoting=minimal)
    m = _read_table(folder / "movies.csv", f"{label}/movies.csv", ",", ["movieId", "title", "genres"],
                    header=True, quoting=minimal, dtype={"title": str, "genres": str})
    m.require(["movieId", "title"], ["movie id", "title"])
    ids = m.integers("movieId", "movie id")
    m.unique(ids, "movie id")
    movies = _movies_frame(ids, m.frame["title"], [str(g).split("|") for g in m.frame["genres"].fillna("")])
    ratings = _ratings_frame(r, ("userId", "movieId", "rating", "timestamp"), scale)
    extras = {}
    if (folder / "links.csv").exists():
        links = _read_table(folder / "links.csv", f"{label}/links.csv", ",", ["movieId", "imdbId", "tmdbId"],
                            header=True, quoting=minimal, dtype={"imdbId": str, "tmdbId": str})
        link_ids = links.integers("movieId", "movie id")
        imdb_raw = links.frame["imdbId"]
        bad = imdb_raw.notna() & ~imdb_raw.fillna("").str.fullmatch(r"\d{1,9}")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise links.fail(row, f"the IMDb id {_raw(imdb_raw.iloc[row])} is not a number")
        # IMDb ids are "tt" + 7 digits; the CSV stores them without the prefix and leading zeros.
        imdb = pd.Series([f"tt{int(s):07d}" if isinstance(s, str) else None for s in imdb_raw], index=link_ids)
        tmdb = pd.Series(pd.to_numeric(links.frame["tmdbId"], errors="coerce").to_numpy(), index=link_ids)
        movies["imdb_id"] = movies[ITEM_COL].map(imdb).astype("string")
        movies["tmdb_id"] = movies[ITEM_COL].map(tmdb).astype("Int64")
    if (folder / "tags.csv").exists():
        t = _read_table(folder / "tags.csv", f"{label}/tags.csv", ",", ["userId", "movieId", "tag", "timestamp"],
                        header=True, quoting=minimal, dtype={"tag": str})
        tags = t.frame.assign(userId=t.integers("userId", "user id"), movieId=t.integers("movieId", "movie id"))
        extras["tags"] = tags.rename(columns={"userId": USER_COL, "movieId": ITEM_COL})
    return movies, ratings, None, extras


def _recbole_table(path: Path, name: str, dtype=None) -> _Table:
    table = _read_table(path, name, "\t", None, header=True, dtype=dtype)
    table.frame.columns = [c.split(":")[0] for c in table.frame.columns]
    return table


def parse_recbole(folder: Path, scale: RatingScale | None = None, label: str | None = None):
    """RecBole's atomic files: ``.inter`` (user, item, rating, timestamp), ``.item``, ``.user``.

    Headers carry types (``user_id:token``); genres are a space-separated ``class`` field and
    titles keep GroupLens' trailing-article form without the year, which is its own field.
    """
    label = label or str(folder)
    inter = next(folder.glob("*.inter"))
    item = next(folder.glob("*.item"), None)
    if item is None:
        raise ParseError(f"{label} has {inter.name} but no .item file: copy the whole dataset folder", label)
    r = _recbole_table(inter, f"{label}/{inter.name}")
    i = _recbole_table(item, f"{label}/{item.name}", dtype=str)
    for table, needed in ((r, ["user_id", "item_id", "rating", "timestamp"]),
                          (i, ["item_id", "movie_title", "release_year", "class"])):
        absent = [c for c in needed if c not in table.frame.columns]
        if absent:
            raise ParseError(f"{table.name} line 1: the header lacks the columns {absent}; {ADVICE}", table.name, 1)
    i.frame = i.frame.fillna("")
    item_ids = i.integers("item_id", "movie id")
    i.unique(item_ids, "movie id")
    years = [int(y) if y.isdigit() else None for y in i.frame["release_year"]]
    # RecBole keeps a typo of the data's placeholder title ("unkonwn") for movie 267.
    titles = ["unknown" if t == "unkonwn" else t for t in i.frame["movie_title"]]
    movies = _movies_frame(item_ids, titles, [c.split() for c in i.frame["class"]])
    movies[YEAR_COL] = pd.array(years, dtype="Int64")
    ratings = _ratings_frame(r, ("user_id", "item_id", "rating", "timestamp"), scale)
    users = None
    user_file = next(folder.glob("*.user"), None)
    if user_file is not None:
        u = _recbole_table(user_file, f"{label}/{user_file.name}", dtype=str)
        u.require(["user_id", "age"], ["user id", "age"])
        users = pd.DataFrame(
            {
                USER_COL: u.integers("user_id", "user id"),
                "age": u.integers("age", "age"),
                "gender": u.frame["gender"].to_numpy(),
                "occupation": u.frame["occupation"].to_numpy(),
                "zip_code": u.frame["zip_code"].to_numpy(),
            }
        )
    return movies, ratings, users, {}
