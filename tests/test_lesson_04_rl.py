"""Lesson 04 (smoke profile) recorded sensible, internally consistent numbers; the full-profile
orderings are checked in a slow test on real MovieLens data and on a recorded full run."""

from __future__ import annotations

import json

import numpy as np
import pytest

NOTEBOOK = "04_rl_dqn_vs_ppo"
METHODS = {"random", "similarity greedy", "most popular", "myopic greedy", "myopic oracle", "DQN", "PPO"}


@pytest.fixture(scope="module")
def results(lesson_results):
    return lesson_results(NOTEBOOK)


@pytest.mark.notebook
def test_every_method_is_evaluated_in_both_conditions(results):
    metrics = results["metrics"]
    for condition in ("dynamics_on", "dynamics_off"):
        assert set(metrics[condition]) == METHODS
        for method, cells in metrics[condition].items():
            for metric, cell in cells.items():
                assert cell["low"] <= cell["mean"] + 1e-9 <= cell["high"] + 2e-9, (condition, method, metric)
            assert 0.0 <= cells["ctr"]["mean"] <= 1.0
            assert 1.0 <= cells["session_length"]["mean"] <= 20.0
            assert 0.0 <= cells["diversity"]["mean"] <= 1.0


@pytest.mark.notebook
def test_references_are_ordered_even_at_smoke_budgets(results):
    for condition in ("dynamics_on", "dynamics_off"):
        m = results["metrics"][condition]
        assert m["myopic oracle"]["mean_return"]["low"] > m["random"]["mean_return"]["high"]
        assert m["myopic oracle"]["normalised_iqm"]["mean"] == pytest.approx(1.0, abs=0.25)
        assert m["random"]["normalised_iqm"]["mean"] == pytest.approx(0.0, abs=0.25)
    on = results["metrics"]["dynamics_on"]
    assert on["myopic greedy"]["mean_return"]["mean"] > on["random"]["mean_return"]["mean"]


@pytest.mark.notebook
def test_long_term_dynamics_shorten_sessions(results):
    on, off = results["metrics"]["dynamics_on"], results["metrics"]["dynamics_off"]
    assert on["random"]["session_length"]["high"] < off["random"]["session_length"]["low"]


@pytest.mark.notebook
def test_simulator_reproduces_heldout_rating_order(results):
    sanity = results["metrics"]["simulator_sanity"]
    assert sanity["mf_rmse"] < sanity["bias_rmse"] < sanity["global_mean_rmse"]
    assert sanity["spearman_click_vs_heldout"] > 0.3
    by_star = results["metrics"]["sanity_click_by_star"]
    clicks = [by_star[k] for k in sorted(by_star, key=float)]
    assert np.all(np.diff(clicks) > 0)


@pytest.mark.notebook
def test_probabilities_and_gaps_are_recorded_with_intervals(results):
    for condition in ("dynamics on", "dynamics off"):
        for pair, cell in results["metrics"]["probability_of_improvement"][condition].items():
            assert 0.0 <= cell["low"] <= cell["high"] <= 1.0, pair
        for algo in ("DQN", "PPO"):
            gap = results["metrics"]["rl_minus_greedy"][condition][algo]
            assert gap["low"] <= gap["mean"] <= gap["high"]


@pytest.mark.notebook
def test_report_table_figures_and_saved_policy(results):
    table = results["tables"]["dqn_vs_ppo"]
    assert {r["method"] for r in table} >= {"DQN", "PPO"}
    assert all("[" in r["mean return"] for r in table)
    assert set(results["figures"]) >= {"simulator_vs_heldout_ratings", "learning_curves", "learning_curves_ablation",
                                       "normalised_scores", "rl_minus_greedy_ablation"}
    assert results["metrics"]["policies"]["best"]["algorithm"] in {"DQN", "PPO"}
    from recsys_utils.rl import load_policy

    assert load_policy().algorithm == results["metrics"]["policies"]["best"]["algorithm"]
    assert results["metrics"]["timing"]["lesson_seconds"] > 0  # recorded; speed is benchmarks/bench_rl.py's job


def assert_full_profile_orderings(rows: dict) -> None:
    """oracle > myopic greedy > random, each with non-overlapping 95% intervals."""
    oracle, greedy, rand = (rows[n]["mean_return"] for n in ("myopic oracle", "myopic greedy", "random"))
    assert oracle["low"] > greedy["high"], (oracle, greedy)
    assert greedy["low"] > rand["high"], (greedy, rand)


@pytest.mark.slow
def test_full_profile_baselines_are_ordered_with_intervals(tmp_path):
    """The full profile's five evaluation seeds on real MovieLens test users (no RL training:
    the baselines alone decide this ordering)."""
    from recsys_utils.data import load_movielens
    from recsys_utils.rl import evaluation as ev
    from recsys_utils.rl import experiment
    from recsys_utils.rl.simulator import SimulatorConfig
    from recsys_utils.splits import load_splits

    data = load_movielens("ml-100k")
    splits = load_splits(data, seed=42)
    config = SimulatorConfig()
    world, _, _ = experiment.prepare_movielens_world(data, splits, config)
    budget = experiment.Budget()
    results = experiment.evaluate_baselines(world, config, budget, budget.seeds)
    groups = experiment.test_user_groups(world, splits.train_ratings)
    rows = {r["method"]: r for r in ev.comparison_table(results, groups)}
    assert_full_profile_orderings(rows)


@pytest.mark.slow
def test_recorded_full_run_holds_the_orderings():
    """When a full-profile run has been recorded in reports/, its numbers must hold them too."""
    from recsys_utils.paths import PROJECT_ROOT

    path = PROJECT_ROOT / "reports" / "results" / f"{NOTEBOOK}.json"
    if not path.exists():
        pytest.skip(f"no recorded run at {path}; run `make course ONLY=04`")
    recorded = json.loads(path.read_text())["metrics"]
    if recorded["budget"]["seeds"] < 5:
        pytest.skip("the recorded run is not a full-profile run (fewer than 5 seeds)")
    assert_full_profile_orderings(recorded["dynamics_on"])
