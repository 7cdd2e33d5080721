"""Run a policy on many simulated sessions at once and summarise what happened.

All sessions of one evaluation advance in lockstep in one :class:`BatchedSessions`, so a policy
is called once per step on a batch of observations (one forward pass of the network, one call
of the reward model). Each (user, episode) pair gets its own seed derived from ``seed``, so two
policies evaluated with the same ``seed`` face the same users with the same random streams
(common random numbers), which makes their difference far less noisy than independent runs.

A policy is anything with ``act(observations (n, obs_dim), sessions) -> actions (n,)``; only
oracles read ``sessions`` (the simulator's state); finished sessions' actions are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .batched import BatchedSessions


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


def start_sessions(world, split: str, config, k: int, seed: int, episodes_per_user: int = 1,
                   max_users: int | None = None) -> BatchedSessions:
    rows = world.rows(split)
    if max_users is not None:
        rows = rows[:max_users]
    all_rows = np.tile(rows, episodes_per_user)
    episodes = np.repeat(np.arange(episodes_per_user), len(rows))
    seeds = [session_seed(seed, int(r), int(e)) for r, e in zip(all_rows, episodes, strict=True)]
    return BatchedSessions.start(world, config, k, all_rows, seeds)


def run_sessions(policy, world, split: str, config, k: int, seed: int, episodes_per_user: int = 1,
                 max_users: int | None = None) -> Rollouts:
    sessions = start_sessions(world, split, config, k, seed, episodes_per_user, max_users)
    return play(policy, sessions)


def play(policy, sessions: BatchedSessions) -> Rollouts:
    n = sessions.n
    returns, lengths, clicks, watch, likes = (np.zeros(n) for _ in range(5))
    shown = np.full((n, sessions.config.max_steps), -1, dtype=np.int64)
    while not sessions.done.all():
        active = ~sessions.done
        actions = np.asarray(policy.act(sessions.observations(), sessions)).astype(np.int64)
        t = np.minimum(sessions.step, sessions.config.max_steps - 1)
        result = sessions.step_all(actions)
        shown[np.flatnonzero(active), t[active]] = result.item[active]
        returns += result.reward
        lengths += active
        clicks += result.click
        watch += result.watch
        likes += result.like
    genres = sessions.world.catalog.genres
    diversity = np.array([intra_list_diversity(genres[row[row >= 0]]) for row in shown])
    return Rollouts(sessions.rows.copy(), returns, lengths, clicks, watch, likes, diversity)
