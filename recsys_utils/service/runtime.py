"""The live objects behind the routes: one ``Service`` per app, built at start-up."""

from __future__ import annotations

import gc
import logging

from .errors import MissingArtifact  # noqa: F401  (re-exported for start-up error messages)
from .feedback_store import open_state_store
from .learning import PolicyLearner, UserStates
from .pipeline import Recommender
from .settings import ServiceSettings
from .shared_cache import cache_fingerprint, open_shared_cache

logger = logging.getLogger(__name__)


def load_artifacts(settings: ServiceSettings):
    from .artifacts import load_course_artifacts, synthetic_artifacts

    if settings.artifacts is not None:
        return settings.artifacts
    if settings.source == "synthetic":
        return synthetic_artifacts(seed=settings.seed)
    if settings.source == "course":
        return load_course_artifacts(settings.dataset, settings.backend, settings.explainer,
                                     settings.require_policy, settings.policy_path, settings.seed,
                                     settings.generator_budget)
    raise ValueError(f"RECSYS_SERVICE_SOURCE={settings.source!r}; use 'course' or 'synthetic'")


class Service:
    def __init__(self, settings: ServiceSettings):
        from threadpoolctl import threadpool_limits

        # One BLAS thread: a request multiplies one 384-d query by ~1.7k vectors (~0.03 ms on one
        # thread). Measured on the course's 2 shared cores, OpenBLAS's threads turned that into
        # 2-10 ms whenever the other core was busy (e.g. with the HTTP layer).
        threadpool_limits(1)
        artifacts = load_artifacts(settings)
        self.settings = settings
        self.artifacts = artifacts
        self.store = open_state_store(settings.state_store, settings.feedback_path(), settings.store_timeout_s)
        self.states = UserStates(artifacts.catalog, artifacts.users, self.store,
                                 update_embeddings=settings.learner.update_embeddings)
        replayed = self.states.sync()
        base_version = getattr(artifacts.policy, "version", "similarity")
        n_features = 3 + len(artifacts.catalog.genre_names)
        self.learner = PolicyLearner(self.store, n_features, base_version, settings.learner)
        self.shared = self._open_shared_cache()
        self.recommender = Recommender(artifacts, self.states, self.learner, pool_size=settings.pool_size,
                                       table_users=settings.table_users, shared=self.shared)
        fresh = self.recommender.precompute_fresh(settings.precompute_users)
        logger.info("service ready: %s; replayed %d logged events; %d fresh users precomputed", artifacts.source,
                    replayed, fresh)
        # The artefacts are long-lived: move them out of the GC's generations so collections
        # triggered by request garbage do not rescan them (a visible part of the p99 otherwise).
        gc.collect()
        gc.freeze()
        self.learner.start()

    def _open_shared_cache(self):
        """What one worker computed, for the others (``shared_cache``), keyed on everything a pool
        or an explanation depends on; None when it is turned off or the artefacts carry no fingerprint."""
        settings, states = self.settings, self.states
        if not (settings.shared_cache and self.artifacts.fingerprint):
            return None
        fingerprint = cache_fingerprint(self.artifacts.fingerprint, pool_size=settings.pool_size,
                                       window=states.window, max_steps=states.max_steps,
                                       update_embeddings=states.update_embeddings,
                                       base_version=self.learner.base_version)
        return open_shared_cache(self.store, fingerprint)

    @property
    def degraded(self) -> list[str]:
        problem = self.artifacts.policy_problem if self.artifacts.policy is None else None
        return [f"re-ranking uses retrieval order only: {problem}"] if problem else []

    def close(self) -> None:
        self.learner.stop()
        if self.shared is not None:
            self.shared.close()
        self.store.close()
