"""The recommendation pipeline: retrieval -> RL policy re-ranking -> explanation.

1. **Retrieval** asks the course's candidate generator (``candidate_source.GeneratorSource``)
   for ``pool_size`` unseen movies: the generator's own query for a known user, the same query
   on the history grown by their clicks and likes once feedback added to it (the online
   update), ``for_profile`` for a cold-start profile, the request's filters in the store's
   filter language.
2. **Re-ranking** computes each candidate's features (retrieval score, popularity, overlap with
   the genres recently shown, genre flags), asks the base policy for a score per candidate (the
   lesson-04 RL policy through ``rl.serving``, on a ``UserState`` from ``policy.state_for``; the
   generator's order when it is unavailable, reported by ``/health``), and combines it with the
   fine-tuned head (``learning.ScoringHead``).
3. **Explanation** grounds each of the top ``k`` in the movie's facts and the user's liked
   movies (``explain``); offline explanations are deterministic, so they are memoised.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..explain.facts import LikedMovie, UserContext, context_for_profile

# The policy was trained on the RL environment's features; the service computes the
# "recent-genre overlap" feature with the same function so the two cannot drift apart.
from ..rl.simulator import genre_overlap
from .candidate_source import GeneratorSource, Query, SearchFilter
from .errors import BadRequest, NotFound
from .learning import design_matrix, standardise
from .lru import LRU
from .pool_table import PoolTable


@dataclass
class CandidateContext:
    """Everything a base policy may read about one request's candidates."""

    rows: np.ndarray  # (n,) catalogue rows in the generator's order, best first
    similarity: np.ndarray  # (n,) the generator's scores
    movie_ids: np.ndarray  # (n,) the candidates' movie ids
    history_ids: np.ndarray  # movie ids the user rated or engaged with (the policy's state_for input)
    history_ratings: np.ndarray  # their stars (feedback: a like counts 5, a click 4)
    features: np.ndarray  # (n, 3 + G): similarity, popularity, recent-genre overlap, genres
    window_genre_counts: np.ndarray  # (G,)
    window_rows: np.ndarray  # catalogue rows recently shown, oldest first
    last_feedback: np.ndarray  # (3,)
    counts: np.ndarray  # (3,) misses, clicks, likes
    step: int


class SimilarityOrder:
    """No RL policy: keep the generator's order (used only in the reported degraded mode)."""

    kind = "candidate generator order (no RL policy)"
    version = "similarity"

    def score(self, ctx: CandidateContext) -> np.ndarray:
        return -np.arange(len(ctx.rows), dtype=np.float64)


class ExplanationCache(LRU):
    """Bounded LRU memo of explanations, keyed by everything the explainer reads."""

    def __init__(self, size: int = 50_000):
        super().__init__(size)


def _with_positives(rows: np.ndarray, stars: np.ndarray, positives: dict) -> tuple[np.ndarray, np.ndarray]:
    """History rows and stars with the feedback's positives (row -> stars) added or upgraded
    (a row's highest stars win), sorted by row."""
    rows, stars = np.asarray(rows, dtype=np.int64), np.asarray(stars, dtype=np.float64)
    if not positives:
        return rows, stars
    all_rows = np.concatenate([rows, np.fromiter(positives, dtype=np.int64, count=len(positives))])
    all_stars = np.concatenate([stars, np.fromiter(positives.values(), dtype=np.float64, count=len(positives))])
    order = np.lexsort((-all_stars, all_rows))  # by row, the highest stars first within a row
    sorted_rows = all_rows[order]
    first = np.r_[True, sorted_rows[1:] != sorted_rows[:-1]]
    return sorted_rows[first], all_stars[order][first]


def _known_user_key(user_id: int) -> tuple:
    """The explanation memo's context key of a known user: their explanations read only their
    training history and the movie, so they hold across state versions."""
    return ("user", int(user_id))


def visitor_key(visitor_id: int) -> int:
    """Cold-start visitors are logged under negative ids: they never collide with known users."""
    return -int(visitor_id)


