"""Taste-tuned text vectors: MiniLM, then a projection trained on what the same people like.

``ensure_taste_text(data, splits, seed=42, budget="full")`` returns a ``TasteText``:

- ``encode(texts)``: unit-length float32 vectors of free text (a wish, liked titles) in the tuned space;
- ``movie_ids`` / ``movie_vectors``: every catalogue movie, never-rated ones too (a movie needs only
  its text to get a vector);
- ``report``: pairs and steps trained, seconds, and the before/after measurements.

``ensure_text_index(data, splits, kind="tuned"|"base", ...)`` puts one kind of vector in its own
index through ``open_store`` ("movies" for base MiniLM, "movies-taste" for the tuned vectors).

**What is trained.** Pairs of movies liked (>= 4 stars) by the same user in the *training* split
(``pairs.sample_pairs``), with sentence-transformers' ``MultipleNegativesRankingLoss``: for a batch
of pairs (a_i, p_i), ``-log(exp(s(a_i, p_i)/t) / sum_j exp(s(a_i, p_j)/t))`` with cosine ``s`` and
t = 0.05, the other positives in the batch serving as negatives, plus one catalogue movie drawn
uniformly per pair as an extra negative (see below).

**Why a projection over frozen, cached MiniLM vectors** (chosen by measurement):

- tuning the whole MiniLM runs at 39 pairs/s with the ~17-token movie texts and 14 pairs/s with tag
  texts (2 threads, batch 64; issue 11), so the 3-minute full budget buys 3-4k pairs, a few per
  movie; the projection (sentence-transformers' ``Dense``, residual, started at the identity) trains
  over the cached vectors at thousands of pairs per second (``report["pairs_per_second"]``), so
  the same budget covers hundreds of thousands of pairs;
- the text encoder stays the sha256-verified MiniLM: the base index, its cache and every free-text
  query keep working, and the tuned space is the base space plus one 384x384 map, which a wish
  passes through exactly like a movie text.

**Why not ``SentenceTransformerTrainer``.** The trainer tokenises and embeds text columns each
step through a ``SentenceTransformer``; here the inputs are cached vectors and a step is three
small matrix products (about 0.06 s for a 256-pair batch on one thread), so the trainer would add
``datasets``/``accelerate`` dependencies and per-step dataset/collator work to a loop whose whole
body is the library's own loss (``compute_loss_from_embeddings``) and an AdamW step. Nothing the
trainer offers (schedulers, multi-device) is needed for a single pass.

**Why uniform extra negatives.** In-batch negatives are drawn like the positives, in proportion to
popularity, so the loss learns roughly ``log P(p | a) / P(p)`` and pushes popular films *away*
from everyone: measured on ml-100k, text-only retrieval then ranks below most-popular. One
uniformly drawn catalogue movie per pair also pushes down the films nobody liked together.

**Cache.** The trained projection, the movie vectors and a manifest (key, sha256 of every file,
report) live in ``data/artifacts/taste_text/<dataset>-<key>/``, written into a temporary folder and
renamed into place. The key covers the dataset checksums, the training ratings of the split,
the seed, the budget, the text variant and the base model's full weight sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..constants import ITEM_COL
from ..fileio import atomic_write_json, sha256_file
from ..paths import artifacts_dir
from .encoder import Embedder
from .item_text import TEXT_VARIANTS, movie_texts, text_coverage
from .model import weights_sha256
from .pairs import liked_lists, sample_pairs
from .projection import TrainSettings, project, train_projection

logger = logging.getLogger(__name__)

TASTE_VERSION = "1"
TUNED_INDEX = "movies-taste"
BASE_INDEX = "movies"


@dataclass(frozen=True)
class Budget:
    """How much tuning a profile may do: ``pairs`` offered, stopped after ``max_seconds``."""

    pairs: int
    max_seconds: float
    settings: TrainSettings = field(default_factory=TrainSettings)


BUDGETS = {
    "full": Budget(pairs=600_000, max_seconds=150.0),
    "smoke": Budget(pairs=60_000, max_seconds=10.0),
}


def _budget(budget: str | Budget) -> Budget:
    if isinstance(budget, Budget):
        return budget
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)} (or a Budget); got {budget!r}")
    return BUDGETS[budget]


@dataclass
class TasteText:
    """Taste-tuned text vectors (see the module docstring)."""

    movie_ids: np.ndarray
    movie_vectors: np.ndarray
    report: dict
    key: str
    texts: list[str]
    projection: object
    embedder: Embedder
    folder: Path | None = None
    last_stats: dict = field(default_factory=dict)

    @property
    def dimension(self) -> int:
        return int(self.movie_vectors.shape[1])

    @property
    def fingerprint(self) -> str:
        """Identifies these vectors (index content hashes include it)."""
        return f"taste-{self.key[:16]}@{self.embedder.fingerprint}"

    def encode(self, texts) -> np.ndarray:
        """Unit-length float32 vectors of ``texts`` (a list of strings) in the tuned space."""
        base = self.embedder.encode(texts)
        self.last_stats = dict(self.embedder.last_stats)
        return project(self.projection, base)

    def vectors_for(self, movie_ids) -> np.ndarray:
        """Tuned vectors of catalogue movies (KeyError naming the unknown ids)."""
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.movie_ids, movie_ids), 0, len(self.movie_ids) - 1)
        unknown = self.movie_ids[pos] != movie_ids
        if unknown.any():
            raise KeyError(f"movie ids not in the catalogue: {movie_ids[unknown][:5].tolist()}")
        return self.movie_vectors[pos]


def _split_digest(splits) -> str:
    train = splits.train_ratings
    digest = hashlib.sha256()
    for column in ("user_id", "movie_id", "rating"):
        digest.update(np.ascontiguousarray(train[column].to_numpy()).tobytes())
    return digest.hexdigest()


def _base_identity(embedder: Embedder) -> str:
    full = weights_sha256(embedder.resolved.path)
    return f"{embedder.model_name}@{full or embedder.fingerprint}"


def cache_key(data, splits, seed: int, budget: Budget, text: str, embedder: Embedder, texts: list[str]) -> str:
    payload = {
        "version": TASTE_VERSION,
        "dataset": str(getattr(data, "name", "?")),
        "checksums": getattr(data, "checksums", {}),
        "split_seed": getattr(splits, "seed", None),
        "train_ratings": _split_digest(splits),
        "seed": int(seed),
        "budget": {"pairs": budget.pairs, "max_seconds": budget.max_seconds, **asdict(budget.settings)},
        "text": text,
        "texts": hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest(),
        "base_model": _base_identity(embedder),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def default_folder() -> Path:
    return artifacts_dir() / "taste_text"


def measure(vectors: np.ndarray, data, splits) -> dict:
    """The before/after figures: Spearman of text vs co-rating similarity (all ratings, as lesson 02
    has always printed it, and held-out ratings only, which tuning never saw), neighbour genre
    agreement and text-only retrieval on the temporal holdout."""
    from .analysis import genre_neighbour_agreement, text_retrieval_metrics, text_vs_corating_similarity

    top = min(300, max(2, data.ratings[ITEM_COL].nunique()))
    out = {
        "spearman": text_vs_corating_similarity(vectors, data.movies, data.ratings, top_movies=top)[
            "spearman_text_vs_corating"],
        "spearman_heldout": text_vs_corating_similarity(vectors, data.movies, splits.test_ratings, top_movies=top)[
            "spearman_text_vs_corating"],
        "genre_agreement": genre_neighbour_agreement(vectors, data.movies["genres"].tolist())[
            "neighbour_genre_agreement"],
    }
    retrieval = text_retrieval_metrics(vectors, data.movies, splits)
    out.update({k: v for k, v in retrieval.items() if k not in ("per_user_ndcg", "ranked", "users")})
    return {k: round(float(v), 4) for k, v in out.items()}


def _load(folder: Path, key: str):
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") != key:
            return None
        for name, digest in manifest["files"].items():
            if sha256_file(folder / name) != digest:
                logger.warning("taste-tuned artefact %s failed its sha256 check; retraining", folder / name)
                return None
        from sentence_transformers.sentence_transformer.modules import Dense

        projection = Dense.load(str(folder / "projection"))
        projection.eval()
        with np.load(folder / "movie_vectors.npz") as stored:
            return projection, stored["movie_ids"], stored["vectors"], manifest["report"]
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
        logger.warning("taste-tuned artefact in %s unreadable (%s); retraining", folder, error)
        return None


def _save(folder: Path, key: str, projection, movie_ids: np.ndarray, vectors: np.ndarray, report: dict) -> None:
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "projection").mkdir(parents=True)
    projection.save(str(tmp / "projection"))
    with open(tmp / "movie_vectors.npz", "wb") as handle:
        np.savez(handle, movie_ids=movie_ids, vectors=vectors)
    files = {
        str(path.relative_to(tmp)): sha256_file(path)
        for path in sorted(tmp.rglob("*")) if path.is_file()
    }
    atomic_write_json(tmp / "manifest.json", {"key": key, "version": TASTE_VERSION, "files": files, "report": report})
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def ensure_taste_text(
    data,
    splits,
    seed: int = 42,
    budget: str | Budget = "full",
    text: str = "plain",
    embedder: Embedder | None = None,
    folder: str | os.PathLike | None = None,
    force: bool = False,
    measure_quality: bool = True,
) -> TasteText:
    """The taste-tuned text vectors of ``data`` (trained once, then read from the artefact)."""
    if text not in TEXT_VARIANTS:
        raise ValueError(f"text must be one of {', '.join(TEXT_VARIANTS)}; got {text!r}")
    chosen = _budget(budget)
    embedder = embedder or Embedder(show_progress_bar=False)
    texts = movie_texts(data, text, splits)
    key = cache_key(data, splits, seed, chosen, text, embedder, texts)
    root = Path(folder) if folder is not None else default_folder()
    target = root / f"{getattr(data, 'name', 'data')}-{key[:16]}"
    movie_ids = data.movies[ITEM_COL].to_numpy(np.int64)
    loaded = None if force else _load(target, key)
    if loaded is not None:
        projection, stored_ids, vectors, report = loaded
        if np.array_equal(stored_ids, movie_ids):
            logger.info("taste-tuned vectors read from %s", target.name)
            return TasteText(stored_ids, vectors, report, key, texts, projection, embedder, target)

    start = time.perf_counter()
    # sentence-transformers takes seconds to import (38 s measured under heavy load); it is
    # loaded before the tuning clock starts and reported on its own.
    from sentence_transformers.sentence_transformer import losses, modules  # noqa: F401

    import_seconds = time.perf_counter() - start
    start = time.perf_counter()
    base = embedder.encode(texts)
    encode_seconds = time.perf_counter() - start
    tune_start = time.perf_counter()
    indptr, rows = liked_lists(splits.train_ratings, movie_ids)
    anchors, positives = sample_pairs(indptr, rows, chosen.pairs, seed)
    pairs_seconds = time.perf_counter() - tune_start
    projection, train_report = train_projection(
        base, anchors, positives, chosen.settings, seed=seed, max_seconds=chosen.max_seconds
    )
    vectors = project(projection, base)
    tune_seconds = time.perf_counter() - tune_start
    report = {
        **train_report,
        "seconds": round(tune_seconds, 3),
        "encode_seconds": round(encode_seconds, 3),
        "import_seconds": round(import_seconds, 3),
        "pair_sampling_seconds": round(pairs_seconds, 3),
        "budget": budget if isinstance(budget, str) else "custom",
        "budget_seconds": chosen.max_seconds,
        "text": text,
        "liked_ratings": int(len(rows)),
        "users_with_pairs": int(len(indptr) - 1),
        **text_coverage(data, texts),
        "seed": int(seed),
        "base_model": _base_identity(embedder),
    }
    if measure_quality:
        before, after = measure(base, data, splits), measure(vectors, data, splits)
        report.update({f"{k}_before": v for k, v in before.items()})
        report.update({f"{k}_after": v for k, v in after.items()})
    logger.info("taste tuning: %d pairs in %d steps, %.1f s", report["pairs"], report["steps"], tune_seconds)
    _save(target, key, projection, movie_ids, vectors, report)
    return TasteText(movie_ids, vectors, report, key, texts, projection, embedder, target)


def ensure_text_index(
    data,
    splits=None,
    kind: str = "tuned",
    seed: int = 42,
    backend: str = "auto",
    budget: str | Budget = "full",
    text: str = "plain",
    store=None,
    **kw,
):
    """The vector index of one kind of text vector, built only when missing or out of date.

    ``kind="base"``: MiniLM vectors of lesson 01's texts in the index "movies" (``ensure_movie_index``);
    ``kind="tuned"``: ``ensure_taste_text`` vectors in their own index "movies-taste".
    """
    from ..movie_index import index_movies
    from ..vectorstore import open_store_rebuilding

    if kind == "base":
        return index_movies(data, backend=backend, store=store, **kw).store
    if kind != "tuned":
        raise ValueError(f"kind must be 'tuned' or 'base'; got {kind!r}")
    if splits is None:
        from ..splits import load_splits

        splits = load_splits(data, seed=seed)
    tuned = ensure_taste_text(data, splits, seed=seed, budget=budget, text=text)
    store = store or open_store_rebuilding(backend, name=TUNED_INDEX, dimension=tuned.dimension)
    return index_movies(data, backend=backend, store=store, embedder=tuned, texts=tuned.texts, **kw).store
