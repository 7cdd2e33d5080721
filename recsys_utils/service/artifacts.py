"""Load what the course produced, in the form the service needs it (one job: start-up I/O).

=====================  ==============================================  ======================
artefact               where                                           made by
=====================  ==============================================  ======================
MovieLens ratings      ``data/raw/<dataset>/``, splits                 lesson 01
movie index            vector store ``movies`` (vectors + metadata)    lesson 02
candidate generator    ``data/artifacts/candidates/`` + its indexes    lesson 03
RL policy              ``data/artifacts/policies/`` (JSON manifest)    lesson 04
explainer              offline (no artefact) or OpenAI (key in env)    lesson 05
=====================  ==============================================  ======================

A missing artefact raises :class:`errors.MissingArtifact` naming the lesson that makes it, at
start-up, instead of a 500 on the first request. Known users are the generator's: their
history is the splits' training ratings (what the generator was fitted on), so the held-out
ratings stay held out and lesson 06 can measure the served lists on them.

``synthetic_artifacts`` builds the same structures from ``rl.synthetic`` in memory: the API
tests, the crash test and the fuzz run use it so they need no download and start in ~1 s.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..constants import ITEM_COL, LIKE_THRESHOLD, RATING_COL, TIMESTAMP_COL, USER_COL
from ..explain.facts import MovieFacts
from .errors import MissingArtifact
from .reranker import POLICY_LESSON

logger = logging.getLogger(__name__)

LESSONS = {
    "data": "lesson 01 (notebooks/01_data_preparation.ipynb)",
    "index": "lesson 02 (notebooks/02_embeddings_and_upsert.ipynb)",
    "generator": "lesson 03 (notebooks/03_retrieval_evaluation.ipynb)",
    "policy": POLICY_LESSON,
}
# How many of a user's best-rated movies are kept to ground explanations.
LIKED_PER_USER = 30


@dataclass
class ServedCatalog(Catalog):
    """The shared ``recsys_utils.catalog.Catalog`` plus what serving needs on top: the index's
    unit vectors (row-aligned) and each movie's facts for grounded explanations."""

    vectors: np.ndarray | None = None  # (m, d) float32 unit rows
    facts: list[MovieFacts] = field(default_factory=list)

    def find_title(self, title: str) -> int | None:
        """The row of a liked title given by a cold-start user (best search hit), or None."""
        hits = self.search(title, limit=1)
        return hits[0] if hits else None


@dataclass
class UserHistory:
    """What the service knows about each known user before any feedback."""

    user_ids: np.ndarray  # (n,) int64 sorted
    rated: list[np.ndarray]  # per user: catalogue rows already rated (never recommended again), sorted
    rated_stars: list[np.ndarray]  # per user: the stars of ``rated``, aligned
    liked: list[list[tuple[int, float]]]  # per user: (row, stars) best first, for explanations
    _row: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._row = {int(u): i for i, u in enumerate(self.user_ids)}

    def row(self, user_id: int) -> int | None:
        return self._row.get(int(user_id))


@dataclass
class ServiceArtifacts:
    catalog: ServedCatalog
    users: UserHistory
    generator: object  # recsys_utils.candidates.CandidateGenerator: where every candidate comes from
    policy: object | None  # a pipeline.BasePolicy, or None when re-ranking is unavailable
    policy_problem: str | None  # why there is no RL policy (reported by /health)
    explainer: object
    source: str
    dataset: str = "ml-100k"
    # Identifies these artefacts byte for byte (sha256), so workers can share what they compute
    # from them (``shared_cache``); None turns the sharing off (e.g. artefacts built by hand).
    fingerprint: str | None = None


# ---------------------------------------------------------------------------------------------
# building blocks shared by the course and the synthetic loaders
# ---------------------------------------------------------------------------------------------


