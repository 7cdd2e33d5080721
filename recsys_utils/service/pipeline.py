"""The recommendation pipeline: retrieval -> RL policy re-ranking -> explanation.

1. **Retrieval** asks the movie index (``vectorstore``) for the movies nearest to the user's
   current embedding, with the request's filters in Pinecone's filter language, over-fetching
   by the number of movies to exclude (already rated or consumed), and keeps ``pool_size``.
2. **Re-ranking** computes each candidate's features exactly as the RL environment does
   (similarity, popularity, overlap with the genres recently shown, genre flags), asks the
   base policy for a score per candidate (the lesson-04 RL policy; a plain similarity order
   when it is unavailable, reported by ``/health``), and combines it with the fine-tuned head
   (``learning.ScoringHead``).
3. **Explanation** grounds each of the top ``k`` in the movie's facts and the user's liked
   movies (``explain``); offline explanations are deterministic, so they are memoised.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..explain.facts import LikedMovie, UserContext

# The policy was trained on the RL environment's features; the service computes the
# "recent-genre overlap" feature with the same function so the two cannot drift apart.
from ..rl.simulator import genre_overlap
from .learning import design_matrix, standardise


class NotFound(LookupError):
    """An id in the request is unknown (-> 404)."""


class BadRequest(ValueError):
    """The request is well-formed but cannot be served as asked (-> 422)."""


@dataclass
class CandidateContext:
    """Everything a base policy may read about one request's candidates."""

    taste: np.ndarray  # (d,) user embedding
    rows: np.ndarray  # (n,) catalogue rows, by retrieval similarity, best first
    similarity: np.ndarray  # (n,)
    features: np.ndarray  # (n, 3 + G): similarity, popularity, recent-genre overlap, genres
    window_genre_counts: np.ndarray  # (G,)
    window_rows: np.ndarray  # catalogue rows recently shown, oldest first
    last_feedback: np.ndarray  # (3,)
    counts: np.ndarray  # (3,) misses, clicks, likes
    step: int


class SimilarityOrder:
    """No RL policy: keep the retrieval order (used only in the reported degraded mode)."""

    kind = "retrieval similarity (no RL policy)"
    version = "similarity"

    def score(self, ctx: CandidateContext) -> np.ndarray:
        return ctx.similarity.astype(np.float64)


class LinearPolicy:
    """A fixed linear scorer over the candidate features: the synthetic world's test double
    for the RL policy (tests must not train an agent), never loaded for the course data."""

    kind = "linear test policy (synthetic world)"
    version = "linear-test"

    def __init__(self, weights: np.ndarray):
        self.weights = np.asarray(weights, dtype=np.float64)

    @classmethod
    def default(cls, catalog) -> LinearPolicy:
        weights = np.zeros(3 + len(catalog.genre_names))
        weights[:3] = (1.0, 0.3, -0.8)  # similar, somewhat popular, not what was just shown
        return cls(weights)

    def score(self, ctx: CandidateContext) -> np.ndarray:
        return ctx.features @ self.weights


def load_rl_policy(catalog, path=None):
    """The lesson-04 policy wrapped as a base policy (raises FileNotFoundError when absent)."""
    from .rl_policy import RLBasePolicy

    return RLBasePolicy.load(catalog, path)


@dataclass(frozen=True)
class SearchFilter:
    """The request's filters; each search strategy translates them (Pinecone syntax or a mask)."""

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


class StoreSearch:
    """Ask the vector store (Pinecone or embedded) with its filter language, over-fetching by
    the number of excluded movies and dropping them afterwards."""

    def __init__(self, store, catalog):
        self.store, self.catalog = store, catalog

    def search(self, vector: np.ndarray, excluded: np.ndarray, flt: SearchFilter | None, n: int):
        fetch = min(len(self.catalog), n + len(excluded))
        query_filter = flt.as_store_filter() if flt is not None else None
        ids, scores = self.store.query_many(vector[None, :], fetch, filter=query_filter)
        ids, scores = ids[0], scores[0]
        present = ids != ""
        rows = self.catalog.rows(ids[present])
        scores = scores[present]
        keep = (rows >= 0) & ~np.isin(rows, excluded)
        return rows[keep][:n], scores[keep][:n].astype(np.float32)


