"""The FastAPI application: routes, error handling, start-up and shutdown.

Start it with one command (see README, "Serving")::

    .venv/bin/uvicorn recsys_utils.service:app --host 127.0.0.1 --port 8000

Settings come from the environment (``ServiceSettings.from_env``); ``create_app(settings)``
builds an app for tests and the lesson. The artefacts are loaded in the lifespan hook, so an
import is cheap and a missing artefact stops start-up with a message naming its lesson.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..paths import artifacts_dir
from .feedback_store import FeedbackStore
from .learning import LearnerConfig, PolicyLearner, UserStates
from .pipeline import BadRequest, NotFound, Recommender, SearchFilter
from .schemas import (
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    MovieOut,
    MovieSearchResponse,
    RecommendRequest,
    RecommendResponse,
)

logger = logging.getLogger(__name__)

ERRORS = {status: {"model": ErrorResponse} for status in (400, 404, 413, 422)}


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "")


@dataclass
class ServiceSettings:
    """Every knob of the service; ``from_env`` reads the ``RECSYS_*`` variables."""

    source: str = "course"  # "course": the lessons' artefacts; "synthetic": a small in-memory world
    feedback_db: Path | None = None  # default: data/artifacts/service/feedback.sqlite3
    dataset: str = "ml-100k"
    backend: str = "auto"
    explainer: str = "auto"
    require_policy: bool = True
    policy_path: str | None = None
    pool_size: int = 50
    max_body_bytes: int = 64 * 1024
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    seed: int = 42
    artifacts: object | None = None  # pre-built ServiceArtifacts (tests, the lesson)

    @classmethod
    def from_env(cls) -> ServiceSettings:
        env = os.environ
        db = env.get("RECSYS_FEEDBACK_DB")
        return cls(
            source=env.get("RECSYS_SERVICE_SOURCE", "course"),
            feedback_db=Path(db) if db else None,
            dataset=env.get("RECSYS_DATASET", "ml-100k"),
            backend=env.get("RECSYS_VECTOR_BACKEND", "auto"),
            explainer=env.get("RECSYS_EXPLAINER", "auto"),
            require_policy=_env_bool("RECSYS_SERVICE_REQUIRE_POLICY", True),
            policy_path=env.get("RECSYS_POLICY_PATH") or None,
            learner=LearnerConfig(
                every_events=int(env.get("RECSYS_FINE_TUNE_EVERY", "200")),
                interval_s=float(env.get("RECSYS_FINE_TUNE_INTERVAL_S", "30")),
                enabled=_env_bool("RECSYS_FINE_TUNE", True),
            ),
        )

    def feedback_path(self) -> Path:
        return Path(self.feedback_db) if self.feedback_db else artifacts_dir() / "service" / "feedback.sqlite3"


class Service:
    """The live objects behind the routes (one per app)."""

    def __init__(self, settings: ServiceSettings):
        from threadpoolctl import threadpool_limits

        from .artifacts import load_course_artifacts, synthetic_artifacts

        # One BLAS thread: a request multiplies one 384-d query by ~1.7k vectors (~0.03 ms on one
        # thread). Measured on the course's 2 shared cores, OpenBLAS's threads turned that into
        # 2-10 ms whenever the other core was busy (e.g. with the HTTP layer).
        # (threadpoolctl comes with scikit-learn.)
        threadpool_limits(1)

        if settings.artifacts is not None:
            artifacts = settings.artifacts
        elif settings.source == "synthetic":
            artifacts = synthetic_artifacts(seed=settings.seed)
        elif settings.source == "course":
            artifacts = load_course_artifacts(settings.dataset, settings.backend, settings.explainer,
                                              settings.require_policy, settings.policy_path, settings.seed)
        else:
            raise ValueError(f"RECSYS_SERVICE_SOURCE={settings.source!r}; use 'course' or 'synthetic'")
        self.settings = settings
        self.artifacts = artifacts
        self.store = FeedbackStore(settings.feedback_path())
        self.states = UserStates(artifacts.catalog, artifacts.users,
                                 update_embeddings=settings.learner.update_embeddings)
        replayed = self.states.replay(self.store.events())
        base_version = getattr(artifacts.policy, "version", "similarity")
        n_features = 3 + len(artifacts.catalog.genre_names)
        self.learner = PolicyLearner(self.store, n_features, base_version, settings.learner)
        self.recommender = Recommender(artifacts, self.states, self.learner, pool_size=settings.pool_size)
        self._feedback_lock = threading.Lock()
        logger.info("service ready: %s; replayed %d logged events", artifacts.source, replayed)
        # The artefacts are long-lived: move them out of the GC's generations so collections
        # triggered by request garbage do not rescan them (a visible part of the p99 otherwise).
        gc.collect()
        gc.freeze()
        self.learner.start()

    @property
    def degraded(self) -> list[str]:
        problem = self.artifacts.policy_problem if self.artifacts.policy is None else None
        return [f"re-ranking uses retrieval order only: {problem}"] if problem else []

    def close(self) -> None:
        self.learner.stop()
        self.store.close()


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
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
    _install_error_handlers(app)

    def service(request: Request) -> Service:
        return request.app.state.service

    @app.post("/recommend", response_model=RecommendResponse, responses=ERRORS, summary="Recommend movies")
    async def recommend(body: RecommendRequest, request: Request):
        svc = service(request)
        rec = svc.recommender
        flt = _search_filter(rec, body.filters)
        if body.user_id is not None:
            user = rec.known_user(body.user_id)
            result = rec.recommend(user, body.k, flt, body.user_id, body.explain)
            who = {"kind": "known", "user_id": body.user_id, "profile_version": user["version"]}
        else:
            p = body.profile
            # Encoding free text may load MiniLM: keep it off the event loop.
            user = await run_in_threadpool(rec.cold_start_user, p.liked_titles, p.genres, p.wish)
            result = rec.recommend(user, body.k, flt, None, body.explain)
            who = {"kind": "cold_start", "user_id": None, "profile_version": 0}
        catalog = rec.catalog
        items = []
        for item in result["items"]:
            row = item["row"]
            explanation = item.get("explanation")
            items.append({
                "movie_id": int(catalog.movie_ids[row]), "title": catalog.titles[row], "year": catalog.years[row],
                "genres": list(catalog.genres[row]), "score": item["score"], "similarity": item["similarity"],
                "explanation": None if explanation is None else {
                    "text": explanation.text, "explainer": explanation.explainer, "faithful": explanation.faithful,
                    "cited_facts": list(explanation.cited_facts)},
            })
        # The hot path: plain dicts built to RecommendResponse's shape (tests check them against
        # the schema) skip FastAPI's second validation pass, about a third of the request's CPU.
        return JSONResponse({"policy_version": result["policy_version"], "user": who, "items": items,
                             "degraded": svc.degraded})

    @app.post("/feedback", response_model=FeedbackResponse, responses=ERRORS, summary="Log one feedback event")
    def feedback(body: FeedbackRequest, request: Request):
        # A plain `def`: FastAPI runs it in a worker thread, so the fsync does not block the loop.
        svc = service(request)
        rec = svc.recommender
        if svc.artifacts.users.row(body.user_id) is None:
            rec.known_user(body.user_id)  # raises NotFound with the helpful message
        row = rec.catalog.row(body.movie_id)
        if row is None:
            raise NotFound(f"unknown movie_id {body.movie_id}; find ids with GET /movies/search?q=...")
        features = rec.offered_design(body.user_id, body.movie_id) if body.event == "impression" else None
        with svc._feedback_lock:  # one order for the log and the in-memory state
            event_id = svc.store.append(body.user_id, body.movie_id, body.event, body.watch_fraction,
                                        svc.learner.version, features)
            profile_version = svc.states.apply(body.user_id, row, body.event, body.watch_fraction)
        svc.learner.notify(event_id)
        return FeedbackResponse(event_id=event_id, stored=True, policy_version=svc.learner.version,
                                profile_version=profile_version,
                                events_until_fine_tune=svc.learner.events_until_fine_tune(event_id))

    @app.get("/movies/search", response_model=MovieSearchResponse, responses=ERRORS, summary="Find movies by title")
    async def search(request: Request, q: str = Query(min_length=1, max_length=200, examples=["star wars"]),
                     limit: int = Query(10, ge=1, le=50)):
        svc = service(request)
        catalog = svc.recommender.catalog
        results = []
        for row in catalog.search(q, limit):
            facts = catalog.facts[row]
            results.append(MovieOut(movie_id=facts.movie_id, title=facts.title, year=facts.year,
                                    genres=list(facts.genres), mean_rating=facts.mean_rating, n_ratings=facts.n_ratings))
        return MovieSearchResponse(query=q, policy_version=svc.learner.version, results=results)

    @app.get("/health", response_model=HealthResponse, summary="Liveness, versions and degraded parts")
    def health(request: Request):
        svc = service(request)
        policy = svc.artifacts.policy
        learner = svc.learner
        return HealthResponse(
            status="degraded" if svc.degraded else "ok",
            policy_version=learner.version,
            reranking={"base_policy": getattr(policy, "kind", "none"), "base_version": learner.base_version,
                       "problem": svc.degraded[0] if svc.degraded else None,
                       "head_weights": [round(float(w), 4) for w in learner.head.weights]},
            explainer=getattr(svc.artifacts.explainer, "name", type(svc.artifacts.explainer).__name__),
            feedback_events=svc.store.count(),
            learner={"enabled": learner.config.enabled, "every_events": learner.config.every_events,
                     "interval_s": learner.config.interval_s, "attempts": learner.history[-5:],
                     "deployed_updates": learner.head.version},
            source=svc.artifacts.source,
        )

    return app


def _search_filter(rec: Recommender, filters) -> SearchFilter | None:
    if filters is None:
        return None
    return SearchFilter(
        genres=tuple(rec.check_genres(filters.genres, "filters.genres")) if filters.genres else (),
        year_min=filters.year_min,
        year_max=filters.year_max,
        exclude_movie_ids=tuple(filters.exclude_movie_ids or ()),
    )


def _error(status: int, message: str, detail: list | None = None, headers=None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "detail": detail}, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        detail = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in detail[:5])
        return _error(422, f"invalid request: {summary}", detail)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return _error(404, str(exc))

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        return _error(422, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "the request body could not be read as JSON text (is it UTF-8?); send a JSON object"
        # Keep the exception's headers: a 405 must list the allowed methods in `Allow`.
        return _error(exc.status_code, message, headers=getattr(exc, "headers", None))


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a 413 before any parsing.

    The body is read here (it is small by construction) and replayed to the app, which covers
    bodies sent without a Content-Length (chunked) as well as honest ones.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._too_large(send, declared.decode("latin-1"))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._too_large(send, f"more than {size}")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, send, size: str):
        payload = json.dumps({"error": f"request body of {size} bytes is larger than the limit of {self.max_bytes} "
                                       "bytes; send a smaller request", "detail": None}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