class Recommender:
    def __init__(self, artifacts, states, learner, pool_size: int = 50, window: int = 5, liked_in_context: int = 5,
                 table_users: int = 5_000, shared=None):
        self.artifacts = artifacts
        self.catalog = artifacts.catalog
        self.users = artifacts.users
        self.states = states
        self.learner = learner
        self.base = artifacts.policy or SimilarityOrder()
        self.pool_size = pool_size
        self.window = window
        self.liked_in_context = liked_in_context
        self.explanations = ExplanationCache()
        self.search = GeneratorSource(artifacts.generator, self.catalog)
        self._cacheable = getattr(artifacts.explainer, "name", "") == "offline"
        self._genre_col = {g.lower(): j for j, g in enumerate(self.catalog.genre_names)}
        # Remembered per user: the design row of each movie offered by the latest /recommend,
        # stored with an impression so the learner trains on what the policy actually saw.
        self._offered: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._offered_lock = threading.Lock()
        # What other workers computed (shared_cache.SharedCache): read on a local miss.
        self.shared = shared
        # Each known user's pool at their state version (pool_table), in front of the shared tier.
        self.pools = PoolTable(table_users, shared)

    @property
    def n_features(self) -> int:
        return 3 + len(self.catalog.genre_names)

    # -- user side -------------------------------------------------------------------------
    def known_user(self, user_id: int) -> dict:
        row = self.users.row(user_id)
        if row is None:
            ids = self.users.user_ids
            raise NotFound(f"unknown user_id {user_id}: known users have ids {ids[0]}..{ids[-1]} "
                           f"({len(ids)} users); send a cold-start profile instead for a new user")
        snap = self.states.snapshot(user_id)
        rated = self.users.rated[row]
        snap["history_rows"], snap["history_stars"] = _with_positives(rated, self.users.rated_stars[row],
                                                                      snap["positives"])
        # No positive feedback yet: the generator's own query for this user; else the same query on
        # the training history grown by the new positives (the online update, see candidate_source).
        history = ratings = None
        if snap["positives"]:
            history, ratings = self.catalog.movie_ids[snap["history_rows"]], snap["history_stars"]
        snap["query"] = Query(user_id=int(user_id), liked=history, ratings=ratings,
                              consumed=self.catalog.movie_ids[np.fromiter(snap["consumed"], dtype=np.int64)])
        return snap

    def cold_start_user(self, liked_titles: list[str], genres: list[str], wish: str | None,
                        liked_movie_ids=(), visitor_id: int | None = None) -> dict:
        unknown_titles, liked_rows = [], []
        for title in liked_titles:
            row = self.catalog.find_title(title)
            if row is None:
                unknown_titles.append(title)
            else:
                liked_rows.append(row)
        if unknown_titles:
            raise NotFound(f"no movie title matches {unknown_titles}; look titles up with GET /movies/search?q=...")
        unknown_ids = [int(m) for m in liked_movie_ids if self.catalog.row(m) is None]
        if unknown_ids:
            raise NotFound(f"unknown liked_movie_ids {unknown_ids[:5]}; find ids with GET /movies/search?q=...")
        liked_rows += [self.catalog.row(m) for m in liked_movie_ids]
        liked_rows = list(dict.fromkeys(liked_rows))
        genres = self.check_genres(genres, "profile.genres")
        # Genres are part of what the person asked for: the generator reads them with the wish.
        texts = [t for t in ([wish.strip()] if wish and wish.strip() else []) + ([f"Genres: {', '.join(genres)}."]
                                                                              if genres else [])]
        query_wish = " ".join(texts) or None
        if query_wish is not None and self.artifacts.generator.encode is None:
            raise BadRequest("free-text and genre profiles need the text encoder, which is not loaded")
        if not liked_rows and query_wish is None:
            raise BadRequest("the cold-start profile says nothing usable: give liked_titles, liked_movie_ids, genres "
                             "or a wish")
        wish_text = "; ".join(t for t in ([wish] if wish else []) + ([", ".join(genres)] if genres else [])) or None
        if visitor_id is not None:
            # The visitor's clicks and likes join the liked set from there (the online update).
            user = self.states.visitor_snapshot(visitor_key(visitor_id))
        else:
            user = {"positives": {}, "consumed": (), "window_rows": (), "last_feedback": np.zeros(3, np.float32),
                    "counts": np.zeros(3, np.float32), "step": 0, "version": 0}
        profile = np.asarray(liked_rows, dtype=np.int64)
        user["history_rows"], user["history_stars"] = _with_positives(profile, np.full(profile.size, 5.0),
                                                                      user["positives"])
        liked = tuple(int(m) for m in self.catalog.movie_ids[user["history_rows"]])
        user["query"] = Query(user_id=None, liked=liked, wish=query_wish,
                              consumed=tuple(int(m) for m in self.catalog.movie_ids[list(user["consumed"])]))
        user["wish"] = wish_text
        user["liked_rows"] = tuple(liked_rows)
        return user

    def check_genres(self, genres: list[str], where: str) -> list[str]:
        unknown = [g for g in genres if g.lower() not in self._genre_col]
        if unknown:
            raise BadRequest(f"{where}: unknown genre(s) {unknown}; known genres: {', '.join(self.catalog.genre_names)}")
        return [self.catalog.genre_names[self._genre_col[g.lower()]] for g in genres]

    # -- the pipeline ----------------------------------------------------------------------
    def ranked_pool(self, user: dict, flt: SearchFilter | None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray]:
        """(rows, retrieval scores, base policy scores, design rows) of the user's candidate pool.

        A known user asking without filters is answered from the candidate table when it holds
        their pool at their current state version (``pool_table``: filled at start-up by
        ``precompute_fresh``, and by the first request after each event); else the generator and
        the policy are asked, and a known user's answer joins the table."""
        query = user.get("query")
        user_id = query.user_id if query is not None and flt is None else None
        if user_id is None:
            return self._scored(self.retrieve(user, flt))
        pool = self.pools.get(user_id, user["version"])
        if pool is None:
            pool = self._scored(self.retrieve(user, None))
            self.pools.put(user_id, user["version"], pool)
        return pool

    def precompute_fresh(self, limit: int, explain_top: int = 10) -> int:
        """The pools of up to ``limit`` known users as they stand before any feedback, computed at
        start-up with the generator's batched ``for_users`` (one query per index for a batch of
        users) and the policy, into the candidate table (``pool_table``). A user's first request
        then costs a lookup, every worker's cold pass is as cheap as its steady state, and
        feedback (a new state version) or a filter sends the request down the online path. The
        offline explanations of each user's first ``explain_top`` picks are made now too (they
        cost ~0.2 ms each, the largest part of a first request). Returns how many users."""
        ids = self.users.user_ids[:max(min(int(limit), self.pools.capacity), 0)]
        added = 0
        for start in range(0, len(ids), 256):
            batch = [int(u) for u in ids[start:start + 256]]
            for user_id, found in zip(batch, self.search.generator.for_users(batch, self.pool_size), strict=True):
                user = self.known_user(user_id)
                if user["version"] != 0 or user["consumed"]:
                    continue  # the log already changed this user: served online
                pool = self._pool_from(user, found.movie_ids, found.scores)
                self.pools.put(user_id, 0, pool, share=False)
                added += 1
                if self._cacheable and explain_top and len(pool[0]):
                    final = self.learner.head.score(pool[3])
                    for i in np.lexsort((np.arange(len(final)), -final))[:explain_top]:
                        self.explain(user_id, user, int(pool[0][i]))
        return added

    def _pool_from(self, user: dict, movie_ids: np.ndarray, scores: np.ndarray):
        rows = self.catalog.rows(movie_ids)
        keep = rows >= 0
        return self._scored(self.context(user, rows[keep], np.asarray(scores, dtype=np.float32)[keep]))

    def _scored(self, ctx: CandidateContext):
        """(rows, retrieval scores, base policy scores, design rows) of one candidate context."""
        if len(ctx.rows) == 0:
            return ctx.rows, ctx.similarity, np.zeros(0), np.zeros((0, self.n_features + 2))
        base = np.asarray(self.base.score(ctx), dtype=np.float64)
        return ctx.rows, ctx.similarity, base, design_matrix(standardise(base), ctx.features)

    def recommend(self, user: dict, k: int, flt: SearchFilter | None, user_id: int | None, explain: bool = True,
                  offer_key: int | None = None) -> dict:
        head = self.learner.head  # one read: the whole request uses one policy version
        version = f"{self.learner.base_version}+ft{head.version}"
        rows, similarity, base, design = self.ranked_pool(user, flt)
        if len(rows) == 0:
            return {"items": [], "policy_version": version}
        final = head.score(design)
        if not (np.isfinite(final).all() and np.isfinite(similarity).all()):
            # A bug upstream (the policy, the head or the generator), never the client's: say which.
            bad = "final" if not np.isfinite(final).all() else "retrieval"
            raise ValueError(f"the {bad} scores of this user's candidates are not all finite (policy {version}): "
                             f"a fault in the served artefacts or the fine-tuned head, not in the request")
        order = np.lexsort((np.arange(len(final)), -final))[:k]
        offer_key = user_id if offer_key is None else offer_key
        if offer_key is not None:
            # Kept as arrays (a dict of 50 tuples cost ~0.3 ms per request, a third of the pipeline).
            with self._offered_lock:
                self._offered[offer_key] = (self.catalog.movie_ids[rows], design)
        top = [int(rows[i]) for i in order]
        explanations = self.explain_list(user_id, user, top) if explain else None
        items = []
        for j, i in enumerate(order):
            item = {"row": top[j], "score": float(final[i]), "similarity": float(similarity[i]),
                    "base_score": float(base[i])}
            if explain:
                item["explanation"] = explanations[j]
            items.append(item)
        return {"items": items, "policy_version": version}

    def explain_list(self, user_id: int | None, user: dict, rows: list[int]) -> list:
        """The explanations of the movies at ``rows`` for one answer. For a known user, those this
        worker has not made yet are first looked up in the shared tier (one round trip), and the
        ones made here are written to it, so another worker's first answer for the user does not
        explain the same list again (about 0.5 ms a movie)."""
        if user_id is None or not self._cacheable or self.shared is None:
            return [self.explain(user_id, user, row) for row in rows]
        key = _known_user_key(user_id)
        missing = [row for row in rows if self.explanations.get((key, row)) is None]
        found = self.shared.get_explanations(user_id, missing) if missing else {}
        for row, explanation in found.items():
            self.explanations.put((key, row), explanation)
        out = [self.explain(user_id, user, row) for row in rows]
        made = {row: e for row, e in zip(rows, out, strict=True) if row in missing and row not in found}
        if made:
            self.shared.put_explanations(user_id, made)
        return out

    def retrieve(self, user: dict, flt: SearchFilter | None) -> CandidateContext:
        rows, scores = self.search.search(user["query"], flt, self.pool_size)
        return self.context(user, rows, scores)

    def context(self, user: dict, rows: np.ndarray, scores: np.ndarray) -> CandidateContext:
        genres = self.catalog.genres
        window_rows = np.asarray(user["window_rows"], dtype=np.int64)
        window_counts = genres[window_rows].sum(axis=0) if len(window_rows) else np.zeros(genres.shape[1], np.float32)
        overlap = genre_overlap(genres[rows], window_counts, self.window) if len(rows) else np.zeros(0)
        features = np.hstack([scores[:, None], self.catalog.popularity[rows][:, None], np.asarray(overlap)[:, None],
                              genres[rows]]).astype(np.float32)
        ids = self.catalog.movie_ids
        return CandidateContext(rows, scores.astype(np.float32), ids[rows], ids[user["history_rows"]],
                                np.asarray(user["history_stars"], np.float64), features,
                                window_counts.astype(np.float32), window_rows, user["last_feedback"], user["counts"],
                                int(user["step"]))

    def offered_design(self, user_id: int, movie_id: int) -> tuple | None:
        with self._offered_lock:
            offered = self._offered.get(user_id)
        if offered is None:
            return None
        hits = np.flatnonzero(offered[0] == int(movie_id))
        return tuple(float(x) for x in offered[1][hits[0]]) if len(hits) else None

    def explain(self, user_id: int | None, user: dict, row: int):
        movie = self.catalog.facts[row]
        if user_id is not None:
            liked_rows = self.users.liked[self.users.row(user_id)]
            context_key = _known_user_key(user_id)
        else:
            # A cold-start profile's explanation names the titles the person gave and their wish.
            profile_rows = tuple(user.get("liked_rows", ()))
            context_key = ("profile", profile_rows, user.get("wish"))

            def make_for_profile():
                context = context_for_profile([self.catalog.facts[r] for r in profile_rows], movie,
                                              wish=user.get("wish"), top_n=self.liked_in_context)
                return self.artifacts.explainer.explain(context, movie)

            if not self._cacheable:
                return make_for_profile()
            return self.explanations.get_or_make((context_key, row), make_for_profile)

        def make():
            target = set(movie.genres)
            ranked = sorted(liked_rows, key=lambda p: (-len(target & set(self.catalog.facts[p[0]].genres)), -p[1]))
            liked = tuple(LikedMovie(self.catalog.facts[r], stars) for r, stars in ranked[: self.liked_in_context]
                          if r != row)
            context = UserContext(user_id=int(user_id or 0), liked=liked, wish=user.get("wish"))
            return self.artifacts.explainer.explain(context, movie)

        if not self._cacheable:
            return make()
        return self.explanations.get_or_make((context_key, row), make)
