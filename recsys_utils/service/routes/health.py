"""GET /health: liveness, versions and the parts that run degraded."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import ServiceDep
from ..schemas import HealthResponse

router = APIRouter()


@router.get("/health", response_model=HealthResponse, summary="Liveness, versions and degraded parts")
def health(svc: ServiceDep):
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
