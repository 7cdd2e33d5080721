"""The FastAPI application factory: settings, lifespan, middleware, routers, error handlers.

Start it with one command (see README, "Serving")::

    .venv/bin/python -m recsys_utils.service.serve --host 127.0.0.1 --port 8000 --workers 2

(uvicorn workers, each on its own ``SO_REUSEPORT`` socket; ``serve.py`` says why). Plain
``uvicorn recsys_utils.service:app`` serves the same app in one process.

Settings come from the environment (``settings.ServiceSettings.from_env``); ``create_app(settings)``
builds an app for tests and the lesson. The artefacts (and the text encoder) load in the
lifespan hook, so an import is cheap, the first request is as fast as the others, and a missing
artefact stops start-up with a message naming its lesson.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from .errors import install_error_handlers
from .middleware import BodyLimitMiddleware, CpuTimingMiddleware
from .openapi_examples import install_catalogue_examples
from .routes import ROUTERS
from .running import nodelay_on_inherited_listeners
from .runtime import Service
from .settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        nodelay_on_inherited_listeners()  # uvicorn --workers N leaves Nagle on (see running.py)
        app.state.service = await run_in_threadpool(Service, settings)
        try:
            yield
        finally:
            app.state.service.close()

    app = FastAPI(
        title="Movie recommender (RAG + RL)",
        version="1.0",
        description="Retrieval from the movie index, re-ranking by the RL policy, grounded explanations, "
        "and continuous learning from feedback. Every response names the policy version that served it.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.server_timing:
        app.add_middleware(CpuTimingMiddleware)
    install_error_handlers(app)
    install_catalogue_examples(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
