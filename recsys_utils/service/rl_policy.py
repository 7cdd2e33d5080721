"""The lesson-04 RL policy as the pipeline's base re-ranker (adapter to ``recsys_utils.rl``).

``rl.rank_candidates`` mirrors the environment exactly: it places one movie per forward pass
and refills the slate, so ranking a pool of 50 costs 50 passes (~5 ms here, over the whole
latency budget of a request). This adapter builds the same observations with
``LoadedPolicy.observation`` but scores the pool in one batched pass: the candidates, in
retrieval order, are cut into slates of K and each candidate gets its slot's score (DQN
Q-value, or PPO log-probability). The first slate's scores are exactly the policy's scores on
the observation the environment would show now; a later slate is scored on the observation it
would get if it were shown with the same session state, an approximation of
``rank_candidates``' refill order that costs one forward pass instead of one per candidate
(``tests/test_service_api.py`` checks the first-slate equality).
"""

from __future__ import annotations

import threading

import numpy as np

from .artifacts import LESSONS, MissingArtifact

_thread_state = threading.local()


def _one_torch_thread() -> None:
    """torch's intra-op thread count is an OpenMP setting *of the calling thread*: setting it
    at load time (in a start-up worker) leaves the event-loop thread with one OpenMP thread per
    core, and on 2 shared cores those spinning threads made a 0.4 ms forward pass take ~30 ms
    (measured with benchmarks/bench_service.py). So every thread that scores sets it once."""
    if not getattr(_thread_state, "done", False):
        import torch

        torch.set_num_threads(1)
        _thread_state.done = True


class RLBasePolicy:
    def __init__(self, loaded, catalog):
        self.loaded = loaded
        self.catalog = catalog
        self.k = loaded.layout.k
        manifest = loaded.manifest or {}
        best = manifest.get("best", {})
        self.kind = f"RL policy ({loaded.algorithm}, lesson 04)"
        seed = best.get("seed", "?")
        self.version = f"{loaded.algorithm.lower()}-seed{seed}"
        missing = np.setdiff1d(catalog.movie_ids, loaded.catalog.movie_ids)
        if len(missing):
            raise MissingArtifact(
                f"the saved policy was trained on another catalogue ({len(missing)} served movies unknown to it, "
                f"e.g. {missing[:3].tolist()}); rerun {LESSONS['policy']} on this dataset"
            )

    @classmethod
    def load(cls, catalog, path=None) -> RLBasePolicy:
        from ..rl.serving import load_policy

        _one_torch_thread()
        return cls(load_policy(path), catalog)

    def score(self, ctx) -> np.ndarray:
        from ..rl.serving import UserState

        _one_torch_thread()
        movie_ids = self.catalog.movie_ids
        recent = [int(movie_ids[r]) for r in ctx.window_rows]
        state = UserState(taste_embedding=ctx.taste, recent_movie_ids=recent, step=int(ctx.step),
                          last_feedback=tuple(float(x) for x in ctx.last_feedback),
                          counts=tuple(float(x) for x in ctx.counts))
        ids = movie_ids[ctx.rows]
        observations, valids = [], []
        for start in range(0, len(ids), self.k):
            obs, valid = self.loaded.observation(state, ids[start:start + self.k], ctx.similarity[start:start + self.k])
            observations.append(obs)
            valids.append(valid)
        scores = self._batched_scores(np.stack(observations))
        return np.concatenate([s[v] for s, v in zip(scores, valids, strict=True)]).astype(np.float64)

    def _batched_scores(self, observations: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            obs = torch.as_tensor(observations, dtype=torch.float32)
            if self.loaded.algorithm == "DQN":
                return self.loaded.model.q_net(obs).numpy()
            logits = self.loaded.model.policy.get_distribution(obs).distribution.logits
            return torch.log_softmax(logits, dim=-1).numpy()
