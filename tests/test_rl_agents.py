"""Agents train with checkpoint selection; saved policies load and re-rank candidates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys_utils.rl.agents import GAMMA, SB3Policy, train_agent
from recsys_utils.rl.env import RecommendationEnv
from recsys_utils.rl.rollouts import run_sessions
from recsys_utils.rl.serving import UserState, load_policy, rank_candidates, save_policies
from recsys_utils.rl.simulator import SimulatorConfig
from recsys_utils.rl.synthetic import synthetic_world

CONFIG = SimulatorConfig()


@pytest.fixture(scope="module")
def world():
    return synthetic_world(seed=2)


def validate(world):
    return lambda policy: run_sessions(policy, world, "val", CONFIG, 10, seed=7, max_users=12).summary()["mean_return"]


@pytest.fixture(scope="module")
def runs(world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    out = {}
    for algo, steps in (("DQN", 1200), ("PPO", 768)):
        run = train_agent(algo, lambda: RecommendationEnv(world, "train", CONFIG, 10), steps, 0, validate(world),
                          n_checkpoints=3)
        path = folder / f"{algo}.zip"
        run.model.save(path)
        out[algo] = run, path
    return out


def test_training_records_a_curve_and_keeps_the_best_checkpoint(world, runs):
    import torch

    assert torch.get_num_threads() == 1
    for algo, (run, _) in runs.items():
        assert run.curve_steps[0] == 0 and run.curve_steps[-1] >= 768
        assert run.best_validation_return == pytest.approx(max(run.curve_returns))
        # The returned model is the selected checkpoint: scoring it again reproduces its score.
        assert validate(world)(SB3Policy(run.model)) == pytest.approx(run.best_validation_return), algo
        assert run.model.gamma == GAMMA


def test_both_algorithms_use_the_same_scorer_size(runs):
    def scorer_params(model):
        extractor = model.q_net.features_extractor if hasattr(model, "q_net") else model.policy.pi_features_extractor
        return sum(p.numel() for p in extractor.parameters())

    assert scorer_params(runs["DQN"][0].model) == scorer_params(runs["PPO"][0].model)


def test_unknown_algorithm_is_refused(world):
    from recsys_utils.rl.agents import make_agent

    with pytest.raises(ValueError, match="DQN"):
        make_agent("A2C", lambda: RecommendationEnv(world, "train", CONFIG, 10), 0)


@pytest.fixture(scope="module")
def saved(world, runs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("policies")
    results = {algo: {"best_validation_return": [run.best_validation_return], "best_step": [run.best_step],
                      "paths": [str(path)], "seeds": [0]} for algo, (run, path) in runs.items()}
    layout = RecommendationEnv(world, "train", CONFIG, 10).layout
    vectors = np.random.default_rng(0).normal(size=(len(world.catalog.movie_ids), 32)).astype(np.float32)
    manifest = save_policies(results, world, layout, CONFIG, vectors, "shared", folder)
    return folder, manifest


def test_manifest_describes_the_policies(saved):
    folder, manifest = saved
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["best"]["algorithm"] in {"DQN", "PPO"}
    assert manifest["k"] == 10 and manifest["observation_layout"]["size"] > 0
    assert {e["file"] for e in manifest["policies"].values()} == {"dqn.zip", "ppo.zip"}
    assert (folder / "best.zip").exists() and (folder / "features.npz").exists()


@pytest.mark.parametrize("which", ["best", "dqn.zip", "ppo.zip"])
def test_rank_candidates_orders_by_the_policys_batched_scores(world, saved, which):
    folder, _ = saved
    policy = load_policy(folder if which == "best" else folder / which)
    ids = world.catalog.movie_ids[world.pool_items[0, :14]].tolist()
    state = policy.state_for(ids[:3], [5.0, 4.0, 2.0])
    scores = policy.score([state, state], ids)
    assert scores.shape == (2, 14) and scores.dtype == np.float32
    ranking = rank_candidates(policy, state, ids)
    assert sorted(ranking) == sorted(ids)
    assert ranking == [ids[i] for i in np.argsort(-scores[0], kind="stable")]
    # The first slate is scored exactly on the observation the environment would show.
    obs, valid = policy.observation(state, ids[:10])
    assert valid.all()
    order = np.argsort(-policy.action_scores(obs), kind="stable")
    assert order.tolist() == np.argsort(-scores[0, :10], kind="stable").tolist()
    short = rank_candidates(policy, state, ids[:3], similarities=[0.9, 0.5, 0.1])
    assert sorted(short) == sorted(ids[:3])


@pytest.mark.parametrize("which", ["dqn.zip", "ppo.zip"])
def test_serving_scores_through_a_numpy_copy_equal_to_torch(world, saved, which):
    """network_scores serves through networks.NumpyForward; it must give torch's numbers, padded slots included."""
    from recsys_utils.rl.networks import NumpyForward

    policy = load_policy(saved[0] / which)
    ids = world.catalog.movie_ids[world.pool_items[2, :17]]  # 2 slates, the second padded
    state = policy.state_for(ids[:3], [5.0, 4.0, 2.0], step=2, counts=(1.0, 1.0, 0.0))
    obs, _ = policy.observations([state], ids[None])
    flat = obs.reshape(-1, obs.shape[-1])
    served = policy.network_scores(flat)
    assert isinstance(policy._numpy_forward, NumpyForward)
    np.testing.assert_allclose(served, policy._torch_scores(flat), rtol=1e-5, atol=1e-5)


