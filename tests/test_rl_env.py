"""The environment's contract: gymnasium's and stable-baselines3's checkers, seeding, bounds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from recsys_utils.rl.env import RecommendationEnv
from recsys_utils.rl.simulator import SimulatorConfig
from recsys_utils.rl.synthetic import synthetic_world


@pytest.fixture(scope="module")
def world():
    return synthetic_world(seed=3)


def make_env(world, config=None, split="train", k=10):
    return RecommendationEnv(world, split, config or SimulatorConfig(), k=k)


def test_gymnasium_env_checker_passes(world):
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*render.*")
        check_env(make_env(world), skip_render_check=True)


def test_stable_baselines3_env_checker_passes(world):
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sb3 reports layout problems as warnings
        check_env(make_env(world), warn=True)


def rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    trace = [(obs.copy(), info["user_id"])]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        trace.append((obs.copy(), reward, terminated, truncated, info["click"], info["movie_id"]))
        if terminated or truncated:
            break
    return trace


def same_trace(a, b):
    return len(a) == len(b) and all(
        all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(sa, sb, strict=True))
        for sa, sb in zip(a, b, strict=True)
    )


def test_same_seed_gives_identical_sessions(world):
    actions = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4]
    first = rollout(make_env(world), 123, actions)
    second = rollout(make_env(world), 123, actions)
    assert same_trace(first, second)


def test_different_seeds_give_different_sessions(world):
    actions = [0] * 20
    traces = [rollout(make_env(world), seed, actions) for seed in range(6)]
    assert not all(same_trace(traces[0], t) for t in traces[1:])


def test_reset_can_pin_the_user_and_stays_in_split(world):
    env = make_env(world, split="test")
    row = int(world.rows("test")[2])
    _, info = env.reset(seed=0, options={"user_row": row})
    assert info["user_id"] == world.user_ids[row]
    ids = {env.reset(seed=s)[1]["user_id"] for s in range(30)}
    assert ids <= set(world.user_ids[world.rows("test")].tolist())


def test_observation_holds_the_slate_features(world):
    env = make_env(world)
    obs, _ = env.reset(seed=5)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
    assert obs.min() >= -1.0 and obs.max() <= 1.0
    cands = env.layout.candidate_block(obs)
    slate = env.slate_items
    np.testing.assert_allclose(cands[:, 0], world.pool_similarity[env.user_row, :10], rtol=1e-6)
    np.testing.assert_allclose(cands[:, 1], world.catalog.popularity[slate])
    np.testing.assert_array_equal(cands[:, 3:], world.catalog.genres[slate])
    slices = env.layout.slices()
    assert slices["candidates"][1] == env.layout.size


def test_recommended_movie_leaves_the_slate_and_enters_history(world):
    env = make_env(world, SimulatorConfig(leave_base=0.0).without_long_term_dynamics())
    env.reset(seed=1)
    before = env.slate_items.copy()
    _, _, _, _, info = env.step(4)
    assert info["item"] == before[4]
    assert before[4] not in env.slate_items
    assert len(env.slate_items) == env.k
    obs, _, _, _, _ = env.step(0)
    history = env.layout.user_block(obs)[env.layout.taste_dim : env.layout.taste_dim + env.layout.n_genres]
    assert history.sum() > 0


def test_the_last_step_is_a_true_end_not_a_timeout(world):
    config = SimulatorConfig(leave_base=0.0, max_steps=7).without_long_term_dynamics()
    env = make_env(world, config)
    env.reset(seed=2)
    for step in range(7):
        obs, _, terminated, truncated, _ = env.step(0)
        assert not truncated
        assert terminated == (step == 6)
    assert env.layout.user_block(obs)[-1] == pytest.approx(1.0)  # the position tells the agent it is the end
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_invalid_action_is_refused(world):
    env = make_env(world)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="Discrete"):
        env.step(10)


def test_pools_too_small_for_k_and_horizon_are_refused(world):
    with pytest.raises(ValueError, match="larger pools"):
        RecommendationEnv(world, "train", SimulatorConfig(max_steps=30), k=10)


def test_unknown_split_names_the_known_ones(world):
    with pytest.raises(KeyError, match="train"):
        RecommendationEnv(world, "holdout")


def test_env_steps_without_pandas(world, monkeypatch):
    import pandas as pd

    env = make_env(world)
    env.reset(seed=0)

    def forbidden(*args, **kwargs):
        raise AssertionError("pandas used inside step()")

    monkeypatch.setattr(pd.DataFrame, "__getitem__", forbidden)
    monkeypatch.setattr(pd.Series, "__getitem__", forbidden)
    for _ in range(5):
        _, _, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            break


def test_the_gym_env_and_the_batched_sessions_share_the_dynamics(world):
    """Same coins, same actions: a batch of sessions reproduces the gymnasium env step by step."""
    from recsys_utils.rl.batched import BatchedSessions
    from recsys_utils.rl.regimes import load_regimes

    config = load_regimes()["long-term"]
    env = make_env(world, config)
    obs, _ = env.reset(seed=11)
    coins = env._session.uniforms.copy()
    batch = BatchedSessions(world, config, 10, [env.user_row, env.user_row], np.concatenate([coins, coins]))
    np.testing.assert_allclose(batch.observations()[0], obs)
    for action in [2, 0, 7, 1, 1, 3, 9, 0, 4, 2] * 2:
        obs, reward, terminated, _, _ = env.step(action)
        result = batch.step_all(np.array([action, action]))
        assert result.reward[0] == pytest.approx(reward) and result.reward[1] == pytest.approx(reward)
        np.testing.assert_allclose(batch.observations()[0], obs, atol=1e-6)
        if terminated:
            assert batch.done.all()
            break


def test_long_term_dynamics_drain_patience_with_bad_films_and_pay_a_return_visit(world):
    from recsys_utils.rl.batched import BatchedSessions

    config = SimulatorConfig(leave_base=0.0, rating_weight=0.0, click_intercept=30.0, quality_gain=1.0,
                             patience_recovery=0.0, return_reward=10.0)
    rows = np.repeat(world.rows("train")[:1], 2)
    batch = BatchedSessions(world, config, 10, rows, np.full((2, 64, 3), 0.5))
    ratings = world.pool_ratings[rows[0], batch.slates()[0]]
    worst, best = int(np.argmin(ratings)), int(np.argmax(ratings))
    result = batch.step_all(np.array([worst, best]))
    assert result.click.tolist() == [1.0, 1.0]  # the click ignores quality here
    assert batch.patience[0] < batch.patience[1]  # what was watched moves patience
    values = batch.response.return_value(batch.patience)
    assert 0 <= values[0] < values[1] <= config.return_reward


def test_unrated_movies_get_the_users_baseline_not_a_key_error():
    import pandas as pd

    from recsys_utils.rl.ground_truth import fit_rating_model

    ratings = pd.DataFrame({"user_id": [1, 1, 2, 2], "movie_id": [10, 20, 10, 30], "rating": [4.0, 2.0, 5.0, 3.0]})
    model = fit_rating_model(ratings, rank=2, n_iters=3)
    pred, unrated = model.predict_with_unrated(np.array([[1], [2]]), np.array([[10, 99], [30, 99]]))
    assert unrated == 2 and pred.shape == (2, 2)
    baseline = np.clip(model.global_mean + model.user_bias, 1, 5)
    np.testing.assert_allclose(pred[:, 1], baseline, rtol=1e-5)


def test_a_catalogue_with_unrated_movies_and_dangling_ratings_runs_end_to_end():
    """ml-latest-small lists movies nobody rated and some datasets rate movies missing from the
    catalogue: the generator's pools, the world, the environment, the oracles and the greedy all
    run, and count them."""
    import pandas as pd

    from recsys_utils.rl.baselines import fit_myopic_greedy, log_random_sessions
    from recsys_utils.rl.ground_truth import fit_rating_model
    from recsys_utils.rl.oracles import LookaheadOracle, MyopicOracle
    from recsys_utils.rl.rollouts import run_sessions
    from recsys_utils.rl.synthetic import synthetic_generator, synthetic_movielens
    from recsys_utils.rl.world import build_catalog, build_world, weighted_taste

    movies, ratings, vectors = synthetic_movielens(120, 300, seed=7)
    unrated = movies["movie_id"].to_numpy()[::15]  # 20 movies nobody rated
    ratings = ratings[~ratings["movie_id"].isin(unrated)]
    dangling = pd.DataFrame({"user_id": [1, 2], "movie_id": [10_001, 10_002], "rating": [4.0, 3.0],
                             "timestamp": [8.9e8, 8.9e8]}).astype(ratings.dtypes.to_dict())
    ratings = pd.concat([ratings, dangling], ignore_index=True)
    user_ids = np.sort(ratings["user_id"].unique())
    known = ratings[ratings["movie_id"].isin(movies["movie_id"])]
    catalog = build_catalog(movies, known)
    splits = {"train": user_ids[:80], "val": user_ids[80:100], "test": user_ids[100:]}
    # Text weight 1: the pools come from the text index, which holds the unrated movies too.
    generator = synthetic_generator(movies, known, vectors, text_weight=1.0)
    world = build_world(movies, ratings, vectors, weighted_taste(known, user_ids, catalog, vectors), user_ids,
                        generator, splits, fit_rating_model(known, rank=4, n_iters=4), taste_dim=8, pool_size=32)
    assert world.coverage["dangling_ratings_dropped"] == 2
    assert world.coverage["unrated_pool_cells"] > 0
    unrated_rows = np.isin(world.catalog.movie_ids, unrated)
    assert not world.catalog.item_features[unrated_rows].any()  # no ALS vector for them: zero features
    config = SimulatorConfig()
    greedy = fit_myopic_greedy(log_random_sessions(world, config, 10, 800, seed=0), max_iter=10)
    for policy in (greedy, MyopicOracle(), LookaheadOracle(2)):
        assert np.isfinite(run_sessions(policy, world, "test", config, 10, seed=0).returns).all()
