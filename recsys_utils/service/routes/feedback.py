"""POST /feedback (one event) and POST /feedback/batch (a slate's events): acknowledged only
once durably stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from ..deps import ServiceDep
from ..errors import NotFound
from ..feedback_store import NewEvent
from ..pipeline import visitor_key
from ..schemas import (
    ERRORS,
    FeedbackBatchRequest,
    FeedbackBatchResponse,
    FeedbackRequest,
    FeedbackResponse,
    StoredEvent,
)

router = APIRouter()
IDEMPOTENCY = ("a client-chosen key, unique per event (e.g. a UUID): a retried request with the same key is "
               "stored once and answered with the first event's id and duplicate=true")


def _state_key(body: FeedbackRequest) -> int:
    return body.user_id if body.user_id is not None else visitor_key(body.visitor_id)


def _new_event(svc, body: FeedbackRequest, idempotency_key: str | None, where: str = "") -> NewEvent:
    """The event to store, once its user and movie are known (``NotFound`` naming them otherwise)."""
    rec = svc.recommender
    try:
        if body.user_id is not None and svc.artifacts.users.row(body.user_id) is None:
            rec.known_user(body.user_id)  # raises NotFound with the helpful message
        if rec.catalog.row(body.movie_id) is None:
            raise NotFound(f"unknown movie_id {body.movie_id}; find ids with GET /movies/search?q=...")
    except NotFound as error:
        raise NotFound(f"{where}{error}") from None
    key = _state_key(body)
    # An impression keeps the design row the service showed it with: the learner trains on it.
    features = rec.offered_design(key, body.movie_id) if body.event == "impression" else None
    return NewEvent(key, body.movie_id, body.event, body.watch_fraction, svc.learner.version, features,
                    idempotency_key)


def _after_store(svc, last_event_id: int) -> None:
    svc.states.sync()  # the user's state follows the shared log (these events and any other worker's)
    svc.learner.notify(last_event_id)


@router.post("/feedback", response_model=FeedbackResponse, responses=ERRORS, summary="Log one feedback event")
def feedback(body: FeedbackRequest, svc: ServiceDep,
             idempotency_key: Annotated[str | None, Header(max_length=200, description=IDEMPOTENCY)] = None):
    # A plain `def`: FastAPI runs it in a worker thread, so the fsync does not block the loop.
    stored = svc.store.store_many([_new_event(svc, body, idempotency_key)])[0]
    _after_store(svc, stored.event_id)
    key = _state_key(body)
    version = svc.states.version_of(key) if body.user_id is not None else len(svc.store.events(user_id=key))
    return FeedbackResponse(event_id=stored.event_id, stored=True, duplicate=stored.duplicate,
                            policy_version=svc.learner.version, profile_version=version,
                            events_until_fine_tune=svc.learner.events_until_fine_tune(stored.event_id))


@router.post("/feedback/batch", response_model=FeedbackBatchResponse, responses=ERRORS,
             summary="Log a slate's feedback events at once")
def feedback_batch(body: FeedbackBatchRequest, svc: ServiceDep):
    """The events of one slate (its impressions, then clicks, watches, likes), applied in order and
    stored in one durable commit: all of them or, when any names an unknown user or movie, none.
    What a client application sends after showing a slate, instead of one request per event."""
    events = [_new_event(svc, event, event.idempotency_key, where=f"events[{i}]: ")
              for i, event in enumerate(body.events)]
    stored = svc.store.store_many(events)
    last = max(s.event_id for s in stored)
    _after_store(svc, last)
    return FeedbackBatchResponse(events=[StoredEvent(event_id=s.event_id, duplicate=s.duplicate) for s in stored],
                                 stored=True, policy_version=svc.learner.version,
                                 events_until_fine_tune=svc.learner.events_until_fine_tune(last))