def test_batched_scores_match_one_state_at_a_time(world, saved):
    policy = load_policy(saved[0])
    ids = world.catalog.movie_ids[world.pool_items[:3, :12]]
    states = [policy.state_for(world.catalog.movie_ids[world.pool_items[r, 20:23]]) for r in range(3)]
    batched = policy.score(states, ids)
    for r in range(3):
        np.testing.assert_allclose(batched[r], policy.score(states[r], ids[r])[0], rtol=1e-5, atol=1e-6)


def test_each_slate_of_a_long_candidate_list_is_the_observation_of_that_slate_alone(world, saved):
    """observations() builds every slate of a state in one batched call; each slate (the last one
    padded) must be exactly what observation() builds for those candidates on their own."""
    policy = load_policy(saved[0])
    ids = world.catalog.movie_ids[world.pool_items[1, :23]]
    state = policy.state_for(ids[:4], [5.0, 4.0, 3.0, 5.0], step=3, last_feedback=(1.0, 0.4, 0.0),
                             counts=(1.0, 1.0, 1.0))
    state.recent_movie_ids = ids[4:7].tolist()
    obs, valid = policy.observations([state], ids[None])
    k = policy.layout.k
    assert obs.shape[:2] == (1, 3) and valid[0].sum() == 23
    for s in range(3):
        alone, alone_valid = policy.observation(state, ids[s * k:(s + 1) * k])
        np.testing.assert_allclose(obs[0, s], alone, rtol=0, atol=1e-6)  # BLAS rounding of the similarities
        np.testing.assert_array_equal(valid[0, s], alone_valid)


def test_info_says_whether_the_policy_beats_the_greedy(world, saved, tmp_path):
    folder, manifest = saved
    info = load_policy(folder).info
    assert set(info) >= {"algorithm", "version", "validation_return", "beats_greedy", "gain_vs_greedy"}
    assert info["beats_greedy"] is False and info["gain_vs_greedy"] is None  # no comparison was saved
    runs = {a: {"best_validation_return": [m["validation_return"]], "best_step": [0],
                "paths": [str(folder / m["file"])], "seeds": [0]} for a, m in manifest["policies"].items()}
    layout = RecommendationEnv(world, "train", CONFIG, 10).layout
    vectors = np.random.default_rng(0).normal(size=(len(world.catalog.movie_ids), 32)).astype(np.float32)
    for ci, beats in (([0.1, 0.9], True), ([-0.1, 0.9], False)):
        save_policies(runs, world, layout, CONFIG, vectors, "shared", tmp_path / str(beats),
                      comparison={"value": 0.5, "ci": ci})
        info = load_policy(tmp_path / str(beats)).info
        assert info["beats_greedy"] is beats and info["gain_vs_greedy"]["ci"] == ci