class InPlaceSearch:
    """Exact cosine search over the index's own vectors, held in memory since start-up.

    Used for the embedded store only: that store *is* an exact NumPy search over these same
    vectors, so the results are identical (``tests/test_service_api.py`` compares them), but a
    heavy MovieLens user has rated ~700 movies, and over-fetching that many ids through
    ``query_many`` cost ~1.6 ms per request (string ids, metadata columns) against ~0.1 ms here.
    """

    def __init__(self, catalog):
        self.catalog = catalog
        self.years = np.array([-1 if y is None else y for y in catalog.years], dtype=np.int64)
        self.genre_col = {g: j for j, g in enumerate(catalog.genre_names)}

    def mask(self, flt: SearchFilter) -> np.ndarray:
        keep = np.ones(len(self.catalog), dtype=bool)
        if flt.genres:
            cols = [self.genre_col[g] for g in flt.genres]
            keep &= self.catalog.genre_matrix[:, cols].any(axis=1)
        # A movie without a year never passes a year bound (Pinecone: a missing field fails $gte).
        if flt.year_min is not None:
            keep &= (self.years >= 0) & (self.years >= flt.year_min)
        if flt.year_max is not None:
            keep &= (self.years >= 0) & (self.years <= flt.year_max)
        if flt.exclude_movie_ids:
            rows = self.catalog.rows(flt.exclude_movie_ids)
            keep[rows[rows >= 0]] = False
        return keep

    def search(self, vector: np.ndarray, excluded: np.ndarray, flt: SearchFilter | None, n: int):
        norm = float(np.linalg.norm(vector))
        scores = self.catalog.vectors @ (vector / max(norm, 1e-12))
        allowed = np.ones(len(scores), dtype=bool) if flt is None else self.mask(flt)
        allowed[excluded] = False
        candidates = np.flatnonzero(allowed)
        if len(candidates) > n:
            part = np.argpartition(-scores[candidates], n - 1)[:n]
            candidates = candidates[part]
        # Best first; ties by catalogue row (= movie id order), like the store.
        order = np.lexsort((candidates, -scores[candidates]))
        rows = candidates[order]
        return rows, scores[rows].astype(np.float32)


