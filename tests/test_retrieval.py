"""Retrieval strategies through the real local vector store (in memory) on planted data."""

from __future__ import annotations

import numpy as np
import pytest
from lesson03_synthetic import ExactStore, synthetic_ratings, temporal_split

from recsys_utils import baselines, evaluation, retrieval
from recsys_utils.embeddings import user_embeddings
from recsys_utils.vectorstore import open_store


@pytest.fixture(scope="module")
def world():
    ratings, movies, vectors = synthetic_ratings(n_users=150, n_items=120, seed=7)
    train, test = temporal_split(ratings)
    data = evaluation.build_eval_data(train, test, movies.movie_id)
    store = open_store("local", name="lesson03-test", dimension=vectors.shape[1], in_memory=True)
    store.upsert([(str(m), v, {"movie_id": int(m)}) for m, v in zip(movies.movie_id, vectors, strict=True)])
    user_ids, profiles = user_embeddings(train, movies, vectors)
    assert np.array_equal(user_ids, data.user_ids)
    return ratings, movies, vectors, train, data, store, profiles


def _ndcg(ranked, data):
    return evaluation.evaluate_ranked(ranked, data, ks=(10,))["ndcg@10"].mean()


def _assert_valid_lists(ranked, data, rows, k):
    assert ranked.shape == (rows.size, k)
    rated = data.train[rows].toarray() != 0
    valid = ranked >= 0
    assert not np.take_along_axis(rated, np.where(valid, ranked, 0), axis=1)[valid].any(), "rated movie recommended"
    for row in ranked:
        shown = row[row >= 0]
        assert shown.size == np.unique(shown).size, "duplicate recommendation"


def test_ids_to_columns_maps_padding_and_unknown_ids():
    _, _, _, _, data, _, _ = world_data()
    cols = retrieval.ids_to_columns(np.array([["1", "", "99999"]]), data)
    assert cols.tolist() == [[0, -1, -1]]
    with pytest.raises(ValueError, match="not movie ids"):
        retrieval.ids_to_columns(np.array([["abc"]]), data)


def world_data():
    ratings, movies, vectors = synthetic_ratings(n_users=20, n_items=30, seed=1)
    train, test = temporal_split(ratings)
    return ratings, movies, vectors, train, evaluation.build_eval_data(train, test, movies.movie_id), None, None


def test_profile_query_drops_rated_movies_and_beats_random(world):
    _, _, _, _, data, store, profiles = world
    rows = data.eval_rows
    ranked = retrieval.profile_query(store, profiles, data, rows, 10)
    _assert_valid_lists(ranked, data, rows, 10)
    assert (ranked >= 0).all()  # over-fetching leaves K real movies for everyone
    random = evaluation.rank_with_model(baselines.RandomRecommender().fit(data.train), data, k=10)
    assert _ndcg(ranked, data) > _ndcg(random, data) + 0.05


def test_profile_query_equals_an_exact_search_oracle(world):
    _, movies, vectors, _, data, store, profiles = world
    rows = data.eval_rows[:30]
    oracle = ExactStore(movies.movie_id, vectors)
    np.testing.assert_array_equal(retrieval.profile_query(store, profiles, data, rows, 10),
                                  retrieval.profile_query(oracle, profiles, data, rows, 10))


class TitleEmbedder:
    """Stands in for MiniLM: a title query lands on the mean vector of the titles it names."""

    def __init__(self, movies, vectors):
        self.lookup = dict(zip(movies.title, vectors, strict=True))

    def encode(self, texts):
        out = []
        for text in texts:
            titles = text.removeprefix("Movies like: ").removesuffix(".").split("; ")
            out.append(np.mean([self.lookup[t] for t in titles], axis=0))
        return np.asarray(out, dtype=np.float32)


def test_favourite_titles_picks_top_rated_recent_titles(world):
    _, movies, _, train, _, _, _ = world
    titles = retrieval.favourite_titles(train, movies, n_titles=3)
    user = train.user_id.iloc[0]
    mine = train[train.user_id == user].sort_values(["rating", "timestamp"], ascending=False)
    expected = movies.set_index("movie_id").loc[mine.movie_id.head(3), "title"].tolist()
    assert titles.loc[user] == expected
    assert retrieval.titles_query_text(["A", "B"]) == "Movies like: A; B."


def test_favourite_titles_query_goes_through_the_store(world):
    _, movies, vectors, train, data, store, _ = world
    rows = data.eval_rows
    ranked = retrieval.favourite_titles_query(store, TitleEmbedder(movies, vectors), train, movies, data, rows, 10)
    _assert_valid_lists(ranked, data, rows, 10)
    random = evaluation.rank_with_model(baselines.RandomRecommender().fit(data.train), data, k=10)
    assert _ndcg(ranked, data) > _ndcg(random, data)


def test_retrieve_unrated_fills_k_for_users_whose_window_is_all_rated(world):
    _, _, vectors, _, data, store, _ = world
    rows = data.eval_rows[:5]
    # ask with each user's own rated movies' mean vector: the window is full of rated movies
    queries = np.stack([vectors[data.train[r].indices].mean(axis=0) for r in rows])
    columns, scores = retrieval.retrieve_unrated(store, queries, data, rows, 30)
    _assert_valid_lists(columns, data, rows, 30)
    assert (columns >= 0).all() and np.all(np.diff(scores, axis=1) <= 1e-6)


def test_reciprocal_rank_fusion_by_hand():
    owner = np.array([0, 0, 1])
    lists = np.array([[3, 1, -1], [1, 2, 3], [0, 1, 2]])
    fused = retrieval.reciprocal_rank_fusion(owner, lists, n_users=2, n_items=4, rrf_k=60).toarray()
    np.testing.assert_allclose(fused[0], [0, 1 / 62 + 1 / 61, 1 / 62, 1 / 61 + 1 / 63])
    np.testing.assert_allclose(fused[1], [1 / 61, 1 / 62, 1 / 63, 0])


def test_per_movie_rrf_uses_one_batched_call_and_liked_seeds(world):
    _, movies, vectors, _, data, _, _ = world
    counting = ExactStore(movies.movie_id, vectors)
    rows = data.eval_rows
    ranked = retrieval.per_movie_rrf(counting, vectors, data, rows, 10, max_seeds=5, per_query=30)
    assert counting.calls == 1
    _assert_valid_lists(ranked, data, rows, 10)
    owner, seeds = retrieval.seed_movies(data, rows, max_seeds=5)
    assert np.bincount(owner).max() <= 5
    ratings = data.train[rows].toarray()
    liked_any = (ratings >= 4).any(axis=1)
    assert (ratings[owner, seeds] >= 4)[liked_any[owner]].all()
