"""OpenAPI examples taken from the served catalogue at start-up, so ``/docs`` shows a real user,
movie and title of whichever dataset is served (no title is written into the schemas)."""

from __future__ import annotations

import numpy as np


def catalogue_examples(service) -> dict:
    catalog, users = service.artifacts.catalog, service.artifacts.users
    row = int(np.argmax(catalog.popularity)) if len(catalog) else 0
    facts = catalog.facts[row]
    user_id = int(users.user_ids[0])
    genre = facts.genres[0] if facts.genres else (catalog.genre_names[0] if catalog.genre_names else None)
    recommend = [{"user_id": user_id, "k": 5},
                 {"profile": {"liked_titles": [facts.title], "wish": "something light for tonight"}, "k": 5}]
    if genre is not None:
        recommend[1]["filters"] = {"genres": [genre]}
    feedback = [{"user_id": user_id, "movie_id": facts.movie_id, "event": "click"},
                {"user_id": user_id, "movie_id": facts.movie_id, "event": "watch", "watch_fraction": 0.8},
                {"visitor_id": 7, "movie_id": facts.movie_id, "event": "like"}]
    movie = {"movie_id": facts.movie_id, "title": facts.title, "year": facts.year, "genres": list(facts.genres)}
    return {"RecommendRequest": recommend, "FeedbackRequest": feedback,
            "MovieSearchResponse": [{"query": facts.title.split()[0].lower(), "policy_version": service.learner.version,
                                     "results": [{**movie, "mean_rating": facts.mean_rating,
                                                  "n_ratings": facts.n_ratings}]}],
            "RecommendResponse": [{"policy_version": service.learner.version,
                                   "user": {"kind": "known", "user_id": user_id, "profile_version": 0},
                                   "items": [{**movie, "score": 1.0, "similarity": 0.7, "explanation": None}],
                                   "degraded": []}]}


def install_catalogue_examples(app) -> None:
    """Wrap ``app.openapi`` so the schema's examples come from the running service's catalogue."""
    plain = app.openapi

    def openapi():
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = plain()
        service = getattr(app.state, "service", None)
        if service is not None:
            components = schema.get("components", {}).get("schemas", {})
            for name, examples in catalogue_examples(service).items():
                if name in components:
                    components[name]["examples"] = examples
        return schema

    app.openapi = openapi