def build_catalog(movies: pd.DataFrame, vectors: np.ndarray, metadata: list[dict] | None,
                  ratings: pd.DataFrame) -> ServedCatalog:
    """``movies`` sorted by id, ``vectors`` row-aligned; ``metadata`` (the index's records)
    supplies mean rating, count and outside ratings when given. Movies without ratings stay in
    the catalogue (popularity 0, no mean rating)."""
    from ..catalog import build_catalog as shared_catalog

    base = shared_catalog(movies, ratings)
    movies = movies.sort_values(ITEM_COL).reset_index(drop=True)
    stats = ratings.groupby(ITEM_COL)[RATING_COL].agg(["mean", "count"]).reindex(base.movie_ids)
    counts = stats["count"].fillna(0).to_numpy(dtype=np.float64)
    facts = []
    for i, movie_id in enumerate(base.movie_ids):
        meta = metadata[i] if metadata is not None else {}
        mean = meta.get("mean_rating", stats["mean"].iloc[i])
        facts.append(
            MovieFacts(
                movie_id=int(movie_id),
                title=base.titles[i],
                year=base.years[i],
                genres=base.genre_list(i),
                mean_rating=None if mean is None or pd.isna(mean) else round(float(mean), 2),
                n_ratings=int(counts[i]) if counts[i] else None,
                imdb_rating=_number(meta.get("imdb_rating")),
                rotten_tomatoes=_number(meta.get("rotten_tomatoes")),
            )
        )
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    return ServedCatalog(base.movie_ids, base.genres, base.genre_names, base.popularity, titles=base.titles,
                         years=base.years, vectors=vectors, facts=facts)


def build_user_history(ratings: pd.DataFrame, catalog: ServedCatalog) -> UserHistory:
    ratings = ratings.sort_values([USER_COL, RATING_COL, TIMESTAMP_COL], ascending=[True, False, False])
    rows = catalog.rows(ratings[ITEM_COL].to_numpy())
    stars = ratings[RATING_COL].to_numpy(dtype=np.float64)
    users = ratings[USER_COL].to_numpy()
    bounds = np.flatnonzero(np.diff(users)) + 1
    starts, stops = np.r_[0, bounds], np.r_[bounds, len(users)]
    rated, rated_stars, liked = [], [], []
    for start, stop in zip(starts, stops, strict=True):
        r, s = rows[start:stop], stars[start:stop]
        known = r >= 0
        order = np.argsort(r[known], kind="stable")
        rated.append(r[known][order])
        rated_stars.append(s[known][order])
        good = s >= LIKE_THRESHOLD
        chosen = np.flatnonzero(good) if good.any() else np.arange(len(s))
        liked.append([(int(r[i]), float(s[i])) for i in chosen[:LIKED_PER_USER] if r[i] >= 0])
    return UserHistory(users[starts].astype(np.int64), rated, rated_stars, liked)


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(number) else number


# ---------------------------------------------------------------------------------------------
# the course's artefacts
# ---------------------------------------------------------------------------------------------


def load_course_artifacts(dataset: str = "ml-100k", backend: str = "auto", explainer: str = "auto",
                          require_policy: bool = True, policy_path: str | None = None,
                          seed: int = 42, generator_budget: str = "full") -> ServiceArtifacts:
    """Everything the service serves, from the course's data folder; raises ``MissingArtifact``."""
    from ..data import load_movielens
    from ..explain import make_explainer
    from ..paths import raw_dir

    if not (raw_dir() / dataset).exists():
        raise MissingArtifact(
            f"MovieLens {dataset} is not in {raw_dir() / dataset}; run {LESSONS['data']} "
            "(or `python -m recsys_utils.course run --only 01`)"
        )
    data = load_movielens(dataset)
    store = _open_index(backend, len(data.movies))
    movies = data.movies.sort_values(ITEM_COL).reset_index(drop=True)
    ids = [str(int(m)) for m in movies[ITEM_COL]]
    records = store.fetch(ids)
    missing = [i for i in ids if i not in records]
    if missing:
        raise MissingArtifact(
            f"the movie index lacks {len(missing)} of {len(ids)} movies (e.g. {missing[:3]}); it was built for "
            f"another dataset or is incomplete: rerun {LESSONS['index']}"
        )
    vectors = np.stack([records[i].vector for i in ids])
    catalog = build_catalog(movies, vectors, [records[i].metadata for i in ids], data.ratings)
    splits, generator = _load_generator(data, seed, backend, generator_budget)
    users = build_user_history(splits.train_ratings, catalog)
    policy, problem = _load_policy(catalog, require_policy, policy_path)
    return ServiceArtifacts(
        catalog=catalog,
        users=users,
        generator=generator,
        policy=policy,
        policy_problem=problem,
        explainer=make_explainer(explainer, seed=seed),
        source=(f"course data ({data.source}), candidate generator ({generator_budget} budget, "
                f"text weight {generator.text_weight:g}), {store.backend} vector store"),
        dataset=dataset,
        fingerprint=_course_fingerprint(dataset, backend, seed, generator_budget, policy_path),
    )


