"""The simulated user and its ground truth behave as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_utils.rl.ground_truth import fit_rating_model, holdout_rmse
from recsys_utils.rl.simulator import (
    SimulatorConfig,
    UserResponseModel,
    boredom_from_overlap,
    genre_overlap,
    next_patience,
    user_leaves,
)


def test_click_probability_rises_with_rating_and_falls_with_boredom():
    model = UserResponseModel(SimulatorConfig())
    ratings = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    fresh = model.click_probability(ratings, np.zeros(5))
    assert np.all(np.diff(fresh) > 0)
    bored = model.click_probability(ratings, np.ones(5))
    assert np.all(bored < fresh)
    off = UserResponseModel(SimulatorConfig().without_long_term_dynamics())
    np.testing.assert_allclose(off.click_probability(ratings, np.ones(5)), fresh)


def test_expected_reward_matches_sampled_mean():
    config = SimulatorConfig()
    model = UserResponseModel(config)
    rng = np.random.default_rng(0)
    for rating, boredom in [(2.5, 0.0), (4.2, 0.5), (4.8, 0.0)]:
        draws = [model.reward(*model.sample(rng, rating, boredom)) for _ in range(20_000)]
        assert np.mean(draws) == pytest.approx(float(model.expected_reward(np.array(rating), np.array(boredom))), abs=0.03)


def test_watch_and_like_only_after_a_click():
    model = UserResponseModel(SimulatorConfig(click_intercept=-30.0))
    rng = np.random.default_rng(1)
    assert all(model.sample(rng, 5.0, 0.0) == (0.0, 0.0, 0.0) for _ in range(50))


def test_genre_overlap_is_largest_share_of_the_candidates_genres():
    window_counts = np.array([3.0, 1.0, 0.0])  # genre 0 in 3 of the last 5, genre 1 in 1
    candidates = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 0, 0]], dtype=float)
    np.testing.assert_allclose(genre_overlap(candidates, window_counts, 5), [0.6, 0.2, 0.0, 0.6, 0.0])
    np.testing.assert_allclose(boredom_from_overlap(np.array([0.2, 0.4, 0.7, 1.0]), 0.4), [0.0, 0.0, 0.5, 1.0])


def test_patience_drops_after_misses_recovers_after_clicks_and_user_leaves():
    config = SimulatorConfig(leave_base=0.0)
    patience = config.initial_patience
    patience = next_patience(config, patience, click=1.0)
    assert patience == config.initial_patience  # capped
    for _ in range(3):
        patience = next_patience(config, patience, click=0.0)
    assert patience == pytest.approx(1.0 - 3 * config.patience_drop)
    assert next_patience(config, patience, click=1.0) == pytest.approx(patience + config.patience_recovery)
    rng = np.random.default_rng(0)
    assert not user_leaves(config, rng, patience)
    assert user_leaves(config, rng, next_patience(config, patience, click=0.0))
    off = config.without_long_term_dynamics()
    assert next_patience(off, 1.0, click=0.0) == 1.0


def test_base_leaving_rate_is_respected():
    config = SimulatorConfig(leave_base=0.1)
    rng = np.random.default_rng(0)
    rate = np.mean([user_leaves(config, rng, 1.0) for _ in range(20_000)])
    assert rate == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize("bad", [{"max_steps": 0}, {"leave_base": 1.0}, {"boredom_tolerance": 1.0},
                                 {"initial_patience": 0.0}])
def test_invalid_config_is_refused(bad):
    with pytest.raises(ValueError):
        SimulatorConfig(**bad)


def planted_ratings(n_users=200, n_items=150, rank=3, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    p, q = rng.normal(0, 0.7, (n_users, rank)), rng.normal(0, 0.7, (n_items, rank))
    bu, bi = rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items)
    truth = 3.5 + bu[:, None] + bi[None, :] + p @ q.T
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    noisy = np.clip(truth[u, i] + rng.normal(0, 0.3, len(u)), 1, 5)
    frame = pd.DataFrame({"user_id": u + 1, "movie_id": i + 1, "rating": noisy.astype(np.float32),
                          "timestamp": rng.integers(0, 10**6, len(u))})
    return frame, np.clip(truth, 1, 5)


def test_rating_model_recovers_planted_low_rank_structure():
    ratings, truth = planted_ratings()
    model = fit_rating_model(ratings, rank=3, reg=0.05, n_iters=15)
    users = np.arange(1, truth.shape[0] + 1)
    items = np.arange(1, truth.shape[1] + 1)
    predicted = model.predict(np.repeat(users, len(items)), np.tile(items, len(users))).reshape(truth.shape)
    assert np.corrcoef(predicted.ravel(), truth.ravel())[0, 1] > 0.9
    assert predicted.min() >= 1.0 and predicted.max() <= 5.0


def test_holdout_rmse_beats_the_global_mean_and_reports_coverage():
    ratings, _ = planted_ratings(seed=1)
    shuffled = ratings.sample(frac=1.0, random_state=0)
    train, test = shuffled.iloc[: int(0.8 * len(shuffled))], shuffled.iloc[int(0.8 * len(shuffled)) :]
    scores = holdout_rmse(train, test, rank=3, reg=0.05)
    assert scores["mf_rmse"] < scores["bias_rmse"] < scores["global_mean_rmse"]
    assert 0 < scores["n_scored"] <= len(test)


def test_rating_model_names_unknown_ids_and_bad_input():
    ratings, _ = planted_ratings(n_users=20, n_items=20, density=0.5)
    model = fit_rating_model(ratings, rank=2, n_iters=3)
    with pytest.raises(KeyError, match="movie_id"):
        model.predict([1], [999])
    with pytest.raises(ValueError, match="columns"):
        fit_rating_model(ratings.drop(columns="rating"))


def test_genre_overlap_of_a_catalogue_without_genres_is_zero():
    np.testing.assert_array_equal(genre_overlap(np.zeros((3, 0)), np.zeros(0), 5), np.zeros(3))
