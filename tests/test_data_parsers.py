import pytest

from recsys_utils.data import load_movielens
from recsys_utils.data.parsers import ParseError, detect_format, parse_folder
from recsys_utils.data.sources import OFFLINE_ENV
from tests.grouplens_fixtures import write_csv, write_ml1m, write_ml100k, write_recbole


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(OFFLINE_ENV, "1")


def _by_id(frame, movie_id):
    return frame.set_index("movie_id").loc[movie_id]


def test_ml100k_format(tmp_path):
    data = load_movielens("ml-100k", source=write_ml100k(tmp_path / "ml-100k"))
    movies = data.movies
    assert list(movies.columns[:5]) == ["movie_id", "title", "year", "genres", "text"]
    assert _by_id(movies, 12).title == "The Usual Suspects" and _by_id(movies, 12).year == 1995
    assert _by_id(movies, 12).genres == ["Crime", "Thriller"]
    assert _by_id(movies, 179).title == "A Clockwork Orange"
    assert _by_id(movies, 1).genres == ["Animation", "Children's", "Comedy"]
    # The "unknown" genre flag is a placeholder, not a genre worth embedding.
    assert _by_id(movies, 1373).genres == [] and _by_id(movies, 1373).year == 1971
    assert movies.set_index("movie_id").year.isna()[267]
    assert movies.year.dtype.name == "Int64"
    ratings = data.ratings
    assert ratings.dtypes.astype(str).to_dict() == {
        "user_id": "int64", "movie_id": "int64", "rating": "float32", "timestamp": "int64"}
    assert len(ratings) == 6 and set(data.users.columns) >= {"user_id", "age", "gender", "occupation", "zip_code"}
    assert data.users.set_index("user_id").loc[186, "zip_code"] == "00000"  # zip codes stay strings
    assert _by_id(movies, 12).text == "Title: The Usual Suspects. Genres: Crime, Thriller. Year: 1995."


def test_ml1m_format(tmp_path):
    data = load_movielens("ml-1m", source=write_ml1m(tmp_path / "ml-1m"))
    assert _by_id(data.movies, 73).title == "Les Misérables"
    assert _by_id(data.movies, 2).genres == ["Adventure", "Children's", "Fantasy"]
    assert data.users.set_index("user_id").loc[1, "occupation"] == "K-12 student"
    assert data.ratings.rating.tolist() == [5.0, 3.0, 4.0]


def test_csv_format_with_links_and_tags(tmp_path):
    data = load_movielens("ml-latest-small", source=write_csv(tmp_path / "ml-latest-small"))
    movies = data.movies
    assert _by_id(movies, 11).title == "The American President"
    assert _by_id(movies, 5618).title == "Spirited Away (Sen to Chihiro no kamikakushi)"
    assert _by_id(movies, 5618).year == 2001
    assert _by_id(movies, 143410).genres == [] and movies.set_index("movie_id").year.isna()[143410]
    assert _by_id(movies, 171749).year == 2006  # series years "(2006–2007)"
    assert _by_id(movies, 1).imdb_id == "tt0114709" and _by_id(movies, 1).tmdb_id == 862
    assert data.users is None
    assert set(data.ratings.rating) == {4.0, 3.5, 5.0, 0.5, 4.5}
    assert data.tags.tag.tolist() == ["Studio Ghibli", "politics, romance"]


def test_recbole_format(tmp_path):
    data = load_movielens("ml-100k", source=write_recbole(tmp_path / "rb"))
    assert _by_id(data.movies, 12).title == "The Usual Suspects"
    assert _by_id(data.movies, 267).title == "unknown" and _by_id(data.movies, 267).genres == []
    assert data.users is not None and len(data.ratings) == 3


def test_zip_source_with_nested_folder(tmp_path):
    import shutil

    write_ml100k(tmp_path / "src" / "ml-100k")
    archive = shutil.make_archive(str(tmp_path / "ml-100k"), "zip", tmp_path / "src")
    data = load_movielens("ml-100k", source=archive)
    assert len(data.ratings) == 6 and data.source == "local-zip:ml-100k.zip"


def test_detect_format(tmp_path):
    assert detect_format(write_ml1m(tmp_path / "a")) == "ml-1m"
    assert detect_format(write_csv(tmp_path / "b")) == "csv"
    assert detect_format(tmp_path / "b" / "nothing") is None


def test_truncated_file_gives_a_parse_error(tmp_path):
    folder = write_ml100k(tmp_path / "bad", items=["1|Toy Story (1995)|01-Jan-1995||url|0|0"])
    with pytest.raises(ParseError, match=r"u.item line 1: has too few fields: the genre flag 'Adventure' and the fields after it are missing"):
        parse_folder(folder, "ml-100k")


def test_ratings_of_movies_missing_from_the_catalogue_are_dropped_and_counted(tmp_path):
    from recsys_utils.data import coverage

    folder = write_ml100k(tmp_path / "x", data=["1\t99999\t4\t881250949", "1\t99998\t4\t881250950", "2\t1\t5\t881250951"])
    data = load_movielens("ml-100k", source=folder)
    assert data.dangling_ratings == 2 and data.ratings.movie_id.tolist() == [1]
    assert coverage(data) == {"n_movies": 7, "n_rated_movies": 1, "n_unrated_movies": 6, "n_dangling_ratings": 2}


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="choose one of ml-100k"):
        load_movielens("ml-5k")
