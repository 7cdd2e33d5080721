"""Non-RL policies, the fitted-Q bridge and the oracles, evaluated on the same test users as the agents.

Every policy has ``act(observations (n, obs_dim), sessions) -> actions (n,)``; only the oracles
read ``sessions`` (they ask the simulator for each candidate's expected engagement), the others
use the observation alone, exactly what the agents see.

* ``RandomPolicy``: a uniformly random candidate (the floor of the normalised score).
* ``SimilarityGreedy``: the candidate closest to the user's taste (plain retrieval order).
* ``MostPopular``: the most-rated candidate in the training data.
* ``MyopicGreedy``: a reward model fitted on logged sessions of *training* users predicts the
  immediate reward of each candidate from the observation (the same features the agents get,
  collaborative ones included); show the best. This is the one-step supervised model that Lee
  et al. (SIGIR 2022) found hard to beat on logged data.
* ``fit_fitted_q``: fitted Q-iteration (Ernst et al., 2005) on the same logged data: the
  greedy's regression repeated with targets ``r + gamma * max_a' Q(s', a')``. With gamma = 0 it
  *is* the greedy; with gamma > 0 it plans from logs alone, the bridge between the two.
* ``MyopicOracle`` and ``LookaheadOracle`` live in ``oracles.py``.

Logging (``log_random_sessions``): a uniformly random policy on training users for exactly the
number of environment steps the learners get, so every learned method sees the same amount of
experience and every kind of candidate appears in the logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .features import ObservationLayout
from .rollouts import start_sessions


class RandomPolicy:
    name = "random"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def act(self, observations: np.ndarray, sessions) -> np.ndarray:
        return self.rng.integers(0, sessions.k, size=len(observations))


class _ColumnGreedy:
    column = 0
    name = ""

    def __init__(self, layout: ObservationLayout):
        self.layout = layout

    def act(self, observations: np.ndarray, sessions=None) -> np.ndarray:
        return self.layout.candidate_block(observations)[..., self.column].argmax(axis=-1)


class SimilarityGreedy(_ColumnGreedy):
    name = "similarity greedy"
    column = 0


class MostPopular(_ColumnGreedy):
    name = "most popular"
    column = 1


def candidate_rows(layout: ObservationLayout, observations: np.ndarray) -> np.ndarray:
    """(n * k, user features + candidate features): one row per (observation, candidate)."""
    n = len(observations)
    user = np.repeat(layout.user_block(observations), layout.k, axis=0)
    cand = layout.candidate_block(observations).reshape(n * layout.k, layout.per_candidate)
    return np.hstack([user, cand])


@dataclass
class LoggedData:
    """Transitions of a random logging policy: one row per environment step."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminated: np.ndarray
    layout: ObservationLayout

    def __len__(self) -> int:
        return len(self.actions)

    def chosen_rows(self) -> np.ndarray:
        """(n, user + candidate features) of the shown candidate of every logged step."""
        cand = self.layout.candidate_block(self.observations)[np.arange(len(self)), self.actions]
        return np.hstack([self.layout.user_block(self.observations), cand])


def log_random_sessions(world, config, k: int, n_steps: int, seed: int = 0, split: str = "train") -> LoggedData:
    """Exactly ``n_steps`` transitions of a uniformly random policy on ``split`` users."""
    rng = np.random.default_rng(seed)
    parts, total, round_ = [], 0, 0
    n_users = len(world.rows(split))
    while total < n_steps:
        sessions = start_sessions(world, split, config, k, seed=seed * 7919 + round_)
        sessions = sessions.take(rng.permutation(n_users))
        while not sessions.done.all() and total < n_steps:
            active = ~sessions.done
            obs = sessions.observations()
            actions = rng.integers(0, k, size=sessions.n)
            result = sessions.step_all(actions)
            nxt = sessions.observations()
            keep = np.flatnonzero(active)[: n_steps - total]
            parts.append((obs[keep], actions[keep], result.reward[keep], nxt[keep], result.terminated[keep]))
            total += len(keep)
        round_ += 1
    arrays = [np.concatenate([p[i] for p in parts]) for i in range(5)]
    return LoggedData(*arrays, layout=sessions.layout)


def _regressor(seed: int, max_iter: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=max_iter, learning_rate=0.1, random_state=seed)


@dataclass
class MyopicGreedy:
    """Show the candidate with the highest predicted value (immediate reward, or fitted Q)."""

    layout: ObservationLayout
    model: object
    name: str = "myopic greedy"

    def values(self, observations: np.ndarray) -> np.ndarray:
        # One thread: on small batches OpenMP start-up costs more than the trees (measured 4x
        # slower with two threads on the course's 2-core machine).
        with threadpool_limits(1):
            scores = self.model.predict(candidate_rows(self.layout, observations))
        return scores.reshape(len(observations), self.layout.k)

    def act(self, observations: np.ndarray, sessions=None) -> np.ndarray:
        return self.values(observations).argmax(axis=1)


def fit_myopic_greedy(logged: LoggedData, seed: int = 0, max_iter: int = 200) -> MyopicGreedy:
    """Regress the immediate reward on (user features, shown candidate's features).

    Gradient boosting because the reward is a non-linear function of similarity, genres, the
    collaborative score and the recent-genre overlap; it fits in about a second."""
    model = _regressor(seed, max_iter)
    with threadpool_limits(1):
        model.fit(logged.chosen_rows(), logged.rewards)
    return MyopicGreedy(logged.layout, model)


def fit_fitted_q(logged: LoggedData, gamma: float, iterations: int = 5, seed: int = 0,
                 max_iter: int = 200) -> MyopicGreedy:
    """Fitted Q-iteration on the logged data; ``gamma=0`` returns exactly the myopic greedy."""
    policy = fit_myopic_greedy(logged, seed, max_iter)
    if gamma == 0:
        return policy
    rows = logged.chosen_rows()
    for _ in range(iterations):
        future = policy.values(logged.next_observations).max(axis=1)
        targets = logged.rewards + gamma * np.where(logged.terminated, 0.0, future)
        model = _regressor(seed, max_iter)
        with threadpool_limits(1):
            model.fit(rows, targets)
        policy = MyopicGreedy(logged.layout, model)
    policy.name = "fitted Q"
    return policy
