"""The recommendation session as a ``gymnasium.Env``.

State (observation): the user's reduced taste embedding, the genres of recent recommendations,
the last feedback and session counts, the position in the session, and for each of the K
candidates on offer its retrieval similarity, popularity, recent-genre overlap and genres (see
``features.py``). Action: ``Discrete(K)``, which candidate to recommend. Reward: the simulated
engagement (click + watch fraction + like bonus, ``simulator.py``).

The K candidates at each step are the K most similar movies of the user's retrieved pool that
have not been recommended yet in this session, so the slate refreshes as the session goes on.

Everything is seeded through ``reset(seed=...)`` (gymnasium's ``np_random``) and the step uses
only NumPy arrays of the :class:`~recsys_utils.rl.world.SimulationWorld`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from .features import ObservationLayout, build_observation
from .simulator import (
    SimulatorConfig,
    UserResponseModel,
    boredom_from_overlap,
    genre_overlap,
    next_patience,
    user_leaves,
)
from .world import SimulationWorld


class RecommendationEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(
        self,
        world: SimulationWorld,
        split: str = "train",
        config: SimulatorConfig | None = None,
        k: int = 10,
    ):
        super().__init__()
        self.world = world
        self.config = config or SimulatorConfig()
        self.user_rows = world.rows(split)
        if len(self.user_rows) == 0:
            raise ValueError(f"user split {split!r} is empty")
        needed = k + self.config.max_steps - 1
        if world.pool_size < needed:
            raise ValueError(
                f"candidate pools hold {world.pool_size} movies but K={k} over {self.config.max_steps} steps "
                f"needs at least {needed}; retrieve larger pools"
            )
        if world.history.shape[1] != self.config.boredom_window:
            raise ValueError(
                f"history window {world.history.shape[1]} != config.boredom_window {self.config.boredom_window}"
            )
        self.k = k
        self.response = UserResponseModel(self.config)
        self.layout = ObservationLayout(
            taste_dim=world.taste.shape[1],
            n_genres=world.catalog.genres.shape[1],
            k=k,
            window=self.config.boredom_window,
            max_steps=self.config.max_steps,
        )
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(self.layout.size,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(k)
        self._row = int(self.user_rows[0])
        self._reset_state()

    # -- gymnasium API ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options and "user_row" in options:
            self._row = int(options["user_row"])
        else:
            self._row = int(self.np_random.choice(self.user_rows))
        self._reset_state()
        return self._observation(), self._info()

    def step(self, action):
        if self._done:
            raise RuntimeError("step() after the session ended; call reset() first")
        action = int(action)
        if not 0 <= action < self.k:
            raise ValueError(f"action {action} outside Discrete({self.k})")
        slot = self._slate[action]
        item = int(self.world.pool_items[self._row, slot])
        rating = float(self.world.pool_ratings[self._row, slot])
        genres = self.world.catalog.genres[item]
        overlap = genre_overlap(genres[None, :], self._window_counts, self.config.boredom_window)[0]
        boredom = float(boredom_from_overlap(overlap, self.config.boredom_tolerance))
        click, watch, like = self.response.sample(self.np_random, rating, boredom)
        reward = self.response.reward(click, watch, like)
        self._patience = next_patience(self.config, self._patience, click)
        left = user_leaves(self.config, self.np_random, self._patience)
        self._remember(item, slot)
        self._last_feedback[:] = (click, watch, like)
        self._counts += (1.0 - click, click, like)
        self._step += 1
        terminated = left
        truncated = (not left) and self._step >= self.config.max_steps
        self._done = terminated or truncated
        if not self._done:
            self._refresh_slate()
        info = self._info()
        info.update(click=click, watch=watch, like=like, item=item, movie_id=int(self.world.catalog.movie_ids[item]),
                    boredom=boredom)
        return self._observation(), float(reward), terminated, truncated, info

    # -- references for baselines (simulator side: the oracle only) ------------------
    def expected_rewards(self) -> np.ndarray:
        """The simulator's expected immediate reward of each candidate on offer (oracle only)."""
        items = self.world.pool_items[self._row, self._slate]
        ratings = self.world.pool_ratings[self._row, self._slate]
        overlap = genre_overlap(self.world.catalog.genres[items], self._window_counts, self.config.boredom_window)
        boredom = boredom_from_overlap(overlap, self.config.boredom_tolerance)
        return self.response.expected_reward(ratings, boredom)

    @property
    def user_row(self) -> int:
        return self._row

    @property
    def slate_items(self) -> np.ndarray:
        return self.world.pool_items[self._row, self._slate]

    # -- internals --------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._remaining = np.ones(self.world.pool_size, dtype=bool)
        history = self.world.history[self._row]
        self._window = [int(i) for i in history]
        self._window_counts = self.world.catalog.genres[history[history >= 0]].sum(axis=0)
        self._last_feedback = np.zeros(3, dtype=np.float32)
        self._counts = np.zeros(3, dtype=np.float32)
        self._patience = self.config.initial_patience
        self._step = 0
        self._done = False
        self._refresh_slate()

    def _refresh_slate(self) -> None:
        self._slate = np.flatnonzero(self._remaining)[: self.k]

    def _remember(self, item: int, slot: int) -> None:
        self._remaining[slot] = False
        oldest = self._window.pop(0)
        if oldest >= 0:
            self._window_counts = self._window_counts - self.world.catalog.genres[oldest]
        self._window.append(item)
        self._window_counts = self._window_counts + self.world.catalog.genres[item]

    def _observation(self) -> np.ndarray:
        items = self.world.pool_items[self._row, self._slate]
        return build_observation(
            self.layout,
            taste=self.world.taste[self._row],
            window_genre_counts=self._window_counts,
            last_feedback=self._last_feedback,
            counts=self._counts,
            step=self._step,
            cand_similarity=self.world.pool_similarity[self._row, self._slate],
            cand_popularity=self.world.catalog.popularity[items],
            cand_genres=self.world.catalog.genres[items],
        )

    def _info(self) -> dict[str, Any]:
        return {"user_id": int(self.world.user_ids[self._row]), "step": self._step}
