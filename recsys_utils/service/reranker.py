"""The lesson-04 RL policy as the pipeline's base re-ranker, through the RL policy contract.

``load_reranker`` is the one place the service obtains it: ``rl.load_policy`` loads the saved
policy, and each request asks ``rl.serving.guarded_scores`` for one score per candidate (the
contract cuts the candidates into slates of K and scores them in one batched forward pass; no
stable-baselines3 internals here). The user's state is the contract's own
``policy.state_for(history, ratings)``: the taste embedding *and* the collaborative embedding
(``cf_embedding``) folded in from the training history plus the movies the user clicked or
liked since (the online update), then the movies recently shown and the session's step, last
feedback and counts. The similarity the policy sees is recomputed by the policy from its own
movie vectors, as in lesson 04's environment.
"""

from __future__ import annotations

import threading

import numpy as np

from .errors import MissingArtifact

POLICY_LESSON = "lesson 04 (notebooks/04_rl_dqn_vs_ppo.ipynb)"

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


def load_reranker(catalog, path=None):
    """The RL policy as a base re-ranker (FileNotFoundError naming lesson 04 when none is saved)."""
    from ..rl.serving import load_policy

    _one_torch_thread()
    return RLBasePolicy(load_policy(path), catalog)


class RLBasePolicy:
    def __init__(self, policy, catalog):
        self.policy = policy
        self.catalog = catalog
        self.info = dict(policy.info)
        self.kind = f"RL policy ({self.info['algorithm']}, lesson 04)"
        self.version = self.info["version"]
        missing = np.setdiff1d(catalog.movie_ids, policy.catalog.movie_ids)
        if len(missing):
            raise MissingArtifact(
                f"the saved policy was trained on another catalogue ({len(missing)} served movies unknown to it, "
                f"e.g. {missing[:3].tolist()}); rerun {POLICY_LESSON} on this dataset"
            )

    @classmethod
    def load(cls, catalog, path=None) -> RLBasePolicy:
        return load_reranker(catalog, path)

    def state(self, ctx):
        """``policy.state_for`` on the user's history (+ positive feedback), with the session's window."""
        history = ctx.history_ids if len(ctx.history_ids) else ctx.movie_ids[: self.policy.layout.window]
        stars = ctx.history_ratings if len(ctx.history_ids) else None
        # A wish-only visitor has no history yet: what retrieval found for the wish stands in for it.
        state = self.policy.state_for(history, stars, step=int(ctx.step),
                                      last_feedback=tuple(float(x) for x in ctx.last_feedback),
                                      counts=tuple(float(x) for x in ctx.counts))
        state.recent_movie_ids = self.catalog.movie_ids[ctx.window_rows].tolist()
        return state

    def score(self, ctx) -> np.ndarray:
        _one_torch_thread()
        from ..rl.serving import guarded_scores

        # ctx.rows is the generator's order; the guard blends the policy's ranking with it by the
        # weight validation chose (0: the generator's order unchanged).
        return np.asarray(guarded_scores(self.policy, self.state(ctx), ctx.movie_ids), dtype=np.float64)
