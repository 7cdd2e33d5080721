"""Lesson 06: the FastAPI service with continuous learning from feedback.

``uvicorn recsys_utils.service:app`` serves the course's artefacts (settings from the
environment, see ``settings.ServiceSettings``); ``create_app(settings)`` builds another instance.

Modules: ``app`` (the factory), ``settings`` (the ``RECSYS_*`` variables), ``routes/`` (one
router per resource), ``middleware``, ``errors`` (exceptions and their JSON answers),
``schemas`` (request/response models), ``runtime`` (the live objects), ``artifacts`` (start-up
loading), ``candidate_source`` (where candidates come from), ``reranker`` (the lesson-04 policy
as a re-ranker), ``pipeline`` (retrieval -> re-ranking -> explanation), ``pool_table`` (each
known user's pool at their state version) on ``lru`` (the bounded memo), ``shared_cache`` (what
one worker computed, for the others: pools and explanations, beside the state store),
``learning`` (user-state updates and background fine-tuning), ``feedback_store`` (the durable
log), ``sqlite_threads`` (per-thread SQLite connections and one write transaction, for both
stores), ``running`` (serve in a thread or process, wait until healthy). The lesson's simulated
users live in ``recsys_utils.lessons.l06_simulated_users``.
"""

from .app import create_app
from .settings import ServiceSettings

app = create_app()

__all__ = ["ServiceSettings", "app", "create_app"]
