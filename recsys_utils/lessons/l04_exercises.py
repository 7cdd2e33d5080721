"""Checks for lesson 04's exercises (``check("04.k", answer, **context)``)."""

from __future__ import annotations

import numpy as np

from .exercises import exercise


def _close(answer, expected, tol: float = 1e-6) -> str | None:
    value = float(answer)
    if not np.isfinite(value):
        return "the answer is not a finite number"
    if abs(value - expected) > tol * max(1.0, abs(expected)):
        return f"{value:.4f} is not it (off by {value - expected:+.4f})"
    return None


@exercise("04.1", hint="Sum gamma**t * r_t over the session, t starting at 0: np.sum(gamma ** np.arange(len(r)) * r).")
def discounted_return(answer, rewards, gamma) -> str | None:
    rewards = np.asarray(rewards, dtype=np.float64)
    return _close(answer, float(np.sum(gamma ** np.arange(len(rewards)) * rewards)))


@exercise("04.2", hint="y = r + gamma * (1 - terminated) * max_a' Q(s', a'): at a true end (step 20) nothing is bootstrapped.")
def bellman_target(answer, reward, gamma, next_q, terminated) -> str | None:
    expected = reward + gamma * (0.0 if terminated else float(np.max(next_q)))
    problem = _close(answer, expected)
    if problem and terminated and abs(float(answer) - (reward + gamma * float(np.max(next_q)))) < 1e-6:
        return "the session ended (terminated=True): the target must not bootstrap from the next state"
    return problem


@exercise("04.3", hint="PPO maximises min(rho * A, clip(rho, 1 - eps, 1 + eps) * A) for each sample.")
def ppo_clipped(answer, ratio, advantage, eps) -> str | None:
    expected = min(ratio * advantage, float(np.clip(ratio, 1 - eps, 1 + eps)) * advantage)
    return _close(answer, expected)


@exercise("04.4", hint="Share of the room = (method - greedy) / (lookahead oracle - myopic oracle), all mean returns.")
def share_of_room(answer, method, greedy, lookahead, myopic) -> str | None:
    return _close(answer, (method - greedy) / (lookahead - myopic), tol=1e-3)