def test_the_guard_falls_back_to_the_generators_order(world, saved, tmp_path):
    folder, manifest = saved
    runs = {a: {"best_validation_return": [m["validation_return"]], "best_step": [0],
                "paths": [str(folder / m["file"])], "seeds": [0]} for a, m in manifest["policies"].items()}
    layout = RecommendationEnv(world, "train", CONFIG, 10).layout
    vectors = np.random.default_rng(0).normal(size=(len(world.catalog.movie_ids), 32)).astype(np.float32)
    save_policies(runs, world, layout, CONFIG, vectors, "shared", tmp_path, serving={"policy_weight": 0.0})
    policy = load_policy(tmp_path)
    ids = world.catalog.movie_ids[world.pool_items[0, :14]].tolist()
    assert rank_candidates(policy, policy.state_for(ids[:2]), ids) == ids


def test_the_stub_policy_honours_the_contract(world):
    from recsys_utils.testing.rl_policy import StubPolicy

    vectors = np.random.default_rng(1).normal(size=(len(world.catalog.movie_ids), 8)).astype(np.float32)
    stub = StubPolicy(world.catalog.movie_ids, vectors, beats_greedy=True)
    ids = world.catalog.movie_ids[world.pool_items[0, :6]].tolist()
    state = stub.state_for(ids[:2])
    ranking = rank_candidates(stub, state, ids)
    assert sorted(ranking) == sorted(ids) and stub.info["beats_greedy"]
    assert stub.score([state, state], ids).shape == (2, 6)


def test_served_observations_carry_the_collaborative_features_the_env_shows(tmp_path):
    """A policy trained with the generator's collaborative features rebuilds them at serving time:
    the score of each candidate from the user's folded-in history matches the environment's own."""
    from recsys_utils.rl.agents import make_agent
    from recsys_utils.rl.candidates import CF_DIM

    world = synthetic_world(seed=4, cf_features=True)
    env = RecommendationEnv(world, "train", CONFIG, 10)
    assert env.layout.item_feature_dim == 1 + CF_DIM
    make_agent("DQN", lambda: RecommendationEnv(world, "train", CONFIG, 10), seed=0).save(tmp_path / "raw.zip")
    from recsys_utils.rl.synthetic import synthetic_movielens

    _, ratings, vectors = synthetic_movielens(seed=4)
    save_policies({"DQN": {"best_validation_return": [0.0], "paths": [tmp_path / "raw.zip"], "best_step": [0],
                           "seeds": [0]}}, world, env.layout, CONFIG, vectors, "shared", tmp_path / "p")
    policy = load_policy(tmp_path / "p")
    row = int(world.rows("train")[0])
    mine = ratings[ratings["user_id"] == world.user_ids[row]]
    state = policy.state_for(mine["movie_id"].to_numpy(), mine["rating"].to_numpy())
    obs, _ = env.reset(seed=0, options={"user_row": row})
    ids = world.catalog.movie_ids[env.slate_items]
    served, _ = policy.observation(state, ids)
    g = env.layout.n_genres
    env_cf = env.layout.candidate_block(obs)[:, 3 + g]
    served_cf = env.layout.candidate_block(served)[:, 3 + g]
    np.testing.assert_allclose(served_cf, env_cf, atol=0.05)  # fold-in = ALS's own user step for this user
    np.testing.assert_allclose(env.layout.candidate_block(served)[:, 4 + g :], env.layout.candidate_block(obs)[:, 4 + g :])
    assert policy.score(state, ids).shape == (1, 10)


def test_serving_errors_say_what_to_do(world, saved, tmp_path):
    folder, _ = saved
    with pytest.raises(FileNotFoundError, match="lesson 04"):
        load_policy(tmp_path)
    policy = load_policy(folder)
    ids = world.catalog.movie_ids[:5].tolist()
    with pytest.raises(ValueError, match="taste_embedding or some recent"):
        rank_candidates(policy, UserState(), ids)
    with pytest.raises(ValueError, match="duplicates"):
        rank_candidates(policy, UserState(recent_movie_ids=ids[:1]), [ids[0], ids[0]])
    with pytest.raises(ValueError, match="dims"):
        rank_candidates(policy, UserState(taste_embedding=np.ones(7)), ids)
    with pytest.raises(KeyError, match="candidate_ids.*rerun"):
        policy.score(policy.state_for(ids[:1]), [ids[0], 10**9])
    with pytest.raises(ValueError, match="at least one"):
        policy.state_for([])
