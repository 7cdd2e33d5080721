"""POST /recommend: retrieval -> policy re-ranking -> explanation."""

from __future__ import annotations

import pydantic_core
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..candidate_source import SearchFilter
from ..deps import ServiceDep
from ..pipeline import visitor_key
from ..schemas import ERRORS, RecommendRequest, RecommendResponse

router = APIRouter()


class RustJSONResponse(JSONResponse):
    """A ``JSONResponse`` rendered by pydantic-core's serializer (Rust; FastAPI already depends on
    it) instead of the ``json`` module. Why: on a 10-movie answer with explanations (6 KB),
    ``json.dumps`` took 75-123 us, a tenth of a request answered from the candidate table, and
    ``pydantic_core.to_json`` 15 us (orjson, which pinecone brings, 4-6 us; not worth a direct
    dependency for 10 us). The bytes parse to the same JSON. Non-finite floats, which Starlette's
    renderer refuses, never reach it: ``Recommender.recommend`` refuses them first."""

    def render(self, content) -> bytes:
        return pydantic_core.to_json(content)


@router.post("/recommend", response_model=RecommendResponse, responses=ERRORS, summary="Recommend movies")
async def recommend(body: RecommendRequest, svc: ServiceDep):
    rec = svc.recommender
    svc.learner.refresh(every_s=1.0)  # a head published by the learning worker, within a second
    flt = search_filter(rec, body.filters)
    if body.user_id is not None:
        user = rec.known_user(body.user_id)
        result = rec.recommend(user, body.k, flt, body.user_id, body.explain)
        who = {"kind": "known", "user_id": body.user_id, "profile_version": user["version"]}
    else:
        p = body.profile
        # Encoding free text is ~5 ms of CPU: keep it off the event loop.
        user = await run_in_threadpool(rec.cold_start_user, p.liked_titles, p.genres, p.wish, p.liked_movie_ids,
                                       p.visitor_id)
        key = None if p.visitor_id is None else visitor_key(p.visitor_id)
        result = rec.recommend(user, body.k, flt, None, body.explain, offer_key=key)
        who = {"kind": "cold_start", "user_id": None, "visitor_id": p.visitor_id, "profile_version": user["version"]}
    catalog = rec.catalog
    items = []
    for item in result["items"]:
        row = item["row"]
        facts = catalog.facts[row]
        explanation = item.get("explanation")
        items.append({
            "movie_id": facts.movie_id, "title": facts.title, "year": facts.year,
            "genres": list(facts.genres), "score": item["score"], "similarity": item["similarity"],
            "explanation": None if explanation is None else {
                "text": explanation.text, "explainer": explanation.explainer, "faithful": explanation.faithful,
                "cited_facts": list(explanation.cited_facts)},
        })
    # The hot path: plain dicts built to RecommendResponse's shape (tests check them against
    # the schema) skip FastAPI's second validation pass, about a third of the request's CPU.
    return RustJSONResponse({"policy_version": result["policy_version"], "user": who, "items": items,
                         "degraded": svc.degraded})


def search_filter(rec, filters) -> SearchFilter | None:
    if filters is None:
        return None
    return SearchFilter(
        genres=tuple(rec.check_genres(filters.genres, "filters.genres")) if filters.genres else (),
        year_min=filters.year_min,
        year_max=filters.year_max,
        exclude_movie_ids=tuple(filters.exclude_movie_ids or ()),
    )
