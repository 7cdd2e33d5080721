"""The lesson-06 comparison of service arms: paired over users, sentences decided by intervals."""

import numpy as np

from recsys_utils.lessons.l06_serving import ArmRun, compare_arms, comparison_sentence
from recsys_utils.lessons.l06_simulated_users import LoopResult


def arm(name, per_user):
    per_user = np.asarray(per_user, dtype=float)
    result = LoopResult(list(per_user.mean(axis=1)), [0.5] * len(per_user), ["v"] * len(per_user), 0, 1.0,
                        per_user.tolist())
    return ArmRun(name, result, [], {})


def test_a_consistent_gain_is_called_a_gain_and_noise_is_not():
    rng = np.random.default_rng(0)
    base = rng.normal(5, 1, size=(4, 60))
    runs = {"frozen": arm("frozen", base), "better": arm("better", base + 0.3), "noisy": arm("noisy", base + rng.normal(0, 1, size=base.shape))}
    gain = compare_arms(runs, "better", "frozen", n_resamples=500)
    assert gain["mean_diff"] > 0.29 and gain["ci_low"] > 0 and gain["wins"] == 60
    assert comparison_sentence("better", "frozen", gain).startswith("better gave more engagement than frozen: +0.300")
    noise = compare_arms(runs, "noisy", "frozen", n_resamples=500)
    assert noise["ci_low"] < 0 < noise["ci_high"]
    assert "cannot be told apart" in comparison_sentence("noisy", "frozen", noise)
    loss = compare_arms(runs, "frozen", "better", n_resamples=500)
    assert comparison_sentence("frozen", "better", loss).startswith("frozen gave less engagement than better")


def test_round_one_is_left_out():
    first_round_only_differs = np.ones((3, 10))
    other = first_round_only_differs.copy()
    other[0] += 5
    runs = {"a": arm("a", other), "b": arm("b", first_round_only_differs)}
    assert compare_arms(runs, "a", "b", n_resamples=200)["mean_diff"] == 0.0
