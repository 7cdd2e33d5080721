"""Non-RL policies evaluated on the same test users as the agents.

Every policy has ``act(observations (n, obs_dim), envs) -> actions (n,)``; only the oracle
reads ``envs`` (it asks the simulator for each candidate's expected reward), the others use the
observation alone, exactly what the agents see.

* ``RandomPolicy``: a uniformly random candidate (the floor of the normalised score).
* ``SimilarityGreedy``: the candidate closest to the user's taste (plain retrieval order).
* ``MostPopular``: the most-rated candidate in the training data.
* ``MyopicGreedy``: a reward model fitted only on training users' logged sessions predicts the
  immediate reward of each candidate; show the best. This is the one-step supervised model that
  Lee et al. (SIGIR 2022) found hard to beat on logged data.
* ``MyopicOracle``: the simulator's own expected immediate reward (the ceiling of the
  normalised score, though not of the return: it ignores what happens next).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .features import ObservationLayout


class RandomPolicy:
    name = "random"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def act(self, observations: np.ndarray, envs) -> np.ndarray:
        k = envs[0].action_space.n
        return self.rng.integers(0, k, size=len(observations))


class _ColumnGreedy:
    column = 0
    name = ""

    def __init__(self, layout: ObservationLayout):
        self.layout = layout

    def act(self, observations: np.ndarray, envs) -> np.ndarray:
        return self.layout.candidate_block(observations)[..., self.column].argmax(axis=-1)


class SimilarityGreedy(_ColumnGreedy):
    name = "similarity greedy"
    column = 0


class MostPopular(_ColumnGreedy):
    name = "most popular"
    column = 1


class MyopicOracle:
    name = "myopic oracle"

    def act(self, observations: np.ndarray, envs) -> np.ndarray:
        return np.array([int(np.argmax(env.expected_rewards())) for env in envs])


def candidate_rows(layout: ObservationLayout, observations: np.ndarray) -> np.ndarray:
    """(n * k, user features + candidate features): one row per (observation, candidate)."""
    n = len(observations)
    user = np.repeat(layout.user_block(observations), layout.k, axis=0)
    cand = layout.candidate_block(observations).reshape(n * layout.k, layout.per_candidate)
    return np.hstack([user, cand])


@dataclass
class MyopicGreedy:
    """Show the candidate with the highest predicted immediate reward."""

    layout: ObservationLayout
    model: object
    name: str = "myopic greedy"

    def act(self, observations: np.ndarray, envs) -> np.ndarray:
        # One thread: on small batches OpenMP start-up costs more than the trees (measured 4x
        # slower with two threads on the course's 2-core machine).
        with threadpool_limits(1):
            scores = self.model.predict(candidate_rows(self.layout, observations))
        return scores.reshape(len(observations), self.layout.k).argmax(axis=1)


def fit_myopic_greedy(env_factory, n_episodes: int = 2000, seed: int = 0, max_iter: int = 200) -> MyopicGreedy:
    """Log sessions of *training* users under a uniformly random policy, then regress the
    immediate reward on (user features, shown candidate's features).

    A random logging policy is used so every kind of candidate appears in the logs (a logged
    production policy would bias them). Gradient boosting because the reward is a non-linear
    function of similarity, genres and the recent-genre overlap; it fits in about a second.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    env = env_factory()
    rng = np.random.default_rng(seed)
    rows, targets = [], []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed * 1_000_003 + episode)
        done = False
        while not done:
            action = int(rng.integers(env.action_space.n))
            cand = env.layout.candidate_block(obs)[action]
            rows.append(np.concatenate([env.layout.user_block(obs), cand]))
            obs, reward, terminated, truncated, _ = env.step(action)
            targets.append(reward)
            done = terminated or truncated
    model = HistGradientBoostingRegressor(max_iter=max_iter, learning_rate=0.1, random_state=seed)
    with threadpool_limits(1):
        model.fit(np.asarray(rows), np.asarray(targets))
    return MyopicGreedy(env.layout, model)
