"""Lesson 04 on the smoke profile (run in CI): the regimes, the references, the intervals, the
sentences and the served policy hold their documented properties; a slow test re-measures the
committed calibration's room on ml-100k's validation users."""

from __future__ import annotations

import re

import numpy as np
import pytest

NOTEBOOK = "04_rl_dqn_vs_ppo"
REGIMES = ("long_term", "control")
METHODS = {"random", "similarity greedy", "most popular", "myopic greedy", "fitted Q", "DQN", "PPO", "myopic oracle",
           "lookahead oracle"}


@pytest.fixture(scope="module")
def results(lesson_results):
    return lesson_results(NOTEBOOK)


def ordered(cell: dict) -> bool:
    return cell["low"] <= cell["mean"] + 1e-9 and cell["mean"] <= cell["high"] + 1e-9


@pytest.mark.notebook
def test_every_method_is_evaluated_in_both_regimes_with_intervals(results):
    for regime in REGIMES:
        m = results["metrics"][regime]
        assert set(m["methods"]) == METHODS
        for method, cells in m["methods"].items():
            for metric, cell in cells.items():
                assert ordered(cell), (regime, method, metric)
            assert 0.0 <= cells["ctr"]["mean"] <= 1.0
            assert 1.0 <= cells["session_length"]["mean"] <= 20.0
        for cell in (m["room"], m["model_gap"], *m["gains"].values(), *m["probability_of_improvement"].values()):
            assert ordered(cell)


@pytest.mark.notebook
def test_planning_room_exists_only_when_the_dynamics_are_on(results):
    lt, ctl = results["metrics"]["long_term"], results["metrics"]["control"]
    assert lt["room"]["low"] > 0, lt["room"]  # even with 2 rollouts per candidate on the smoke profile
    assert abs(ctl["room"]["mean"]) < lt["room"]["mean"] / 3
    methods = lt["methods"]
    assert methods["lookahead oracle"]["mean_return"]["mean"] > methods["myopic oracle"]["mean_return"]["mean"]
    # The simulator's model beats random picks from the same pools, paired user by user (the marginal
    # intervals may overlap on the smoke profile's few users, now that the pools are better).
    assert lt["oracle_over_random"]["low"] > 0, lt["oracle_over_random"]
    assert methods["myopic oracle"]["mean_return"]["mean"] > methods["random"]["mean_return"]["mean"]
    # The long-term regime's sessions end sooner under random recommendations than the control's.
    assert methods["random"]["session_length"]["high"] < ctl["methods"]["random"]["session_length"]["low"]


@pytest.mark.notebook
def test_normalised_scores_use_the_lookahead_oracle_as_ceiling(results):
    for regime in REGIMES:
        iqm = results["metrics"][regime]["normalised_iqm"]
        assert iqm["lookahead oracle"]["mean"] == pytest.approx(1.0, abs=1e-6)
        assert iqm["random"]["mean"] == pytest.approx(0.0, abs=0.2)


@pytest.mark.notebook
def test_the_sentences_follow_the_intervals(results):
    summary = results["summary"]
    for regime, label in (("long_term", "long-term"), ("control", "control")):
        for method in ("DQN", "PPO", "fitted Q"):
            gain = results["metrics"][regime]["gains"][method]
            verdict = "beats" if gain["low"] > 0 else "loses to" if gain["high"] < 0 else "is not distinguishable from"
            assert f"[{label}] {method} {verdict} the myopic greedy" in summary
    heads = results["headlines"]
    assert 1 <= len(heads) <= 4
    for h in heads:
        if "ci" in h:
            assert h["ci"][0] <= h["value"] + 1e-9 <= h["ci"][1] + 2e-9
    best = results["metrics"]["long_term"]["best_rl"]
    assert re.search(rf"target .*{re.escape(best)}.*: (met|missed)", summary)


@pytest.mark.notebook
def test_served_policy_is_validation_selected_and_guarded(results):
    from recsys_utils.lessons.l04_experiment import GUARD_WEIGHTS
    from recsys_utils.rl import load_policy

    served = results["metrics"]["served"]
    lt = results["metrics"]["long_term"]
    winner = max(("DQN", "PPO"), key=lambda a: lt["validation_return"][a])
    info = load_policy().info
    assert info["algorithm"] == served["algorithm"] == winner
    gain = lt["gains"][winner]
    assert info["beats_greedy"] == (gain["low"] > 0)
    assert info["policy_weight"] in GUARD_WEIGHTS
    ndcg = {float(w): v for w, v in served["validation_ndcg"].items()}
    assert ndcg[info["policy_weight"]] >= ndcg[0.0]  # never worse than the generator's order on validation


