"""The recommendation session as a ``gymnasium.Env``: a batch of one :class:`BatchedSessions`.

State (observation): the user's reduced taste embedding, the genres of recent recommendations,
the last feedback and session counts, the position in the session, and for each of the K
candidates on offer its retrieval similarity, popularity, recent-genre overlap, genres and item
features (see ``features.py``). Action: ``Discrete(K)``, which candidate to recommend. Reward:
the simulated engagement (click + watch fraction + like bonus, plus the expected return visit
at the end; ``simulator.py``).

The K candidates at each step are the K most similar movies of the user's retrieved pool that
have not been recommended yet in this session, so the slate refreshes as the session goes on.
The session ends (``terminated``) when the user leaves or after ``max_steps`` recommendations:
step 20 is a true end, not a time-out, and the observation carries the position.

Everything is seeded through ``reset(seed=...)`` (gymnasium's ``np_random`` draws the
session's coins); the dynamics themselves live in ``batched.py``, shared with evaluation.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from .batched import _MAX_STEPS_DRAWN, BatchedSessions
from .simulator import SimulatorConfig
from .world import SimulationWorld


class RecommendationEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, world: SimulationWorld, split: str = "train", config: SimulatorConfig | None = None,
                 k: int = 10):
        super().__init__()
        self.world = world
        self.config = config or SimulatorConfig()
        self.user_rows = world.rows(split)
        if len(self.user_rows) == 0:
            raise ValueError(f"user split {split!r} is empty")
        self.k = k
        self._session = BatchedSessions(world, self.config, k, self.user_rows[:1],
                                        np.zeros((1, _MAX_STEPS_DRAWN, 3)))
        self.layout = self._session.layout
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(self.layout.size,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(k)

    # -- gymnasium API ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options and "user_row" in options:
            row = int(options["user_row"])
        else:
            row = int(self.np_random.choice(self.user_rows))
        coins = self.np_random.random((1, _MAX_STEPS_DRAWN, 3))
        self._session = BatchedSessions(self.world, self.config, self.k, [row], coins)
        return self._session.observations()[0], self._info()

    def step(self, action):
        if self._session.done[0]:
            raise RuntimeError("step() after the session ended; call reset() first")
        action = int(action)
        if not 0 <= action < self.k:
            raise ValueError(f"action {action} outside Discrete({self.k})")
        result = self._session.step_all(np.array([action]))
        info = self._info()
        item = int(result.item[0])
        info.update(click=float(result.click[0]), watch=float(result.watch[0]), like=float(result.like[0]),
                    item=item, movie_id=int(self.world.catalog.movie_ids[item]))
        return self._session.observations()[0], float(result.reward[0]), bool(result.terminated[0]), False, info

    # -- references for baselines (simulator side: the oracle only) ------------------
    def expected_rewards(self) -> np.ndarray:
        """The simulator's expected immediate engagement of each candidate on offer (oracle only)."""
        return self._session.expected_rewards()[0]

    @property
    def user_row(self) -> int:
        return int(self._session.rows[0])

    @property
    def slate_items(self) -> np.ndarray:
        return self.world.pool_items[self.user_row, self._session.slates()[0]]

    def _info(self) -> dict[str, Any]:
        return {"user_id": int(self.world.user_ids[self.user_row]), "step": int(self._session.step[0])}