def _course_fingerprint(dataset: str, backend: str, seed: int, budget: str, policy_path) -> str:
    """Every file the loaders above read (the dataset, the artefacts of lessons 02-04, a policy
    folder given explicitly), hashed with the choices that pick among them. The service's own
    folder (the feedback log) is left out: it is state, not an artefact. A hosted index's content
    is covered by the local files it was built from (lesson 02 rebuilds it when they change)."""
    from ..fileio import tree_digest
    from ..paths import artifacts_dir, raw_dir

    folders = [raw_dir() / dataset, artifacts_dir()] + ([Path(policy_path)] if policy_path else [])
    choices = f"{dataset}|{backend}|{seed}|{budget}|"
    return hashlib.sha256((choices + tree_digest(folders, skip=("service", "runs"))).encode()).hexdigest()


def _open_index(backend: str, n_movies: int):
    from ..vectorstore import CorruptIndexError, open_store, resolve_backend

    chosen = resolve_backend(backend)
    if chosen == "local":
        from ..vectorstore import default_store_path

        if not (default_store_path() / "movies" / "store.json").exists():
            raise MissingArtifact(
                f"no movie index at {default_store_path() / 'movies'}; run {LESSONS['index']} "
                "(it embeds the movies and writes the embedded vector store)"
            )
    try:
        store = open_store(chosen, name="movies")
    except CorruptIndexError as error:  # checksums or contents do not match: never serve a damaged index
        raise MissingArtifact(
            f"the movie index is damaged ({error.problem} in {error.file}); rerun {LESSONS['index']}, "
            "which rebuilds it"
        ) from error
    count = store.count()
    if count == 0 or store.get_manifest().get("content_hash") in (None, "rebuilding"):
        raise MissingArtifact(
            f"the movie index {store.name!r} ({store.backend}) is empty or was interrupted while building "
            f"({count} vectors); run {LESSONS['index']}"
        )
    if count < n_movies:
        raise MissingArtifact(f"the movie index holds {count} movies, the dataset {n_movies}; rerun {LESSONS['index']}")
    return store


def _load_policy(catalog: ServedCatalog, required: bool, path):
    """The RL policy adapter, or (None, reason). Imported lazily: torch is heavy."""
    from .reranker import load_reranker

    try:
        return load_reranker(catalog, path), None
    except (ImportError, AttributeError, NotImplementedError) as error:
        reason = f"the RL serving module is unavailable ({type(error).__name__}: {error})"
    except FileNotFoundError as error:
        reason = f"no trained policy: {error}" + ("" if "lesson 04" in str(error) else f"; run {LESSONS['policy']}")
    if required:
        raise MissingArtifact(f"{reason}. Start with RECSYS_SERVICE_REQUIRE_POLICY=0 to serve without re-ranking.")
    logger.warning("serving without RL re-ranking: %s", reason)
    return None, reason


def _load_generator(data, seed: int, backend: str, budget: str):
    """The course's candidate generator as lessons 03-05 left it (``candidates.ensure_candidate_generator``
    loads its cache and indexes). Never fitted here: a service must not spend minutes training at
    start-up, so a missing cache names the lesson that builds it. Its text encoder (for wishes) is
    loaded and warmed now, so the first free-text request does not pay for it."""
    from ..candidates import ensure_candidate_generator
    from ..candidates.build import candidates_dir
    from ..splits import load_splits

    folder = candidates_dir() / f"{data.name}-seed{seed}-{budget}"
    if not (folder / "manifest.json").is_file():
        raise MissingArtifact(
            f"no candidate generator in {folder} ({budget} budget, seed {seed}); run {LESSONS['generator']} "
            f"with BUDGET={budget!r} (or call candidates.ensure_candidate_generator), or set "
            "RECSYS_GENERATOR_BUDGET to the budget the lessons ran with"
        )
    splits = load_splits(data, seed=seed)
    generator = ensure_candidate_generator(data, splits, seed=seed, backend=backend, budget=budget)
    if generator.report.get("cache") != "loaded":
        logger.warning("the candidate generator's cache was stale and has been rebuilt at start-up")
    if generator.encode is not None:
        generator.encode(["warm-up"])
    return splits, generator


