"""Query understanding of a free-text wish and the popularity prior of the fusion (planted data).
All tests run in well under a second each."""

from __future__ import annotations

import numpy as np
import pytest
from lesson03_synthetic import synthetic_ratings, temporal_split

from recsys_utils import evaluation
from recsys_utils.candidates import TitleIndex, build_generator, fit_cf_vectors
from recsys_utils.candidates.build import _memory_stores
from recsys_utils.candidates.wish import understand_wish

GENRES = ["Action", "Comedy", "Drama", "Sci-Fi", "Thriller"]


@pytest.fixture(scope="module")
def world():
    ratings, movies, vectors = synthetic_ratings(n_users=120, n_items=150, per_user=30, seed=11)
    rng = np.random.default_rng(5)
    movies["genres"] = [sorted(set(rng.choice(GENRES, size=rng.integers(1, 3)).tolist())) for _ in range(len(movies))]
    movies.loc[0, "title"], movies.loc[0, "genres"] = "Inception", ["Action", "Sci-Fi", "Thriller"]
    train, test = temporal_split(ratings)
    data = evaluation.build_eval_data(train, test, movies.movie_id)
    cf = fit_cf_vectors(data.train, data.user_ids, factors=16, regularization=1.0, iterations=8, seed=0)
    cf_store, text_store = _memory_stores(movies, cf, vectors)

    def encode(texts):  # a wish "means" the mean of the first few movies' vectors
        return np.repeat(vectors[:5].mean(axis=0, keepdims=True), len(texts), axis=0)

    gen = build_generator(movies, train, vectors, cf, cf_store, text_store, text_weight=0.0, cold_text_weight=0.3,
                          encode=encode)
    return movies, train, data, gen


def test_genre_words_and_named_titles_are_read():
    titles = TitleIndex([1, 2, 3], ["Inception", "Interstellar", "Heat"])
    wish = understand_wish("a sci-fi thriller like Inception, please", titles, GENRES)
    assert wish.genres == ("Sci-Fi", "Thriller")
    assert wish.liked_movie_ids == (1,)
    assert wish.filter == {"$and": [{"genres": {"$in": ["Sci-Fi"]}}, {"genres": {"$in": ["Thriller"]}}]}
    assert wish.relaxed_filter == {"genres": {"$in": ["Sci-Fi", "Thriller"]}}
    # science fiction is a phrase; genres the catalogue lacks are not filters; unknown titles stay text
    plain = understand_wish("science fiction films like Nothing Known Here", titles, ["Sci-Fi"])
    assert plain.genres == ("Sci-Fi",) and plain.liked_movie_ids == ()
    assert understand_wish("something nice", titles, GENRES).filter is None


def test_a_wish_is_answered_with_its_genres_and_its_named_film_is_not_recommended(world):
    movies, _, _, gen = world
    found = gen.for_profile(wish="a sci-fi thriller like Inception", k=4)
    genres = movies.set_index("movie_id").genres
    strict = [m for m in movies.movie_id if {"Sci-Fi", "Thriller"} <= set(genres.loc[m]) and m != 1]
    assert len(strict) >= 4 and len(found) == 4
    assert all({"Sci-Fi", "Thriller"} <= set(genres.loc[m]) for m in found.movie_ids)
    assert 1 not in found.movie_ids  # Inception was read as a liked film, so it is excluded


def test_a_strict_filter_with_too_few_films_falls_back_to_any_named_genre(world):
    movies, _, _, gen = world
    genres = movies.set_index("movie_id").genres
    found = gen.for_profile(wish="a sci-fi comedy thriller", k=40)
    assert len(found) == 40
    assert all({"Sci-Fi", "Comedy", "Thriller"} & set(genres.loc[m]) for m in found.movie_ids)


def test_the_popularity_prior_lifts_popular_films_and_zero_changes_nothing(world):
    _, train, data, gen = world
    users = data.user_ids[:30]
    rows = np.searchsorted(gen.user_ids, users)
    pools = gen.pools(rows, 100, text_weight=1.0)
    plain = [gen.fuse(p, 1.0, 10) for p in pools]
    same = [gen.fuse(p, 1.0, 10, 0.0) for p in pools]
    lifted = [gen.fuse(p, 1.0, 10, 2.0) for p in pools]
    assert all(np.array_equal(a.movie_ids, b.movie_ids) for a, b in zip(plain, same, strict=True))
    counts = train.movie_id.value_counts()

    def mean_popularity(lists):
        return np.mean([counts.get(m, 0) for c in lists for m in c.movie_ids])

    assert mean_popularity(lifted) > mean_popularity(plain)


def test_the_prior_is_adopted_only_when_it_beats_the_plain_setting_by_a_standard_error():
    from recsys_utils.candidates.build import _one_se_choice

    rng = np.random.default_rng(0)
    plain = rng.uniform(0, 0.2, size=400)
    noise = {"plain": plain, "prior": plain + rng.normal(0.0005, 0.05, size=400)}
    real = {"plain": plain, "prior": plain + rng.normal(0.03, 0.05, size=400)}
    assert _one_se_choice(noise, "plain") == "plain"
    assert _one_se_choice(real, "plain") == "prior"
