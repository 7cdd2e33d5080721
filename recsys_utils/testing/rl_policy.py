"""A stand-in for ``recsys_utils.rl.load_policy()`` with the same contract and no torch.

``StubPolicy`` scores each candidate by the cosine of its vector with the user's taste (so the
order is predictable in a test), exposes ``state_for``, ``score`` and ``info`` like
``rl.serving.LoadedPolicy``, and works with ``rl.rank_candidates``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..rl.serving import UserState


class StubPolicy:
    def __init__(self, movie_ids, item_vectors: np.ndarray, *, beats_greedy: bool = False,
                 policy_weight: float = 1.0, window: int = 5):
        order = np.argsort(np.asarray(movie_ids, dtype=np.int64), kind="stable")
        self.movie_ids = np.asarray(movie_ids, dtype=np.int64)[order]
        self.item_vectors = np.asarray(item_vectors, dtype=np.float32)[order]
        self.window = window
        gain = 0.5 if beats_greedy else 0.0
        self.info = {
            "algorithm": "stub", "version": "stub-0", "validation_return": 0.0, "beats_greedy": beats_greedy,
            "gain_vs_greedy": {"value": gain, "ci": [gain - 0.1, gain + 0.1]}, "policy_weight": policy_weight,
        }

    def _positions(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.movie_ids, ids), 0, len(self.movie_ids) - 1)
        if (self.movie_ids[pos] != ids).any():
            raise KeyError(f"movie ids {ids[self.movie_ids[pos] != ids][:5].tolist()} are unknown to the stub policy")
        return pos

    def state_for(self, history_movie_ids: Sequence[int], history_ratings=None, **session) -> UserState:
        ids = [int(m) for m in history_movie_ids]
        if not ids:
            raise ValueError("state_for needs at least one watched movie id")
        weights = np.ones(len(ids)) if history_ratings is None else np.asarray(history_ratings, dtype=np.float64)
        taste = weights @ self.item_vectors[self._positions(ids)]
        taste = taste / max(float(np.linalg.norm(taste)), 1e-9)
        return UserState(taste_embedding=taste.astype(np.float32), recent_movie_ids=ids[-self.window :], **session)

    def score(self, states, candidate_ids, similarities=None) -> np.ndarray:
        states = [states] if isinstance(states, UserState) else list(states)
        ids = np.asarray(candidate_ids, dtype=np.int64)
        if ids.ndim == 1:
            ids = np.broadcast_to(ids, (len(states), len(ids)))
        out = np.empty(ids.shape, dtype=np.float32)
        for i, state in enumerate(states):
            if state.taste_embedding is None:
                raise ValueError("StubPolicy needs UserState.taste_embedding (use state_for)")
            out[i] = self.item_vectors[self._positions(ids[i])] @ np.asarray(state.taste_embedding, np.float32)
        return out