# ---------------------------------------------------------------------------------------------
# a synthetic world with the same structures (tests, crash test, fuzzing)
# ---------------------------------------------------------------------------------------------


def synthetic_artifacts(seed: int = 0, n_users: int = 60, n_movies: int = 200, with_policy: bool = True) -> ServiceArtifacts:
    """A small in-memory catalogue, users and candidate generator built with ``rl.synthetic``.

    The generator is the course's own (``candidates.build_generator``): ALS factors fitted on the
    synthetic ratings in an in-memory ``dotproduct`` index, the synthetic movie vectors as its
    text index, a text weight of 0.3 (lesson 03 chooses it on validation data). Its text encoder maps genre words in the text to the mean vector of that genre's movies
    (MiniLM's 384-d space does not match the synthetic 32-d vectors). ``with_policy`` adds
    :class:`recsys_utils.testing.LinearPolicy`, a fixed linear scorer over the policy features, so the
    re-ranking step runs; it is a test double, reported as such by /health.
    """
    from ..explain import OfflineExplainer
    from ..explain import genres as genre_words
    from ..movie_index import movie_metadata
    from ..rl.synthetic import synthetic_movielens
    from ..testing import LinearPolicy

    movies, ratings, vectors = synthetic_movielens(n_users=n_users, n_movies=n_movies, seed=seed)
    movies = movies.sort_values(ITEM_COL).reset_index(drop=True)
    metadata = movie_metadata(movies, ratings)
    catalog = build_catalog(movies, vectors, metadata, ratings)
    users = build_user_history(ratings, catalog)
    centroids = {genre_words.genre_key(g): catalog.vectors[catalog.genres[:, j] > 0].mean(axis=0)
                 for j, g in enumerate(catalog.genre_names)}

    def encode(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), catalog.vectors.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            keys = [key for _, key in genre_words.find_genres(text) if key in centroids]
            keys += [genre_words.genre_key(w) for w in re.findall(r"[A-Za-z-]+", text)
                     if genre_words.genre_key(w) in centroids]
            if keys:
                out[i] = np.mean([centroids[k] for k in keys], axis=0)
        return out

    return ServiceArtifacts(
        catalog=catalog,
        users=users,
        generator=synthetic_generator(movies, ratings, catalog.vectors, encode, seed),
        policy=LinearPolicy.default(catalog) if with_policy else None,
        policy_problem=None if with_policy else "synthetic world built without a policy",
        explainer=OfflineExplainer(seed=seed),
        source=f"synthetic world (seed {seed}, {n_users} users, {n_movies} movies)",
        dataset="synthetic",
        fingerprint=hashlib.sha256(repr(("synthetic", seed, n_users, n_movies, with_policy)).encode()).hexdigest(),
    )


def synthetic_generator(movies: pd.DataFrame, ratings: pd.DataFrame, text_vectors: np.ndarray, encode, seed: int,
                        factors: int = 16, text_weight: float = 0.3):
    """The course's candidate generator over a small synthetic world (in-memory indexes)."""
    import scipy.sparse as sp

    from ..candidates import build_generator, fit_cf_vectors, index_records
    from ..vectorstore import open_store

    movie_ids = movies[ITEM_COL].to_numpy(np.int64)
    users = np.unique(ratings[USER_COL].to_numpy(np.int64))
    matrix = sp.csr_matrix((np.ones(len(ratings), np.float32),
                            (np.searchsorted(users, ratings[USER_COL].to_numpy(np.int64)),
                             np.searchsorted(movie_ids, ratings[ITEM_COL].to_numpy(np.int64)))),
                           shape=(users.size, movie_ids.size))
    cf = fit_cf_vectors(matrix, users, factors=factors, regularization=1.0, iterations=10, seed=seed)
    cf_store = open_store("local", name="movies-cf", dimension=cf.dimension, metric="dotproduct", in_memory=True)
    cf_store.upsert(index_records(movies, cf.item_factors, cf.known_items))
    text_store = open_store("local", name="movies", dimension=text_vectors.shape[1], in_memory=True)
    text_store.upsert(index_records(movies, text_vectors))
    return build_generator(movies, ratings, np.asarray(text_vectors, np.float32), cf, cf_store, text_store,
                           text_weight=text_weight, cold_text_weight=text_weight, encode=encode)
