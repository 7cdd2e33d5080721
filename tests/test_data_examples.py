import pandas as pd

from recsys_utils.data import examples
from recsys_utils.data.examples import clear_taste_user, example_movie, example_movies, inception_example


class _Data:
    name = "tiny"

    def __init__(self, movies, ratings):
        self.movies, self.ratings = movies, ratings


def _tiny():
    movies = pd.DataFrame({
        "movie_id": [1, 2, 3, 4, 5],
        "title": ["Inception", "Interstellar", "Heat", "Toy Story", "Unrated"],
        "year": pd.array([2010, 2014, 1995, 1995, 2001], dtype="Int64"),
        "genres": [["Sci-Fi", "Thriller"], ["Sci-Fi"], ["Crime"], ["Animation"], ["Crime"]],
    })
    rows = []
    for user in range(1, 31):
        for movie, rating in ((1, 5), (2, 4), (3, 4 if user % 2 else 2), (4, 5 if user > 25 else 3)):
            rows.append((user, movie, rating))
    # user 31 likes only animation
    rows += [(31, 4, 5)] * 1
    ratings = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])
    return _Data(movies, ratings)


def test_prefers_classic_title_then_most_rated_of_genre():
    data = _tiny()
    assert example_movie(data, "Crime", prefer=("Heat",)).movie_id == 3
    # A preferred title the catalogue lacks falls back to the genre's most-rated film, never an unrated one.
    assert example_movie(data, "Crime", prefer=("Fargo",)).movie_id == 3
    picks = example_movies(data, [("Sci-Fi", ()), ("Sci-Fi", ())])
    assert [p.movie_id for p in picks] == [1, 2]


def test_inception_example_needs_both_films():
    data = _tiny()
    first, second = inception_example(data)
    assert (first.title, second.title) == ("Inception", "Interstellar")
    data.movies = data.movies[data.movies.movie_id != 2]
    assert inception_example(data) is None


def test_clear_taste_user_uses_lift_not_size():
    data = _tiny()
    user, genre = clear_taste_user(data, min_likes=3)
    assert genre == "Animation" and user in range(26, 31)


def test_most_rated_names_genres_when_missing():
    import pytest

    with pytest.raises(LookupError, match="genres present"):
        examples.most_rated(_tiny(), "Western")
