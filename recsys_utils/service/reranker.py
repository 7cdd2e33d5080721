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

from .errors import MissingArtifact

POLICY_LESSON = "lesson 04 (notebooks/04_rl_dqn_vs_ppo.ipynb)"

_thread_state = threading.local()


def load_reranker(catalog, path=None):
    """The one place the service obtains its base re-ranker from ``recsys_utils.rl``
    (raises FileNotFoundError when lesson 04 has not saved a policy)."""
    return RLBasePolicy.load(catalog, path)


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
                f"e.g. {missing[:3].tolist()}); rerun {POLICY_LESSON} on this dataset"
            )

    @classmethod
    def load(cls, catalog, path=None) -> RLBasePolicy:
        from ..rl.serving import load_policy

        _one_torch_thread()
        return cls(load_policy(path), catalog)

    def score(self, ctx) -> np.ndarray:
        _one_torch_thread()
        observations, valids = self.observations(ctx)
        scores = self._batched_scores(observations)
        return np.concatenate([s[v] for s, v in zip(scores, valids, strict=True)]).astype(np.float64)

    def observations(self, ctx) -> tuple[np.ndarray, np.ndarray]:
        """(n_slates, obs) and (n_slates, K) validity: what ``LoadedPolicy.observation`` builds
        for each slate, with the parts shared by all slates (taste projection, genre window)
        computed once (tests check equality with ``LoadedPolicy.observation``)."""
        from ..rl.features import build_observation

        loaded, k = self.loaded, self.k
        catalog, layout = loaded.catalog, loaded.layout
        taste = np.asarray(ctx.taste, dtype=np.float32)
        taste = loaded.projection.transform((taste / max(float(np.linalg.norm(taste)), 1e-9))[None])[0]
        recent = [int(self.catalog.movie_ids[r]) for r in ctx.window_rows][-layout.window:]
        window_counts = catalog.genres[catalog.positions(recent)].sum(axis=0) if recent else \
            np.zeros(layout.n_genres, dtype=np.float32)
        positions = catalog.positions(self.catalog.movie_ids[ctx.rows])
        similarity = np.asarray(ctx.similarity, dtype=np.float32)
        last_feedback = np.asarray(ctx.last_feedback, np.float32)
        counts = np.asarray(ctx.counts, np.float32)
        n_slates = -(-len(positions) // k)
        observations = np.empty((n_slates, layout.size), dtype=np.float32)
        valids = np.zeros((n_slates, k), dtype=bool)
        for slate in range(n_slates):
            part = slice(slate * k, (slate + 1) * k)
            pos, sims = positions[part], similarity[part]
            valids[slate, : len(pos)] = True
            padded = np.zeros(k, dtype=np.int64)
            padded[: len(pos)] = pos
            sim_full = np.zeros(k, dtype=np.float32)
            sim_full[: len(pos)] = sims
            observations[slate] = build_observation(
                layout, taste, window_counts, last_feedback, counts, int(ctx.step), sim_full,
                catalog.popularity[padded], catalog.genres[padded], cand_valid=valids[slate])
        return observations, valids

    def _batched_scores(self, observations: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            obs = torch.as_tensor(observations, dtype=torch.float32)
            if self.loaded.algorithm == "DQN":
                return self.loaded.model.q_net(obs).numpy()
            logits = self.loaded.model.policy.get_distribution(obs).distribution.logits
            return torch.log_softmax(logits, dim=-1).numpy()