@pytest.mark.notebook
def test_simulator_quality_response_follows_heldout_ratings(results):
    sanity = results["metrics"]["simulator_sanity"]
    assert sanity["mf_rmse"] < sanity["bias_rmse"] < sanity["global_mean_rmse"]
    assert sanity["spearman_watch_vs_heldout"] > 0.2
    by_star = results["metrics"]["sanity_watch_by_star"]
    watch = [by_star[k] for k in sorted(by_star, key=float)]
    assert np.all(np.diff(watch) > 0)


@pytest.mark.notebook
def test_budgets_and_coverage_are_recorded(results):
    m = results["metrics"]
    assert m["budget"]["timesteps"] > 0 and m["budget"]["validation_sessions"] >= 300
    assert {"n_unrated_movies", "n_dangling_ratings", "unrated_pool_cells"} <= set(m["coverage"])
    assert set(results["figures"]) >= {"simulator_vs_heldout_ratings", "learning_curves", "gain_over_greedy"}


@pytest.mark.slow
def test_committed_calibration_room_holds_on_ml100k_validation_users():
    """About 40-60 s on 2 cores: the long-term regime's room on validation users is >= 25% of the
    myopic oracle's return, the control regime's is ~0, as the committed regimes.json says."""
    from recsys_utils.data import load_movielens
    from recsys_utils.lessons.l04_calibrate import measure_room
    from recsys_utils.rl.experiment import prepare_movielens_world
    from recsys_utils.rl.regimes import load_regimes, regime_record
    from recsys_utils.splits import load_splits

    data = load_movielens("ml-100k")
    splits = load_splits(data, seed=42)
    regimes = load_regimes()
    world, _, _ = prepare_movielens_world(data, splits, regimes["long-term"])
    long_term = measure_room(world, regimes["long-term"], 10, episodes=1, rollouts=8)
    control = measure_room(world, regimes["control"], 10, episodes=1, rollouts=8)
    assert long_term["room_share"] >= 0.25, long_term
    assert abs(control["room_share"]) < 0.03, control
    assert regime_record()["room"]["long-term"]["room_share"] >= 0.25


def test_exercise_checks_accept_right_answers_and_refuse_wrong_ones(capsys):
    from recsys_utils.lessons.exercises import check

    assert check("04.1", 1.2 + 0.95**2 * 1.4 + 0.95**3 * 0.9, rewards=[1.2, 0.0, 1.4, 0.9], gamma=0.95)
    assert not check("04.1", 3.5, rewards=[1.2, 0.0, 1.4, 0.9], gamma=0.95)
    assert check("04.2", 1.3, reward=1.3, gamma=0.95, next_q=[2.0, 3.5, 1.0], terminated=True)
    assert not check("04.2", 1.3 + 0.95 * 3.5, reward=1.3, gamma=0.95, next_q=[2.0, 3.5, 1.0], terminated=True)
    assert "must not bootstrap" in capsys.readouterr().out
    assert check("04.3", 2.4, ratio=1.5, advantage=2.0, eps=0.2)
    assert not check("04.3", 3.0, ratio=1.5, advantage=2.0, eps=0.2)
    assert check("04.4", 0.5, method=12.0, greedy=11.0, lookahead=15.0, myopic=13.0)
    assert not check("04.4", 1 / 4, method=12.0, greedy=11.0, lookahead=15.0, myopic=13.0)


@pytest.mark.slow
def test_solutions_notebook_checks_every_exercise():
    """About 15-20 s: the worked solutions run standalone and pass every check of lesson 04."""
    import json

    from recsys_utils.lessons.exercises import registered
    from recsys_utils.paths import PROJECT_ROOT

    nb = json.loads((PROJECT_ROOT / "solutions" / "04_rl_dqn_vs_ppo_solutions.ipynb").read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    for exercise_id in registered("04"):
        assert f'check("{exercise_id}"' in source
    namespace: dict = {}
    exec(compile(source, "solutions", "exec"), namespace)
    assert all(namespace["passed"]) and len(namespace["passed"]) == len(registered("04"))
