"""The candidate table: each known user's latest ranked pool, kept for the state version it was
computed for.

A known user's pool (the generator's candidates, the RL policy's scores of them and the design
rows the scoring head reads) is a function of the user's state and of artefacts that are fixed
for the life of the process. Every event that changes a user advances their state version
(``learning.UserStates``; every worker replays the same log, so every worker agrees on it). So a
pool computed at version ``v`` answers every later request at ``v``, and the first request after
a new event computes the next one. The scoring head, which the learner swaps while the service
runs, is applied to the pool on every request, so a new head takes effect at once.

Start-up fills the table with the version-0 pool of up to ``RECSYS_PRECOMPUTE_USERS`` users
(``pipeline.Recommender.precompute_fresh``); the online path adds the rest as users arrive. It
holds at most ``capacity`` users (about 10 KB each with the default pool of 50), and the user
asked about least recently leaves first. Each worker keeps its own; behind it sits the shared
tier (``shared_cache``), which every worker reads on a miss and writes on a computation, so a
pool computed by one worker answers a user's first request at any other.
"""

from __future__ import annotations

import numpy as np

from .lru import LRU


class PoolTable:
    """Bounded map ``user_id -> (state version, pool)`` (thread-safe: ``lru.LRU``), in front of
    an optional shared tier (``shared_cache.SharedCache``)."""

    def __init__(self, capacity: int, shared=None):
        if capacity < 0:
            raise ValueError(f"the candidate table holds >= 0 users (RECSYS_POOL_TABLE_USERS; 0 turns it off), "
                             f"got {capacity}")
        self._pools = LRU(capacity)
        self.shared = shared if capacity else None
        # How requests were answered (``/health``; approximate under threads, which is all it is for).
        self.counts = {"this_worker": 0, "shared": 0, "computed": 0}

    @property
    def capacity(self) -> int:
        return self._pools.capacity

    def get(self, user_id: int, version: int) -> tuple | None:
        """The pool computed for ``user_id`` at ``version``, or None (never computed, evicted, or
        computed for another version)."""
        held = self._pools.get(user_id)
        if held is not None and held[0] == version:
            self.counts["this_worker"] += 1
            return held[1]
        pool = self.shared.get_pool(user_id, version) if self.shared is not None else None
        if pool is None:
            self.counts["computed"] += 1
            return None
        self.counts["shared"] += 1
        self._pools.put(user_id, (version, pool))  # decoded arrays are read-only already
        return pool

    def put(self, user_id: int, version: int, pool: tuple, share: bool = True) -> None:
        """Keep ``pool`` as the user's pool at ``version``, in place of any other version, and
        write it to the shared tier unless ``share`` is False (start-up, when every worker
        computes the same pools at once). Its arrays are made read-only, since every later
        request at that version shares them. Two requests racing across an event may leave the
        older version here: the next request then finds no pool for its version and computes
        it, so that costs time, never a stale answer."""
        for array in pool:
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
        self._pools.put(user_id, (version, pool))
        if share and self.shared is not None:
            self.shared.put_pool(user_id, version, pool)

    def describe(self) -> dict:
        return {"users": len(self), "capacity": self.capacity,
                "shared": None if self.shared is None else self.shared.description, "answered": dict(self.counts)}

    def __len__(self) -> int:
        return len(self._pools)
