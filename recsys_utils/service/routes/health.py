"""GET /health: liveness, versions and the parts that run degraded."""

from __future__ import annotations

import os

from fastapi import APIRouter

from ..deps import ServiceDep
from ..errors import StoreBusy
from ..schemas import HealthResponse

router = APIRouter()


@router.get("/health", response_model=HealthResponse, summary="Liveness, versions and degraded parts")
def health(svc: ServiceDep):
    # Answers even when the store is locked or slow: it reads with a short timeout and then
    # reports what this worker last applied, with the problem.
    store = {"backend": svc.store.description, "ok": True, "problem": None}
    try:
        events = svc.store.count()
    except StoreBusy as busy:
        events = svc.states.applied_id
        store.update(ok=False, problem=str(busy))
    policy = svc.artifacts.policy
    learner = svc.learner
    return HealthResponse(
        status="degraded" if svc.degraded or not store["ok"] else "ok",
        policy_version=learner.version,
        reranking={"base_policy": getattr(policy, "kind", "none"), "base_version": learner.base_version,
                   "policy_info": getattr(policy, "info", None),
                   "problem": svc.degraded[0] if svc.degraded else None,
                   "head_weights": [round(float(w), 4) for w in learner.head.weights]},
        explainer=getattr(svc.artifacts.explainer, "name", type(svc.artifacts.explainer).__name__),
        feedback_events=events,
        store=store,
        learner={"enabled": learner.config.enabled, "every_events": learner.config.every_events,
                 "interval_s": learner.config.interval_s, "attempts": learner.history[-5:],
                 "deployed_updates": learner.head.version, "leader": learner.is_leader},
        candidate_table=svc.recommender.pools.describe(),
        source=svc.artifacts.source,
        worker_pid=os.getpid(),
    )
