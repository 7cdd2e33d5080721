"""POST /feedback: one event, acknowledged only once it is durably stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from ..deps import ServiceDep
from ..errors import NotFound
from ..pipeline import visitor_key
from ..schemas import ERRORS, FeedbackRequest, FeedbackResponse

router = APIRouter()
IDEMPOTENCY = ("a client-chosen key, unique per event (e.g. a UUID): a retried request with the same key is "
               "stored once and answered with the first event's id and duplicate=true")


@router.post("/feedback", response_model=FeedbackResponse, responses=ERRORS, summary="Log one feedback event")
def feedback(body: FeedbackRequest, svc: ServiceDep,
             idempotency_key: Annotated[str | None, Header(max_length=200, description=IDEMPOTENCY)] = None):
    # A plain `def`: FastAPI runs it in a worker thread, so the fsync does not block the loop.
    rec = svc.recommender
    if body.user_id is not None and svc.artifacts.users.row(body.user_id) is None:
        rec.known_user(body.user_id)  # raises NotFound with the helpful message
    if rec.catalog.row(body.movie_id) is None:
        raise NotFound(f"unknown movie_id {body.movie_id}; find ids with GET /movies/search?q=...")
    key = body.user_id if body.user_id is not None else visitor_key(body.visitor_id)
    features = rec.offered_design(key, body.movie_id) if body.event == "impression" else None
    stored = svc.store.store(key, body.movie_id, body.event, body.watch_fraction, svc.learner.version,
                             features, idempotency_key=idempotency_key)
    svc.states.sync()  # the user's state follows the shared log (this event and any other worker's)
    svc.learner.notify(stored.event_id)
    version = svc.states.version_of(key) if body.user_id is not None else len(svc.store.events(user_id=key))
    return FeedbackResponse(event_id=stored.event_id, stored=True, duplicate=stored.duplicate,
                            policy_version=svc.learner.version, profile_version=version,
                            events_until_fine_tune=svc.learner.events_until_fine_tune(stored.event_id))
