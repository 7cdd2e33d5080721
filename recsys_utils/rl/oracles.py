"""The two references that read the simulator: the myopic oracle and the lookahead oracle.

* ``MyopicOracle`` shows the candidate with the highest expected engagement *now* (the
  simulator's own response model, no learning error). When the future does not depend on what
  is shown, nothing can beat it.
* ``LookaheadOracle`` is one step of policy improvement on top of it (a rollout policy, as in
  Bertsekas' rollout algorithms): for every candidate on offer it simulates ``rollouts`` futures
  that start by showing that candidate and then continue with the myopic oracle, and shows the
  candidate with the best mean return. All candidates of one decision share the same random
  numbers (common random numbers), and the first step's engagement enters as its exact expectation, so their
  comparison is not swamped by the coins. It never sees the session's own future coins.

``planning room`` = return(lookahead oracle) - return(myopic oracle): what knowing the dynamics
adds over knowing the immediate response. It is ~0 when the dynamics are off.
"""

from __future__ import annotations

import numpy as np


class MyopicOracle:
    name = "myopic oracle"

    def act(self, observations: np.ndarray, sessions) -> np.ndarray:
        return sessions.expected_rewards().argmax(axis=1)


class LookaheadOracle:
    name = "lookahead oracle"

    def __init__(self, rollouts: int = 8, seed: int = 0, chunk: int = 60_000):
        if rollouts < 1:
            raise ValueError("rollouts must be at least 1")
        self.rollouts, self.chunk = rollouts, chunk
        self.rng = np.random.default_rng(seed)

    def act(self, observations: np.ndarray, sessions) -> np.ndarray:
        actions = np.zeros(sessions.n, dtype=np.int64)
        active = np.flatnonzero(~sessions.done)
        per_session = sessions.k * self.rollouts
        step = max(1, self.chunk // per_session)
        for start in range(0, len(active), step):
            part = active[start : start + step]
            actions[part] = self.values(sessions, part).argmax(axis=1)
        return actions

    def values(self, sessions, part: np.ndarray) -> np.ndarray:
        """(len(part), k) mean rollout return of starting with each candidate."""
        k, r = sessions.k, self.rollouts
        sims = sessions.take(np.repeat(part, k * r))
        coins = self.rng.random((len(part), 1, r, sims.uniforms.shape[1], 3))
        sims.uniforms = np.broadcast_to(coins, (len(part), k, r, *coins.shape[3:])).reshape(sims.uniforms.shape).copy()
        # Future coins start at each session's current step, whatever step it is at.
        first = np.tile(np.repeat(np.arange(k), r), len(part))
        # The first step's engagement is replaced by its exact expectation (a control variate:
        # same mean, none of the click coin's noise); what follows is simulated.
        expected = sims.expected_rewards()[np.arange(sims.n), first]
        result = sims.step_all(first)
        c = sims.config
        engagement = c.click_reward * result.click + c.watch_reward * result.watch + c.like_reward * result.like
        total = expected + (result.reward - engagement)
        while not sims.done.all():
            total += sims.step_all(sims.expected_rewards().argmax(axis=1)).reward
        return total.reshape(len(part), k, r).mean(axis=2)
