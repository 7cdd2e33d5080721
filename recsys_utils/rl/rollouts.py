"""Run a policy on many simulated sessions at once and summarise what happened.

All sessions of one evaluation advance in lockstep so a policy is called once per step on a
batch of observations (one forward pass of the network, one call of the reward model).
Each (user, episode) pair gets its own seed derived from ``seed``, so two policies evaluated
with the same ``seed`` face the same users with the same random streams (common random
numbers), which makes their difference far less noisy than independent runs would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .env import RecommendationEnv


@dataclass
class Rollouts:
    """One row per session."""

    user_rows: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray
    clicks: np.ndarray
    watch: np.ndarray
    likes: np.ndarray
    diversity: np.ndarray

    def summary(self) -> dict[str, float]:
        steps = max(float(self.lengths.sum()), 1.0)
        return {
            "mean_return": float(self.returns.mean()),
            "ctr": float(self.clicks.sum() / steps),
            "watch_time": float(self.watch.mean()),
            "session_length": float(self.lengths.mean()),
            "likes": float(self.likes.mean()),
            "diversity": float(self.diversity.mean()),
        }


def session_seed(seed: int, user_row: int, episode: int) -> int:
    return int(np.random.SeedSequence([seed, user_row, episode]).generate_state(1)[0])


def intra_list_diversity(genre_vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance of the genre vectors of a session's recommendations."""
    n = len(genre_vectors)
    if n < 2:
        return 0.0
    norms = np.linalg.norm(genre_vectors, axis=1, keepdims=True)
    unit = genre_vectors / np.maximum(norms, 1e-9)
    sims = unit @ unit.T
    return float(1.0 - (sims.sum() - np.trace(sims)) / (n * (n - 1)))


def run_sessions(policy, world, split: str, config, k: int, seed: int, episodes_per_user: int = 1,
                 max_users: int | None = None) -> Rollouts:
    rows = world.rows(split)
    if max_users is not None:
        rows = rows[:max_users]
    envs, obs = [], []
    for episode in range(episodes_per_user):
        for row in rows:
            env = RecommendationEnv(world, split, config, k)
            o, _ = env.reset(seed=session_seed(seed, int(row), episode), options={"user_row": int(row)})
            envs.append(env)
            obs.append(o)
    n = len(envs)
    returns, lengths, clicks, watch, likes = (np.zeros(n) for _ in range(5))
    shown: list[list[int]] = [[] for _ in range(n)]
    active = np.arange(n)
    current = np.stack(obs)
    while len(active):
        actions = np.asarray(policy.act(current[active], [envs[i] for i in active]))
        still = []
        for i, action in zip(active, actions, strict=True):
            o, r, terminated, truncated, info = envs[i].step(int(action))
            current[i] = o
            returns[i] += r
            lengths[i] += 1
            clicks[i] += info["click"]
            watch[i] += info["watch"]
            likes[i] += info["like"]
            shown[i].append(info["item"])
            if not (terminated or truncated):
                still.append(i)
        active = np.asarray(still, dtype=int)
    genres = world.catalog.genres
    diversity = np.array([intra_list_diversity(genres[items]) for items in shown])
    user_rows = np.array([env.user_row for env in envs])
    return Rollouts(user_rows, returns, lengths, clicks, watch, likes, diversity)
