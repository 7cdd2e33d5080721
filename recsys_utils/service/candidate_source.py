"""Where the pipeline's candidates come from: the course's one candidate generator.

``GeneratorSource`` asks ``recsys_utils.candidates.CandidateGenerator`` (built by lessons
03-05, loaded at start-up) and nothing else:

- a known user without positive feedback: ``for_user`` (the generator's fused CF + text query,
  training ratings excluded), so the served list *is* the generator's list;
- a known user whose clicks and likes added movies to their history: ``for_user_update``, the
  same known-user query on the grown history (the fitted ALS factor plus the fold-in of the
  new positives, the taste vector of the grown history). That is the service's online update
  for returning users: a frozen service keeps the history as it was;
- every cold-start profile: ``for_profile`` on the liked set (grown by the visitor's positives),
  the ALS fold-in plus the liked titles' neighbours, the text neighbours and the wish;
- the request's filters (genres, years, excluded ids) go to the store in Pinecone's filter
  language, and movies the user already consumed are left out by the generator's own
  bounded exclusion (``unseen_top``: windows, then ``$nin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..candidates import MAX_NIN, exclusion_filter
from ..vectorstore.errors import ZeroQueryError
from .errors import BadRequest


@dataclass(frozen=True)
class SearchFilter:
    """The request's filters, translated to the store's filter language."""

    genres: tuple[str, ...] = ()  # canonical genre names; a movie matches when it has ANY of them
    year_min: int | None = None
    year_max: int | None = None
    exclude_movie_ids: tuple[int, ...] = ()

    def as_store_filter(self) -> dict | None:
        parts = []
        if self.genres:
            parts.append({"genres": {"$in": list(self.genres)}})
        if self.year_min is not None:
            parts.append({"year": {"$gte": self.year_min}})
        if self.year_max is not None:
            parts.append({"year": {"$lte": self.year_max}})
        if self.exclude_movie_ids:
            parts.append({"movie_id": {"$nin": list(self.exclude_movie_ids)}})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}


@dataclass(frozen=True)
class Query:
    """What the generator is asked for one request (built by ``pipeline.Recommender``)."""

    user_id: int | None  # a known user (the generator's own query when ``liked`` is None)
    liked: Sequence[int] | None  # movie ids of the (updated) liked set or history; None = the generator's user query
    wish: str | None = None
    ratings: Sequence[float] | None = None  # a known user's stars of ``liked`` (their grown history)
    consumed: Sequence[int] = ()  # movie ids consumed through feedback (never shown again)


class GeneratorSource:
    """``search(query, filter, n) -> (catalogue rows, scores)``, best first, from the generator."""

    def __init__(self, generator, catalog):
        self.generator = generator
        self.catalog = catalog
        self.text_weight = float(generator.text_weight)

    def search(self, query: Query, flt: SearchFilter | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        gen = self.generator
        filters = flt.as_store_filter() if flt is not None else None
        if query.liked is None:
            # The generator already leaves out the training ratings; the movies consumed since go in a
            # $nin filter (a session's worth, far below MAX_NIN; any beyond it are over-fetched and dropped).
            consumed = np.asarray(query.consumed, dtype=np.int64)
            found = gen.for_user(query.user_id, n + max(consumed.size - MAX_NIN, 0),
                                 exclusion_filter(filters, consumed[-MAX_NIN:]))
            ids, scores = found.movie_ids, found.scores
            if consumed.size > MAX_NIN:
                keep = ~np.isin(ids, consumed)
                ids, scores = ids[keep][:n], scores[keep][:n]
        elif query.user_id is not None:
            found = gen.for_user_update(query.user_id, query.liked, query.ratings, n, exclude=query.consumed,
                                        filters=filters)
            ids, scores = found.movie_ids, found.scores
        else:
            try:
                found = gen.for_profile(liked_movie_ids=query.liked, wish=query.wish, k=n, exclude=query.consumed,
                                        filters=filters)
            except ZeroQueryError:
                # Only a wish the encoder maps to nothing can make an all-zero query (a profile of
                # liked movies never does): say so instead of a 500.
                raise BadRequest("the cold-start profile says nothing usable: the wish names nothing this "
                                 "catalogue's text encoder knows; add liked_titles or liked_movie_ids") from None
            ids, scores = found.movie_ids, found.scores
        rows = self.catalog.rows(ids)
        keep = rows >= 0
        return rows[keep], np.asarray(scores, dtype=np.float32)[keep]
