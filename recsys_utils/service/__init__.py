"""Lesson 06: the FastAPI service with continuous learning from feedback.

``uvicorn recsys_utils.service:app`` serves the course's artefacts (settings from the
environment, see ``app.ServiceSettings``); ``create_app(settings)`` builds another instance.

Modules: ``app`` (routes and errors), ``schemas`` (request/response models), ``artifacts``
(start-up loading), ``pipeline`` (retrieval -> RL re-ranking -> explanation), ``learning``
(user-state updates and background fine-tuning), ``feedback_store`` (durable SQLite log),
``rl_policy`` (the lesson-04 policy as a re-ranker), ``loop`` (simulated users for the lesson).
"""

from .app import ServiceSettings, create_app

app = create_app()

__all__ = ["ServiceSettings", "app", "create_app"]
