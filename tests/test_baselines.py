"""CF baselines: exact formulas on tiny matrices, shared interface, sane orderings on planted data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from lesson03_synthetic import synthetic_ratings, temporal_split

from recsys_utils import baselines, evaluation

TINY = sp.csr_matrix(np.array([
    [1, 1, 0, 0, 1],
    [1, 0, 1, 0, 0],
    [0, 1, 1, 1, 0],
    [1, 1, 0, 1, 0],
], dtype=np.float32))


def all_models():
    return [
        baselines.RandomRecommender(seed=1),
        baselines.MostPopular(),
        baselines.ItemKNN(n_neighbours=10),
        baselines.EASE(l2=10.0),
        baselines.ImplicitMF("als", factors=8, iterations=5),
        baselines.ImplicitMF("bpr", factors=8, iterations=20),
    ]


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.name)
def test_every_model_scores_a_batch_of_users_for_every_item(model):
    scores = model.fit(TINY).score(np.array([0, 2]))
    assert scores.shape == (2, 5) and scores.dtype == np.float32
    assert np.all(np.isfinite(scores))


def test_unfitted_and_bad_input_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        baselines.EASE().score([0])
    with pytest.raises(TypeError, match="sparse"):
        baselines.EASE().fit(np.ones((3, 3)))
    with pytest.raises(ValueError, match="empty"):
        baselines.MostPopular().fit(sp.csr_matrix((3, 3)))
    with pytest.raises(IndexError, match="user rows"):
        baselines.MostPopular().fit(TINY).score([7])
    with pytest.raises(ValueError, match="kind"):
        baselines.ImplicitMF("svd").fit(TINY)


def test_most_popular_counts_users_and_ignores_rating_values():
    weighted = TINY.multiply(np.array([[5, 1, 1, 1, 1]])).tocsr()  # stars must not matter
    scores = baselines.MostPopular().fit(weighted).score([0, 1])
    np.testing.assert_array_equal(scores, [[3, 3, 2, 2, 1]] * 2)


def test_random_is_seeded_and_independent_of_the_batch():
    a = baselines.RandomRecommender(seed=3).fit(TINY)
    np.testing.assert_array_equal(a.score([2]), a.score([0, 1, 2])[2:])
    np.testing.assert_array_equal(a.score([1]), baselines.RandomRecommender(seed=3).fit(TINY).score([1]))
    assert not np.allclose(a.score([1]), baselines.RandomRecommender(seed=4).fit(TINY).score([1]))


def test_ease_weights_solve_the_constrained_ridge_regression():
    """Column j of B is the ridge regression of item j on the other items (diag fixed at 0)."""
    l2 = 2.0
    model = baselines.EASE(l2=l2).fit(TINY)
    x = TINY.toarray().astype(np.float64)
    for j in range(x.shape[1]):
        others = [i for i in range(x.shape[1]) if i != j]
        xo = x[:, others]
        expected = np.linalg.solve(xo.T @ xo + l2 * np.eye(len(others)), xo.T @ x[:, j])
        np.testing.assert_allclose(model.weights_[others, j], expected, rtol=1e-4, atol=1e-5)
        assert model.weights_[j, j] == 0
    np.testing.assert_allclose(model.score([1]), x[[1]] @ model.weights_, rtol=1e-5)


def test_ease_max_items_fits_the_most_rated_movies_only():
    full = baselines.EASE(l2=2.0).fit(TINY)
    counts = np.asarray(TINY.sum(axis=0)).ravel()
    capped = baselines.EASE(l2=2.0, max_items=3).fit(TINY)
    kept = np.sort(np.argsort(-counts, kind="stable")[:3])
    np.testing.assert_array_equal(capped.kept_, kept)
    scores = capped.score([0, 1])
    assert np.isneginf(np.delete(scores, kept, axis=1)).all()
    x = TINY.toarray().astype(np.float64)[:, kept]
    expected = baselines.EASE(l2=2.0).fit(sp.csr_matrix(x)).score([0, 1])
    np.testing.assert_allclose(scores[:, kept], expected, rtol=1e-5)
    assert full.score([0]).shape == scores[:1].shape


def test_item_knn_is_shrunk_cosine_with_pruned_neighbours():
    x = TINY.toarray()
    norms = np.sqrt(x.sum(axis=0))
    model = baselines.ItemKNN(n_neighbours=10, shrink=0.0).fit(TINY)
    sim = model.similarity_.toarray()
    expected = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(sim, expected, rtol=1e-5)
    pruned = baselines.ItemKNN(n_neighbours=1, shrink=0.0).fit(TINY).similarity_.toarray()
    assert np.all((pruned > 0).sum(axis=0) <= 1)
    np.testing.assert_allclose(pruned.max(axis=0), expected.max(axis=0), rtol=1e-5)


def test_item_knn_blocks_give_the_same_similarity(monkeypatch):
    whole = baselines.ItemKNN(n_neighbours=2, shrink=1.0).fit(TINY).similarity_.toarray()
    monkeypatch.setattr(baselines, "KNN_BLOCK_BYTES", 1)  # one column per block
    blocked = baselines.ItemKNN(n_neighbours=2, shrink=1.0).fit(TINY).similarity_.toarray()
    np.testing.assert_allclose(blocked, whole, rtol=1e-6)


def test_als_is_reproducible_for_a_seed():
    a = baselines.ImplicitMF("als", factors=4, iterations=3, seed=5).fit(TINY).score([0, 1])
    b = baselines.ImplicitMF("als", factors=4, iterations=3, seed=5).fit(TINY).score([0, 1])
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_threads_default_to_the_available_cpus():
    assert 1 <= baselines.available_cpus() <= (__import__("os").cpu_count() or 1)


def test_orderings_on_planted_taste_groups():
    ratings, movies, _ = synthetic_ratings(seed=0)
    train, test = temporal_split(ratings)
    data = evaluation.build_eval_data(train, test, movies.movie_id)
    ndcg = {}
    for model in all_models():
        ranked = evaluation.rank_with_model(model.fit(data.train), data, k=10)
        ndcg[model.name] = evaluation.evaluate_ranked(ranked, data, ks=(10,))["ndcg@10"].mean()
    for learned in ("item_knn", "ease", "als", "bpr"):
        assert ndcg[learned] > ndcg["random"] + 0.05, ndcg
    assert max(ndcg["ease"], ndcg["als"]) > ndcg["most_popular"], ndcg
