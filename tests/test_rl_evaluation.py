"""Statistics, retrieval of candidate pools, baselines and rollouts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from rliable import metrics as rly_metrics

from recsys_utils.rl import evaluation as ev
from recsys_utils.rl.baselines import (
    RandomPolicy,
    SimilarityGreedy,
    fit_fitted_q,
    fit_myopic_greedy,
    log_random_sessions,
)
from recsys_utils.rl.env import RecommendationEnv
from recsys_utils.rl.oracles import MyopicOracle
from recsys_utils.rl.rollouts import intra_list_diversity, run_sessions
from recsys_utils.rl.simulator import SimulatorConfig
from recsys_utils.rl.synthetic import synthetic_world


def test_iqm_and_probability_of_improvement_match_rliable():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 4)), np.round(rng.normal(size=(6, 4)), 1)
    assert ev.iqm(x) == pytest.approx(rly_metrics.aggregate_iqm(x))
    point, _, _ = ev.probability_of_improvement(x, y)
    assert point == pytest.approx(rly_metrics.probability_of_improvement(x, y))
    assert ev._pairwise_improvement(np.round(x, 0), np.round(x, 0)) == pytest.approx(0.5)


def test_stratified_bootstrap_interval_brackets_the_estimate_and_collapses_without_spread():
    rng = np.random.default_rng(1)
    scores = rng.normal(2.0, 1.0, size=(10, 3))
    point, lo, hi = ev.stratified_bootstrap(scores, ev.mean)
    assert lo < point < hi
    assert ev.stratified_bootstrap(np.full((5, 3), 0.7), ev.iqm) == pytest.approx((0.7, 0.7, 0.7))
    wide = ev.stratified_bootstrap(scores[:3], ev.mean)
    assert (wide[2] - wide[1]) > 0  # fewer runs still gives an interval
    with pytest.raises(ValueError, match="runs, tasks"):
        ev.stratified_bootstrap(np.zeros(4), ev.mean)


def test_normalised_score_maps_references_to_zero_and_one():
    random_ref, oracle_ref = np.array([1.0, 2.0]), np.array([3.0, 6.0])
    np.testing.assert_allclose(ev.normalised(np.array([[1.0, 2.0], [3.0, 6.0], [2.0, 4.0]]), random_ref, oracle_ref),
                               [[0, 0], [1, 1], [0.5, 0.5]])
    with pytest.raises(ValueError, match="undefined"):
        ev.normalised(np.ones((1, 2)), random_ref, random_ref)


def test_activity_groups_are_balanced_and_ordered():
    counts = np.array([50, 3, 20, 7, 100, 1, 30, 9, 60, 2])
    groups = ev.activity_groups(counts, 5)
    assert np.bincount(groups).tolist() == [2, 2, 2, 2, 2]
    assert groups[np.argmin(counts)] == 0 and groups[np.argmax(counts)] == 4


def test_return_gap_sign_and_curve_band():
    a, b = np.full((4, 3), 2.0) + np.arange(4)[:, None] * 0.1, np.ones((4, 3))
    gap = ev.return_gap(a, b)
    assert gap["low"] > 0 and gap["mean"] == pytest.approx(1.15)
    mean, lo, hi = ev.curve_band(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(mean, [2.0, 3.0])
    assert np.all(lo <= mean) and np.all(mean <= hi)


def test_pools_are_the_generators_unseen_lists_in_its_order_with_its_cf_score():
    """The world's pools are exactly ``generator.for_users`` (training ratings excluded, fused order),
    and the collaborative score is the generator's own ALS dot product, clipped."""
    from recsys_utils.rl.candidates import generator_pools
    from recsys_utils.rl.synthetic import synthetic_generator, synthetic_movielens

    movies, ratings, vectors = synthetic_movielens(60, 120, seed=1)
    early = ratings[ratings["timestamp"] < ratings["timestamp"].median()]  # "training" ratings only
    generator = synthetic_generator(movies, early, vectors)
    users = generator.user_ids[:5]
    pools = generator_pools(generator, users, 12)
    assert pools.movie_ids.shape == pools.cf_scores.shape == (5, 12)
    for row, user in enumerate(users):
        expected = generator.for_user(int(user), 12).movie_ids
        np.testing.assert_array_equal(pools.movie_ids[row], expected)
        assert not np.isin(pools.movie_ids[row], early.loc[early["user_id"] == user, "movie_id"]).any()
        u = generator.cf.user_factors[np.searchsorted(generator.user_ids, user)]
        items = generator.item_vectors("cf")[np.searchsorted(generator.movie_ids, expected)]
        np.testing.assert_allclose(pools.cf_scores[row], np.clip(items @ u, -1, 1), atol=1e-5)
    with pytest.raises(ValueError, match="pool_size"):
        generator_pools(generator, users, 119)