class ExplanationCache:
    """Bounded LRU memo of explanations, keyed by everything the explainer reads."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key, make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class Recommender:
    def __init__(self, artifacts, states, learner, pool_size: int = 50, window: int = 5, liked_in_context: int = 5):
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
        store = artifacts.store
        self.search = InPlaceSearch(self.catalog) if getattr(store, "backend", "") == "local" else \
            StoreSearch(store, self.catalog)
        self._cacheable = getattr(artifacts.explainer, "name", "") == "offline"
        self._genre_col = {g.lower(): j for j, g in enumerate(self.catalog.genre_names)}
        # Remembered per user: the design row of each movie offered by the latest /recommend,
        # stored with an impression so the learner trains on what the policy actually saw.
        self._offered: dict[int, dict[int, tuple]] = {}
        self._offered_lock = threading.Lock()

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
        snap["excluded"] = np.union1d(self.users.rated[row], np.asarray(snap["consumed"], dtype=np.int64))
        return snap

    def cold_start_user(self, liked_titles: list[str], genres: list[str], wish: str | None) -> dict:
        parts, unknown_titles = [], []
        liked_rows = []
        for title in liked_titles:
            row = self.catalog.find_title(title)
            if row is None:
                unknown_titles.append(title)
            else:
                liked_rows.append(row)
        if unknown_titles:
            raise NotFound(f"no movie title matches {unknown_titles}; look titles up with GET /movies/search?q=...")
        self.check_genres(genres, "profile.genres")
        if liked_rows:
            parts.append(self.catalog.vectors[liked_rows].mean(axis=0))
        texts = ([f"Genres: {', '.join(genres)}."] if genres else []) + ([wish] if wish and wish.strip() else [])
        if texts:
            encode = self.artifacts.encode_text
            if encode is None:
                raise BadRequest("free-text and genre profiles need the text encoder, which is not loaded")
            for vector in encode(texts):
                if np.linalg.norm(vector) > 0:
                    parts.append(vector / np.linalg.norm(vector))
        if not parts:
            raise BadRequest("the cold-start profile says nothing usable: give liked_titles, genres or a wish "
                             "(the wish named no genre this catalogue knows)")
        vector = np.mean(parts, axis=0)
        wish_text = "; ".join(t for t in ([wish] if wish else []) + ([", ".join(genres)] if genres else [])) or None
        return {"vector": vector.astype(np.float32), "excluded": np.asarray(sorted(set(liked_rows)), dtype=np.int64),
                "window_rows": (), "last_feedback": np.zeros(3, np.float32), "counts": np.zeros(3, np.float32),
                "step": 0, "version": 0, "wish": wish_text}

    def check_genres(self, genres: list[str], where: str) -> list[str]:
        unknown = [g for g in genres if g.lower() not in self._genre_col]
        if unknown:
            raise BadRequest(f"{where}: unknown genre(s) {unknown}; known genres: {', '.join(self.catalog.genre_names)}")
        return [self.catalog.genre_names[self._genre_col[g.lower()]] for g in genres]

    # -- the pipeline ----------------------------------------------------------------------
    def recommend(self, user: dict, k: int, flt: SearchFilter | None, user_id: int | None, explain: bool = True) -> dict:
        ctx = self.retrieve(user, flt)
        head = self.learner.head  # one read: the whole request uses one policy version
        version = f"{self.learner.base_version}+ft{head.version}"
        if len(ctx.rows) == 0:
            return {"items": [], "policy_version": version}
        base = np.asarray(self.base.score(ctx), dtype=np.float64)
        design = design_matrix(standardise(base), ctx.features)
        final = head.score(design)
        order = np.lexsort((np.arange(len(final)), -final))[:k]
        if user_id is not None:
            offered = {int(self.catalog.movie_ids[ctx.rows[i]]): tuple(design[i]) for i in range(len(ctx.rows))}
            with self._offered_lock:
                self._offered[user_id] = offered
        items = []
        for i in order:
            row = int(ctx.rows[i])
            item = {"row": row, "score": float(final[i]), "similarity": float(ctx.similarity[i]),
                    "base_score": float(base[i])}
            if explain:
                item["explanation"] = self.explain(user_id, user, row)
            items.append(item)
        return {"items": items, "policy_version": version}

    def retrieve(self, user: dict, flt: SearchFilter | None) -> CandidateContext:
        excluded = np.asarray(user["excluded"], dtype=np.int64)
        rows, scores = self.search.search(np.asarray(user["vector"], np.float32), excluded, flt, self.pool_size)
        genres = self.catalog.genre_matrix
        window_rows = np.asarray(user["window_rows"], dtype=np.int64)
        window_counts = genres[window_rows].sum(axis=0) if len(window_rows) else np.zeros(genres.shape[1], np.float32)
        overlap = genre_overlap(genres[rows], window_counts, self.window) if len(rows) else np.zeros(0)
        features = np.hstack([scores[:, None], self.catalog.popularity[rows][:, None], np.asarray(overlap)[:, None],
                              genres[rows]]).astype(np.float32)
        return CandidateContext(np.asarray(user["vector"], np.float32), rows, scores.astype(np.float32), features,
                                window_counts.astype(np.float32), window_rows, user["last_feedback"], user["counts"], int(user["step"]))

    def offered_design(self, user_id: int, movie_id: int) -> tuple | None:
        with self._offered_lock:
            return self._offered.get(user_id, {}).get(int(movie_id))

    def explain(self, user_id: int | None, user: dict, row: int):
        movie = self.catalog.facts[row]
        if user_id is not None:
            liked_rows = self.users.liked[self.users.row(user_id)]
            context_key = ("user", user_id)
        else:
            liked_rows, context_key = [], ("wish", user.get("wish"))

        def make():
            target = set(movie.genres)
            ranked = sorted(liked_rows, key=lambda p: (-len(target & set(self.catalog.genres[p[0]])), -p[1]))
            liked = tuple(LikedMovie(self.catalog.facts[r], stars) for r, stars in ranked[: self.liked_in_context]
                          if r != row)
            context = UserContext(user_id=int(user_id or 0), liked=liked, wish=user.get("wish"))
            return self.artifacts.explainer.explain(context, movie)

        if not self._cacheable:
            return make()
        return self.explanations.get_or_make((context_key, row), make)
