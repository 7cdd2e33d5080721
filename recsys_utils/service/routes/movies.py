"""GET /movies/search: find movie ids by title."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ..deps import ServiceDep
from ..schemas import ERRORS, MovieOut, MovieSearchResponse

router = APIRouter()


@router.get("/movies/search", response_model=MovieSearchResponse, responses=ERRORS, summary="Find movies by title")
async def search(svc: ServiceDep, q: str = Query(min_length=1, max_length=200, examples=["the"]),
                 limit: int = Query(10, ge=1, le=50)):
    catalog = svc.recommender.catalog
    results = []
    for row in catalog.search(q, limit):
        facts = catalog.facts[row]
        results.append(MovieOut(movie_id=facts.movie_id, title=facts.title, year=facts.year,
                                genres=list(facts.genres), mean_rating=facts.mean_rating, n_ratings=facts.n_ratings))
    return MovieSearchResponse(query=q, policy_version=svc.learner.version, results=results)