def test_intra_list_diversity_bounds():
    assert intra_list_diversity(np.array([[1, 0], [1, 0], [1, 0]], dtype=float)) == pytest.approx(0.0)
    assert intra_list_diversity(np.array([[1, 0], [0, 1]], dtype=float)) == pytest.approx(1.0)
    assert intra_list_diversity(np.array([[1, 0]], dtype=float)) == 0.0


@pytest.fixture(scope="module")
def world():
    return synthetic_world(seed=5, n_users=150)


def test_oracle_beats_random_and_rollouts_are_reproducible(world):
    config = SimulatorConfig()
    oracle = run_sessions(MyopicOracle(), world, "test", config, 10, seed=0, episodes_per_user=3)
    rand = run_sessions(RandomPolicy(0), world, "test", config, 10, seed=0, episodes_per_user=3)
    assert oracle.summary()["mean_return"] > rand.summary()["mean_return"] + 1.0
    again = run_sessions(RandomPolicy(0), world, "test", config, 10, seed=0, episodes_per_user=3)
    np.testing.assert_array_equal(rand.returns, again.returns)
    s = rand.summary()
    assert 0 <= s["ctr"] <= 1 and 1 <= s["session_length"] <= config.max_steps and 0 <= s["diversity"] <= 1


def test_myopic_greedy_learns_from_training_users_and_beats_random(world):
    config = SimulatorConfig()
    logged = log_random_sessions(world, config, 10, n_steps=3000, seed=0)
    assert len(logged) == 3000  # exactly the steps it was given: equal budgets for every learner
    greedy = fit_myopic_greedy(logged, seed=0)
    layout = RecommendationEnv(world, "train", config, 10).layout
    scores = {p.name: run_sessions(p, world, "test", config, 10, seed=3, episodes_per_user=3).summary()["mean_return"]
              for p in (greedy, RandomPolicy(0), SimilarityGreedy(layout))}
    assert scores["myopic greedy"] > scores["random"]


def test_fitted_q_with_gamma_zero_is_the_greedy(world):
    config = SimulatorConfig()
    logged = log_random_sessions(world, config, 10, n_steps=1500, seed=1)
    greedy, fq0 = fit_myopic_greedy(logged, seed=1, max_iter=30), fit_fitted_q(logged, 0.0, seed=1, max_iter=30)
    obs = logged.observations[:50]
    np.testing.assert_array_equal(greedy.act(obs), fq0.act(obs))
    fq = fit_fitted_q(logged, 0.9, iterations=2, seed=1, max_iter=30)
    assert fq.name == "fitted Q" and not np.allclose(fq.values(obs), greedy.values(obs))


def test_lookahead_oracle_has_room_only_when_the_future_depends_on_the_action(world):
    from recsys_utils.rl.oracles import LookaheadOracle
    from recsys_utils.rl.regimes import load_regimes

    regimes = load_regimes()
    room = {}
    for name, config in regimes.items():
        config = dataclasses.replace(config, similarity_center=float(world.pool_similarity.mean()),
                                     similarity_scale=float(world.pool_similarity.std()))
        look = run_sessions(LookaheadOracle(4, seed=0), world, "val", config, 10, seed=2, episodes_per_user=2)
        myopic = run_sessions(MyopicOracle(), world, "val", config, 10, seed=2, episodes_per_user=2)
        room[name] = look.summary()["mean_return"] - myopic.summary()["mean_return"]
    assert room["long-term"] > 0.5
    assert abs(room["control"]) < room["long-term"] / 3


def test_hierarchical_bootstrap_resamples_seeds_and_users():
    rng = np.random.default_rng(0)
    users = rng.normal(0, 1, 200)
    one_seed = ev.hierarchical_bootstrap(users[None, :] + 0.0)
    assert one_seed["low"] < users.mean() < one_seed["high"]
    # Seed-to-seed spread widens the interval beyond what the users alone give.
    noisy = ev.hierarchical_bootstrap(users[None, :] + rng.normal(0, 1, (3, 1)))
    assert noisy["high"] - noisy["low"] > one_seed["high"] - one_seed["low"]
    share = ev.share_of_room(np.ones((2, 50)) * 2, np.ones((2, 50)), np.ones((1, 50)) * 5, np.ones((1, 50)) * 3)
    assert share["mean"] == pytest.approx(0.5) and share["low"] == pytest.approx(0.5)


def test_difference_of_gaps_resamples_each_side():
    shift = ev.difference_of_gaps(np.array([1.0, 1.2, 0.8]), np.array([-1.0, -0.9, -1.1]))
    assert shift["mean"] == pytest.approx(2.0)
    assert 0 < shift["low"] < 2.0 < shift["high"]
