"""Property-based fuzzing of the GroupLens parsers (issue 15, item 3).

Random files in each real format parse back to what was written; one corrupted line anywhere
gives a ParseError that names exactly that line.
"""

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_utils.data.parsers import ML100K_GENRES, ParseError, parse_folder
from recsys_utils.data.registry import HALF_STARS, WHOLE_STARS
from recsys_utils.data.titles import parse_title

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.integers(min_value=1, max_value=10**7)
timestamps = st.integers(min_value=0, max_value=2**31)
whole_stars = st.integers(min_value=1, max_value=5)
half_stars = st.integers(min_value=1, max_value=10).map(lambda k: k / 2)
# Titles as GroupLens writes them: any printable text (latin-1 for the old formats), a year or not.
latin1_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), min_size=1, max_size=40)
unicode_text = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40)
years = st.one_of(st.none(), st.integers(min_value=1890, max_value=2030))


def _titled(text: str, year: int | None) -> str:
    return f"{text} ({year})" if year is not None else text


def _ratings_rows(draw, movie_ids, stars):
    n = draw(st.integers(min_value=1, max_value=30))
    return [(draw(ids), draw(st.sampled_from(movie_ids)), draw(stars), draw(timestamps)) for _ in range(n)]


# A corruption of one ratings line and the message it must produce.
CORRUPTIONS = {
    "short": (lambda f: f[:2], "has too few fields"),
    "long": (lambda f: [*f, "7"], "fields"),
    "fractional user": (lambda f: ["5.7", *f[1:]], "the user id '5.7' is not an integer"),
    "text movie": (lambda f: [f[0], "x1", *f[2:]], "the movie id 'x1' is not an integer"),
    "rating 99": (lambda f: [*f[:2], "99", f[3]], "the rating '99' is outside"),
    "rating -3": (lambda f: [*f[:2], "-3", f[3]], "the rating '-3' is outside"),
}


@st.composite
def ml100k_files(draw):
    n_movies = draw(st.integers(min_value=1, max_value=12))
    movie_ids = draw(st.lists(ids, min_size=n_movies, max_size=n_movies, unique=True))
    items = []
    for movie_id in movie_ids:
        title = _titled(draw(latin1_text.filter(lambda t: "|" not in t and t.strip())), draw(years))
        flags = draw(st.lists(st.integers(0, 1), min_size=19, max_size=19))
        items.append((movie_id, title, flags))
    return items, _ratings_rows(draw, movie_ids, whole_stars)


def _write_ml100k(folder: Path, items, ratings, data_lines=None):
    item_lines = [f"{i}|{t}|01-Jan-1995||http://x|" + "|".join(map(str, f)) for i, t, f in items]
    (folder / "u.item").write_bytes(("\n".join(item_lines) + "\n").encode("latin-1"))
    lines = data_lines if data_lines is not None else ["\t".join(map(str, r)) for r in ratings]
    (folder / "u.data").write_text("\n".join(lines) + "\n")


@FUZZ
@given(ml100k_files())
def test_random_ml100k_files_parse_back(files):
    items, ratings = files
    with tempfile.TemporaryDirectory() as tmp:
        _write_ml100k(Path(tmp), items, ratings)
        movies, parsed, _, _ = parse_folder(Path(tmp), "ml-100k", scale=WHOLE_STARS)
    assert parsed[["user_id", "movie_id", "rating", "timestamp"]].to_numpy().tolist() == [list(map(float, r)) for r in ratings]
    by_id = movies.set_index("movie_id")
    for movie_id, title, flags in items:
        assert by_id.loc[movie_id, "title"] == parse_title(title)[0]
        assert by_id.loc[movie_id, "genres"] == [g for g, on in zip(ML100K_GENRES, flags, strict=True) if on and g != "unknown"]


@FUZZ
@given(ml100k_files(), st.sampled_from(sorted(CORRUPTIONS)), st.data())
def test_one_bad_udata_line_is_named(files, kind, data):
    items, ratings = files
    corrupt, message = CORRUPTIONS[kind]
    lines = [[str(x) for x in r] for r in ratings]
    at = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    lines[at] = corrupt(lines[at])
    with tempfile.TemporaryDirectory() as tmp:
        _write_ml100k(Path(tmp), items, ratings, ["\t".join(f) for f in lines])
        try:
            parse_folder(Path(tmp), "ml-100k", scale=WHOLE_STARS, label="src")
        except ParseError as error:
            assert error.line == at + 1 and message in str(error) and "src/u.data" in str(error)
        else:
            raise AssertionError(f"{kind} on line {at + 1} passed silently")


