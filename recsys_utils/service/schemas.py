"""Request and response models of the API, with the examples shown in the OpenAPI docs.

Models are strict (``"5"`` is not an integer, unknown fields are refused) so that a client's
typo produces a 422 that names the field, rather than a silently ignored option.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_K = 50
MAX_TEXT = 500
MAX_LIST = 20
EVENTS = ("impression", "click", "watch", "like", "dislike")

_STRICT = ConfigDict(strict=True, extra="forbid")


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong and what to do")
    detail: list | None = Field(None, description="one entry per invalid field, for validation errors")


ERRORS = {status: {"model": ErrorResponse} for status in (400, 404, 413, 422, 503)}


class Filters(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid",
                              json_schema_extra={"examples": [{"genres": ["Comedy"], "year_min": 1990}]})

    genres: list[str] | None = Field(None, max_length=MAX_LIST, description="keep movies with ANY of these genres")
    year_min: int | None = Field(None, ge=1800, le=2100)
    year_max: int | None = Field(None, ge=1800, le=2100)
    exclude_movie_ids: list[int] | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _years_in_order(self):
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min ({self.year_min}) is after year_max ({self.year_max})")
        return self


class ColdStartProfile(BaseModel):
    model_config = _STRICT

    liked_titles: list[str] = Field(default_factory=list, max_length=MAX_LIST,
                                    description="titles of movies the person liked (looked up like /movies/search)")
    liked_movie_ids: list[int] = Field(default_factory=list, max_length=MAX_LIST,
                                       description="ids of movies the person liked (from /movies/search)")
    visitor_id: int | None = Field(None, ge=1, le=2**31 - 1,
                                   description="a client-chosen id for this visitor: their feedback (sent with the "
                                               "same visitor_id) then moves the profile from request to request")
    genres: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    wish: str | None = Field(None, max_length=MAX_TEXT, description="free text, e.g. 'a funny space adventure'")

    @model_validator(mode="after")
    def _not_empty(self):
        if not (self.liked_titles or self.liked_movie_ids or self.genres or (self.wish and self.wish.strip())):
            raise ValueError("a cold-start profile needs liked_titles, genres or a wish (or liked_movie_ids)")
        if any(not t.strip() or len(t) > 200 for t in self.liked_titles):
            raise ValueError("liked_titles must be non-empty titles of at most 200 characters")
        return self


class RecommendRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"user_id": 1, "k": 5},
                {"profile": {"wish": "something funny"}, "k": 5, "filters": {"year_min": 1990}},
            ],
            # Exactly one of user_id / profile, stated in the schema so clients (and the fuzzer) know.
            "oneOf": [
                {"required": ["user_id"], "not": {"required": ["profile"]}},
                {"required": ["profile"], "not": {"required": ["user_id"]}},
            ],
        },
    )

    user_id: int | None = Field(None, ge=1, le=2**31 - 1, description="a known user; or give `profile` instead")
    profile: ColdStartProfile | None = None
    k: int = Field(10, ge=1, le=MAX_K, description=f"how many movies (1..{MAX_K})")
    filters: Filters | None = None
    explain: bool = Field(True, description="attach a grounded explanation to each movie")

    @model_validator(mode="after")
    def _one_user(self):
        if (self.user_id is None) == (self.profile is None):
            raise ValueError("give exactly one of user_id (a known user) or profile (a cold-start profile)")
        return self


class ExplanationOut(BaseModel):
    text: str
    explainer: str
    faithful: bool
    cited_facts: list[str]


class RecommendedMovie(BaseModel):
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    score: float = Field(description="the served policy's score (higher is better)")
    similarity: float = Field(description="the candidate generator's retrieval score (its fused CF + text score; "
                              "higher is a closer match)")
    explanation: ExplanationOut | None = None


class RecommendResponse(BaseModel):
    # Examples with a real movie are filled in from the served catalogue (openapi_examples).
    policy_version: str
    user: dict
    items: list[RecommendedMovie]
    degraded: list[str] = Field(default_factory=list, description="parts of the pipeline not running, and why")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [
            {"user_id": 1, "movie_id": 1, "event": "click"},
            {"user_id": 1, "movie_id": 1, "event": "watch", "watch_fraction": 0.8},
            {"visitor_id": 7, "movie_id": 1, "event": "like"},
        ], "oneOf": [
            {"required": ["user_id"], "not": {"required": ["visitor_id"]}},
            {"required": ["visitor_id"], "not": {"required": ["user_id"]}},
        ]},
    )

    user_id: int | None = Field(None, ge=1, le=2**31 - 1, description="a known user; or give visitor_id")
    visitor_id: int | None = Field(None, ge=1, le=2**31 - 1, description="a cold-start visitor (see profile.visitor_id)")
    movie_id: int = Field(ge=1, le=2**31 - 1)
    event: Literal["impression", "click", "watch", "like", "dislike"]
    watch_fraction: float | None = Field(None, ge=0.0, le=1.0, description="required for `watch`, 0..1")

    @model_validator(mode="after")
    def _fraction_only_for_watch(self):
        if (self.user_id is None) == (self.visitor_id is None):
            raise ValueError("give exactly one of user_id (a known user) or visitor_id (a cold-start visitor)")
        if self.event == "watch" and self.watch_fraction is None:
            raise ValueError("a watch event needs watch_fraction between 0 and 1")
        if self.event != "watch" and self.watch_fraction is not None:
            raise ValueError(f"watch_fraction belongs to watch events only, not {self.event!r}")
        return self


class FeedbackResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"event_id": 17, "stored": True, "duplicate": False, "policy_version": "dqn-seed0+ft2", "profile_version": 4,
         "events_until_fine_tune": 183}]})

    event_id: int
    stored: bool = Field(description="true once the event is durably on disk")
    duplicate: bool = Field(False, description="the Idempotency-Key was seen before: the event was stored once")
    policy_version: str
    profile_version: int
    events_until_fine_tune: int | None


MAX_BATCH_EVENTS = 100


class FeedbackBatchEvent(FeedbackRequest):
    """One event of a batch; its idempotency key travels with it (the header is one per request)."""

    idempotency_key: str | None = Field(None, min_length=1, max_length=200,
                                        description="as the Idempotency-Key header of POST /feedback, per event")


class FeedbackBatchRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"examples": [{"events": [
        {"user_id": 1, "movie_id": 1, "event": "impression", "idempotency_key": "s1-1-imp"},
        {"user_id": 1, "movie_id": 1, "event": "click", "idempotency_key": "s1-1-click"},
        {"user_id": 1, "movie_id": 1, "event": "watch", "watch_fraction": 0.8, "idempotency_key": "s1-1-watch"},
    ]}]})

    events: list[FeedbackBatchEvent] = Field(min_length=1, max_length=MAX_BATCH_EVENTS,
                                             description="applied in this order, stored all together or not at all")


class StoredEvent(BaseModel):
    event_id: int
    duplicate: bool = Field(False, description="its idempotency key was seen before: the event was stored once")


class FeedbackBatchResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"events": [{"event_id": 17, "duplicate": False}, {"event_id": 18, "duplicate": False}], "stored": True,
         "policy_version": "dqn-seed0+ft2", "events_until_fine_tune": 182}]})

    events: list[StoredEvent] = Field(description="one per event sent, in the same order")
    stored: bool = Field(description="true once every event is durably on disk (one commit for the batch)")
    policy_version: str
    events_until_fine_tune: int | None


class MovieOut(BaseModel):
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    mean_rating: float | None
    n_ratings: int | None


class MovieSearchResponse(BaseModel):
    query: str
    policy_version: str
    results: list[MovieOut]


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    policy_version: str
    reranking: dict
    explainer: str
    feedback_events: int
    store: dict = Field(default_factory=dict, description="the shared state store and whether it answers")
    learner: dict
    candidate_table: dict = Field(default_factory=dict, description="this worker's candidate table: users held, "
                                  "its shared tier, and how many requests it answered, the shared tier answered, "
                                  "or were computed")
    source: str
    worker_pid: int = Field(0, description="the process that answered (one of uvicorn's workers)")
