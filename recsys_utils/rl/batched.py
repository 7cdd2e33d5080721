"""Many recommendation sessions advanced in lockstep with NumPy: the one home of the dynamics.

:class:`BatchedSessions` holds the state of ``n`` sessions as arrays and steps them all with a
vector of actions. The gymnasium environment (``env.RecommendationEnv``) is a batch of one;
evaluation, checkpoint selection and the lookahead oracle's rollouts use large batches, so
scoring 300+ validation sessions per checkpoint costs a few batched steps, not thousands of
Python ``env.step`` calls.

Random numbers: each session carries its own (max_steps, 3) uniforms, drawn when it starts
(click coin, like coin, leave coin at every step). Two policies run on sessions with the same
seeds see the same coins for as long as their sessions agree (common random numbers); the
lookahead oracle replaces them with fresh draws shared by all of its candidate actions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import ObservationLayout, build_observations
from .simulator import SimulatorConfig, UserResponseModel, boredom_from_overlap, genre_overlap
from .world import SimulationWorld

STATE_ARRAYS = ("rows", "slate", "remaining", "window", "window_counts", "satiation", "last_feedback", "counts",
                "patience", "step", "done", "uniforms")


def session_uniforms(seeds) -> np.ndarray:
    """(n, max_steps, 3) coins for sessions seeded by ``seeds`` (one generator per session)."""
    return np.stack([np.random.default_rng(int(s)).random((_MAX_STEPS_DRAWN, 3)) for s in seeds])


_MAX_STEPS_DRAWN = 64  # enough for any max_steps the config allows in the course


def _genre_index(catalog) -> np.ndarray:
    """(m, max genres per movie) int: each movie's genre columns, padded with ``n_genres``
    (computed once per catalogue)."""
    cached = getattr(catalog, "_genre_index", None)
    if cached is not None:
        return cached
    genres = catalog.genres
    width = max(int(genres.sum(axis=1).max()), 1) if len(genres) else 1
    out = np.full((len(genres), width), genres.shape[1], dtype=np.int64)
    for i, row in enumerate(genres):
        cols = np.flatnonzero(row)
        out[i, : len(cols)] = cols
    catalog._genre_index = out
    return out


@dataclass
class StepResult:
    reward: np.ndarray
    terminated: np.ndarray
    click: np.ndarray
    watch: np.ndarray
    like: np.ndarray
    item: np.ndarray


class BatchedSessions:
    def __init__(self, world: SimulationWorld, config: SimulatorConfig, k: int, rows, uniforms: np.ndarray):
        self.world, self.config, self.k = world, config, int(k)
        self.response = UserResponseModel(config)
        needed = k + config.max_steps - 1
        if world.pool_size < needed:
            raise ValueError(
                f"candidate pools hold {world.pool_size} movies but K={k} over {config.max_steps} steps "
                f"needs at least {needed}; retrieve larger pools"
            )
        if world.history.shape[1] != config.boredom_window:
            raise ValueError(
                f"history window {world.history.shape[1]} != config.boredom_window {config.boredom_window}"
            )
        if uniforms.shape[1] < config.max_steps:
            raise ValueError(f"uniforms cover {uniforms.shape[1]} steps, the sessions last up to {config.max_steps}")
        self.layout = ObservationLayout(
            taste_dim=world.taste.shape[1], n_genres=world.catalog.genres.shape[1], k=k,
            window=config.boredom_window, max_steps=config.max_steps, item_feature_dim=world.item_feature_dim,
        )
        rows = np.asarray(rows, dtype=np.int64)
        n = len(rows)
        genres = world.catalog.genres
        self._genre_index = _genre_index(world.catalog)
        self.rows = rows
        self.remaining = np.ones((n, world.pool_size), dtype=bool)
        # The slate is the first k remaining slots in pool order. Exactly one slot of the slate
        # leaves per step, so the slot that enters next is always k + steps taken.
        self.slate = np.tile(np.arange(k, dtype=np.int64), (n, 1))
        self.window = world.history[rows].copy()
        known = self.window >= 0
        self.window_counts = (genres[np.where(known, self.window, 0)] * known[..., None]).sum(axis=1)
        self.satiation = np.zeros((n, genres.shape[1]), dtype=np.float32)
        if config.satiation_decay > 0:  # the history seeds the trace, oldest first
            for j in range(self.window.shape[1]):
                self._decay_in(known[:, j], genres[np.where(known[:, j], self.window[:, j], 0)])
        self.last_feedback = np.zeros((n, 3), dtype=np.float32)
        self.counts = np.zeros((n, 3), dtype=np.float32)
        self.patience = np.full(n, config.initial_patience, dtype=np.float64)
        self.step = np.zeros(n, dtype=np.int64)
        self.done = np.zeros(n, dtype=bool)
        self.uniforms = np.asarray(uniforms, dtype=np.float64)

    @classmethod
    def start(cls, world, config, k, rows, seeds) -> BatchedSessions:
        return cls(world, config, k, rows, session_uniforms(seeds))

    @property
    def n(self) -> int:
        return len(self.rows)

    # -- what is on offer ------------------------------------------------------------
    def slates(self) -> np.ndarray:
        """(n, k) pool slots on offer: the k best-retrieved movies not shown yet."""
        return self.slate

    def _candidates(self):
        slots = self.slates()
        r = self.rows[:, None]
        items = self.world.pool_items[r, slots]
        return slots, items

    def _boredom(self, cand_genres: np.ndarray) -> np.ndarray:
        c = self.config
        if not c.long_term_dynamics:
            return np.zeros(cand_genres.shape[:-1])
        if c.satiation_decay > 0:
            # The largest satiation among the candidate's genres, gathered through each movie's
            # few genre indices (padding points at an always-zero column) rather than a dense max.
            padded = np.concatenate([self.satiation, np.zeros((self.n, 1), np.float32)], axis=1)
            overlap = np.take_along_axis(padded[:, None, :], cand_genres, axis=2).max(axis=-1)
        else:
            overlap = genre_overlap(cand_genres, self.window_counts, c.boredom_window)
        return boredom_from_overlap(overlap, c.boredom_tolerance)

    def _genres_for_boredom(self, items: np.ndarray) -> np.ndarray:
        if self.config.satiation_decay > 0:
            return self._genre_index[items]
        return self.world.catalog.genres[items]

    def expected_rewards(self) -> np.ndarray:
        """(n, k) the simulator's expected engagement of each candidate now (oracles only)."""
        slots, items = self._candidates()
        r = self.rows[:, None]
        return self.response.expected_reward(
            self.world.pool_ratings[r, slots], self._boredom(self._genres_for_boredom(items)),
            self.world.catalog.popularity[items], self.world.pool_similarity[r, slots])

    def observations(self) -> np.ndarray:
        slots, items = self._candidates()
        r = self.rows[:, None]
        cat = self.world.catalog
        return build_observations(
            self.layout, self.world.taste[self.rows], self.window_counts, self.last_feedback, self.counts,
            self.step, self.world.pool_similarity[r, slots], cat.popularity[items], cat.genres[items],
            cand_item_features=self.world.candidate_features(self.rows, slots),
        )

    # -- one step of every unfinished session ------------------------------------------
    def step_all(self, actions) -> StepResult:
        actions = np.asarray(actions, dtype=np.int64)
        if actions.shape != (self.n,):
            raise ValueError(f"expected {self.n} actions, got shape {actions.shape}")
        if ((actions < 0) | (actions >= self.k)).any():
            raise ValueError(f"actions outside Discrete({self.k}): {actions[(actions < 0) | (actions >= self.k)][:5]}")
        c, idx, active = self.config, np.arange(self.n), ~self.done
        slots, items = self._candidates()
        slot, item = slots[idx, actions], items[idx, actions]
        rating = self.world.pool_ratings[self.rows, slot]
        genres = self.world.catalog.genres[item]
        boredom = self._boredom(self._genres_for_boredom(item[:, None]))[:, 0]
        p_click = self.response.click_probability(rating, boredom, self.world.catalog.popularity[item],
                                                  self.world.pool_similarity[self.rows, slot])
        coins = self.uniforms[idx, np.minimum(self.step, self.uniforms.shape[1] - 1)]
        click = ((coins[:, 0] < p_click) & active).astype(np.float64)
        watch = click * self.response.watch_fraction(rating)
        like = click * (coins[:, 1] < self.response.like_probability(rating))
        reward = c.click_reward * click + c.watch_reward * watch + c.like_reward * like
        if c.long_term_dynamics:
            gain = c.patience_recovery + c.quality_gain * (rating - c.quality_center)
            moved = np.where(click > 0, np.minimum(c.initial_patience, self.patience + gain),
                             self.patience - c.patience_drop)
            self.patience = np.where(active, moved, self.patience)
        left = (coins[:, 2] < c.leave_base) | (self.patience <= 1e-9)
        self.step = self.step + active
        ended = active & (left | (self.step >= c.max_steps))
        reward = reward + np.where(ended, self.response.return_value(self.patience), 0.0)
        reward = np.where(active, reward, 0.0)
        # What the user saw enters the history (agent side) and the satiation trace (simulator side).
        self.remaining[idx[active], slot[active]] = False
        keep = np.arange(self.k - 1)[None, :]
        keep = keep + (keep >= actions[:, None])
        refreshed = np.concatenate([np.take_along_axis(self.slate, keep, axis=1),
                                    (self.k + self.step - 1)[:, None]], axis=1)  # step already advanced
        self.slate = np.where(active[:, None], np.minimum(refreshed, self.world.pool_size - 1), self.slate)
        oldest = self.window[:, 0]
        drop = active & (oldest >= 0)
        self.window_counts = self.window_counts - self.world.catalog.genres[np.maximum(oldest, 0)] * drop[:, None]
        self.window_counts = self.window_counts + genres * active[:, None]
        self.window[active] = np.concatenate([self.window[active, 1:], item[active, None]], axis=1)
        if c.satiation_decay > 0:
            self._decay_in(active, genres)
        feedback = np.stack([click, watch, like], axis=1).astype(np.float32)
        self.last_feedback[active] = feedback[active]
        self.counts[active] += np.stack([1.0 - click, click, like], axis=1).astype(np.float32)[active]
        self.done = self.done | ended
        return StepResult(reward, ended, click, watch, like, np.where(active, item, -1))

    def _decay_in(self, mask: np.ndarray, genres: np.ndarray) -> None:
        d = self.config.satiation_decay
        self.satiation = np.where(mask[:, None], d * self.satiation + (1.0 - d) * genres, self.satiation).astype(
            np.float32)

    # -- copies for rollouts -----------------------------------------------------------
    def take(self, index) -> BatchedSessions:
        """A new batch whose session i is a copy of session ``index[i]`` of this one."""
        index = np.asarray(index, dtype=np.int64)
        out = object.__new__(BatchedSessions)
        out.world, out.config, out.k, out.response, out.layout = self.world, self.config, self.k, self.response, \
            self.layout
        out._genre_index = self._genre_index
        for name in STATE_ARRAYS:
            setattr(out, name, getattr(self, name)[index].copy())
        return out