@st.composite
def ml1m_files(draw):
    n_movies = draw(st.integers(min_value=1, max_value=12))
    movie_ids = draw(st.lists(ids, min_size=n_movies, max_size=n_movies, unique=True))
    genre_names = st.sampled_from(["Action", "Children's", "Comedy", "Film-Noir", "Sci-Fi", "Drama"])
    movies = [(m, _titled(draw(latin1_text.filter(str.strip)), draw(years)),
               draw(st.lists(genre_names, min_size=1, max_size=3, unique=True))) for m in movie_ids]
    return movies, _ratings_rows(draw, movie_ids, whole_stars)


@FUZZ
@given(ml1m_files(), st.one_of(st.none(), st.sampled_from(sorted(CORRUPTIONS))), st.data())
def test_random_ml1m_dat_files_latin1(files, kind, data):
    movies, ratings = files
    lines = [[str(x) for x in r] for r in ratings]
    at = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    if kind is not None:
        lines[at] = CORRUPTIONS[kind][0](lines[at])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "movies.dat").write_bytes("".join(f"{m}::{t}::{'|'.join(g)}\n" for m, t, g in movies).encode("latin-1"))
        (folder / "ratings.dat").write_text("".join("::".join(f) + "\n" for f in lines))
        try:
            parsed_movies, parsed, _, _ = parse_folder(folder, "ml-1m", scale=WHOLE_STARS)
        except ParseError as error:
            assert kind is not None and error.line == at + 1 and CORRUPTIONS[kind][1] in str(error)
            return
    assert kind is None, f"{kind} on line {at + 1} passed silently"
    assert parsed["rating"].tolist() == [float(r[2]) for r in ratings]
    by_id = parsed_movies.set_index("movie_id")
    for movie_id, title, genres in movies:
        assert by_id.loc[movie_id, "title"] == parse_title(title)[0]
        assert by_id.loc[movie_id, "genres"] == genres


@st.composite
def csv_files(draw):
    n_movies = draw(st.integers(min_value=1, max_value=12))
    movie_ids = draw(st.lists(ids, min_size=n_movies, max_size=n_movies, unique=True))
    # Titles with commas and quotes, which the CSV quotes ("American President, The (1995)").
    text = st.one_of(unicode_text, st.builds(lambda a, b: f'{a}, "{b}"', unicode_text, unicode_text))
    movies = [(m, _titled(draw(text.filter(str.strip)), draw(years)), draw(st.sampled_from(["Comedy|Drama", "(no genres listed)", "Sci-Fi"])))
              for m in movie_ids]
    return movies, _ratings_rows(draw, movie_ids, half_stars)


@FUZZ
@given(csv_files(), st.one_of(st.none(), st.sampled_from(sorted(CORRUPTIONS))), st.data())
def test_random_csv_files_with_quoted_titles(files, kind, data):
    movies, ratings = files
    rows = [[str(x) for x in r] for r in ratings]
    at = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    if kind is not None:
        rows[at] = CORRUPTIONS[kind][0](rows[at])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["movieId", "title", "genres"])
        writer.writerows(movies)
        (folder / "movies.csv").write_text(out.getvalue(), encoding="utf-8")
        (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(",".join(r) + "\n" for r in rows))
        try:
            parsed_movies, parsed, _, _ = parse_folder(folder, "csv", scale=HALF_STARS)
        except ParseError as error:
            assert kind is not None and error.line == at + 2 and CORRUPTIONS[kind][1] in str(error)
            return
    assert kind is None, f"{kind} on line {at + 2} passed silently"
    assert np.allclose(parsed["rating"].to_numpy(), [float(r[2]) for r in ratings])
    by_id = parsed_movies.set_index("movie_id")
    for movie_id, title, _ in movies:
        assert by_id.loc[movie_id, "title"] == parse_title(title)[0]
