"""The service's settings: the one place that reads the ``RECSYS_*`` environment variables.

| variable | field | default |
| --- | --- | --- |
| ``RECSYS_SERVICE_SOURCE`` | ``source`` | ``course`` (the lessons' artefacts) or ``synthetic`` |
| ``RECSYS_FEEDBACK_DB`` | ``feedback_db`` | ``data/artifacts/service/feedback.sqlite3`` |
| ``RECSYS_STATE_STORE`` | ``state_store`` | ``sqlite`` (the feedback DB); ``redis://127.0.0.1:6379/0`` to scale out |
| ``RECSYS_STORE_TIMEOUT_S`` | ``store_timeout_s`` | ``0.5``: a store slower than this answers 503 + Retry-After |
| ``RECSYS_DATASET`` | ``dataset`` | ``ml-100k`` |
| ``RECSYS_VECTOR_BACKEND`` | ``backend`` | ``auto`` |
| ``RECSYS_GENERATOR_BUDGET`` | ``generator_budget`` | ``full``: which of lesson 03's candidate generators to serve (``smoke`` after a smoke run) |
| ``RECSYS_EXPLAINER`` | ``explainer`` | ``auto`` |
| ``RECSYS_SERVICE_REQUIRE_POLICY`` | ``require_policy`` | ``1`` |
| ``RECSYS_POLICY_PATH`` | ``policy_path`` | lesson 04's folder |
| ``RECSYS_FINE_TUNE`` / ``_EVERY`` / ``_INTERVAL_S`` | ``learner`` | on / 200 events / 30 s |
| ``RECSYS_PRECOMPUTE_USERS`` | ``precompute_users`` | ``5000``: known users whose pre-feedback pool is computed at start-up (``0``: none) |
| ``RECSYS_POOL_TABLE_USERS`` | ``table_users`` | ``5000``: users whose latest pool each worker keeps (``pool_table``; ``0``: none) |
| ``RECSYS_SHARED_CACHE`` | ``shared_cache`` | ``1``: workers share the pools and explanations they compute, beside the state store (``shared_cache``; ``0``: each computes its own) |
| ``RECSYS_SERVER_TIMING`` | ``server_timing`` | ``0``; ``1`` adds a ``Server-Timing: cpu;dur=`` header (benchmarks) |

Secrets (``OPENAI_API_KEY``, ``PINECONE_API_KEY``) are read by the packages that use them,
never copied into settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import artifacts_dir
from .learning import LearnerConfig


def _env_bool(env, name: str, default: bool) -> bool:
    value = env.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "")


@dataclass
class ServiceSettings:
    """Every knob of the service; ``from_env`` reads the ``RECSYS_*`` variables."""

    source: str = "course"
    feedback_db: Path | None = None
    state_store: str = "sqlite"
    store_timeout_s: float = 0.5
    dataset: str = "ml-100k"
    backend: str = "auto"
    generator_budget: str = "full"
    explainer: str = "auto"
    require_policy: bool = True
    policy_path: str | None = None
    pool_size: int = 50
    precompute_users: int = 5_000  # start-up "candidate table" (pipeline.Recommender.precompute_fresh)
    table_users: int = 5_000  # the candidate table's capacity (pool_table.PoolTable)
    shared_cache: bool = True  # pools and explanations shared by the workers (shared_cache)
    max_body_bytes: int = 64 * 1024
    server_timing: bool = False
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    seed: int = 42
    artifacts: object | None = None  # pre-built ServiceArtifacts (tests, the lesson)

    @classmethod
    def from_env(cls, env=None) -> ServiceSettings:
        env = os.environ if env is None else env
        db = env.get("RECSYS_FEEDBACK_DB")
        return cls(
            source=env.get("RECSYS_SERVICE_SOURCE", "course"),
            feedback_db=Path(db) if db else None,
            state_store=env.get("RECSYS_STATE_STORE", "sqlite"),
            store_timeout_s=float(env.get("RECSYS_STORE_TIMEOUT_S", "0.5")),
            dataset=env.get("RECSYS_DATASET", "ml-100k"),
            backend=env.get("RECSYS_VECTOR_BACKEND", "auto"),
            generator_budget=env.get("RECSYS_GENERATOR_BUDGET", "full"),
            explainer=env.get("RECSYS_EXPLAINER", "auto"),
            require_policy=_env_bool(env, "RECSYS_SERVICE_REQUIRE_POLICY", True),
            policy_path=env.get("RECSYS_POLICY_PATH") or None,
            server_timing=_env_bool(env, "RECSYS_SERVER_TIMING", False),
            precompute_users=int(env.get("RECSYS_PRECOMPUTE_USERS", "5000")),
            table_users=int(env.get("RECSYS_POOL_TABLE_USERS", "5000")),
            shared_cache=_env_bool(env, "RECSYS_SHARED_CACHE", True),
            learner=LearnerConfig(
                every_events=int(env.get("RECSYS_FINE_TUNE_EVERY", "200")),
                interval_s=float(env.get("RECSYS_FINE_TUNE_INTERVAL_S", "30")),
                enabled=_env_bool(env, "RECSYS_FINE_TUNE", True),
            ),
        )

    def feedback_path(self) -> Path:
        return Path(self.feedback_db) if self.feedback_db else artifacts_dir() / "service" / "feedback.sqlite3"
