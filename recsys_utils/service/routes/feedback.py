"""POST /feedback: one event, acknowledged only once it is durably stored."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import ServiceDep
from ..errors import NotFound
from ..schemas import ERRORS, FeedbackRequest, FeedbackResponse

router = APIRouter()


@router.post("/feedback", response_model=FeedbackResponse, responses=ERRORS, summary="Log one feedback event")
def feedback(body: FeedbackRequest, svc: ServiceDep):
    # A plain `def`: FastAPI runs it in a worker thread, so the fsync does not block the loop.
    rec = svc.recommender
    if svc.artifacts.users.row(body.user_id) is None:
        rec.known_user(body.user_id)  # raises NotFound with the helpful message
    row = rec.catalog.row(body.movie_id)
    if row is None:
        raise NotFound(f"unknown movie_id {body.movie_id}; find ids with GET /movies/search?q=...")
    features = rec.offered_design(body.user_id, body.movie_id) if body.event == "impression" else None
    with svc.feedback_lock:  # one order for the log and the in-memory state
        event_id = svc.store.append(body.user_id, body.movie_id, body.event, body.watch_fraction,
                                    svc.learner.version, features)
        profile_version = svc.states.apply(body.user_id, row, body.event, body.watch_fraction)
    svc.learner.notify(event_id)
    return FeedbackResponse(event_id=event_id, stored=True, policy_version=svc.learner.version,
                            profile_version=profile_version,
                            events_until_fine_tune=svc.learner.events_until_fine_tune(event_id))
