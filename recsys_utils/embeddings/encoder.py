"""``Embedder``: texts in, L2-normalised float32 MiniLM vectors out, cached on disk."""

from __future__ import annotations

import logging
import os
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..constants import EMBEDDING_DIM, EMBEDDING_MODEL, TEXT_COL
from ..paths import cache_dir as default_cache_dir
from .cache import EmbeddingCache, text_digest
from .model import ResolvedModel, load_sentence_transformer, resolve_model

logger = logging.getLogger(__name__)

# Below this many texts to embed, a progress bar is noise.
PROGRESS_BAR_MIN_TEXTS = 512


class Embedder:
    """Sentence embeddings with model resolution, a process-wide model and a disk cache.

    ``model``: None for the course's MiniLM (see ``recsys_utils.embeddings.model`` for the
    resolution order), a local model folder, or another Hub name. ``cache_dir``: where the
    embedding cache lives (default ``data/cache/embeddings``); ``use_cache=False`` turns it off.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        batch_size: int = 64,
        cache_dir: str | os.PathLike | None = None,
        use_cache: bool = True,
        show_progress_bar: bool | None = None,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.requested_model = model
        self.batch_size = batch_size
        self.cache_folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "embeddings"
        self.use_cache = use_cache
        self.show_progress_bar = show_progress_bar
        self.last_stats: dict[str, int] = {"texts": 0, "cache_hits": 0, "encoded": 0}

    @cached_property
    def resolved(self) -> ResolvedModel:
        return resolve_model(self.requested_model)

    @property
    def model_name(self) -> str:
        return self.resolved.name

    @property
    def source(self) -> str:
        return self.resolved.source

    @property
    def fingerprint(self) -> str:
        return self.resolved.fingerprint

    @property
    def model(self):
        """The shared SentenceTransformer (loaded on first use, once per process)."""
        return load_sentence_transformer(self.resolved)

    @cached_property
    def dimension(self) -> int:
        if self.resolved.source == "local-folder" or self.resolved.name != EMBEDDING_MODEL:
            return int(self.model.get_sentence_embedding_dimension())
        return EMBEDDING_DIM  # known without loading the model, so an up-to-date index never loads it

    @cached_property
    def cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.cache_folder, self.fingerprint, self.dimension)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``: float32 array of shape (len(texts), dimension), rows of unit length."""
        texts = _check_texts(texts)
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        digests = [text_digest(t) for t in texts]
        if self.use_cache:
            out, found = self.cache.get(digests)
        else:
            out = np.zeros((len(texts), self.dimension), dtype=np.float32)
            found = np.zeros(len(texts), dtype=bool)
        missing = np.flatnonzero(~found)
        # Duplicated texts are embedded once.
        unique: dict[bytes, int] = {}
        for row in missing:
            unique.setdefault(digests[row], row)
        if unique:
            rows = list(unique.values())
            vectors = self._encode_uncached([texts[r] for r in rows])
            by_digest = dict(zip(unique, vectors, strict=True))
            for row in missing:
                out[row] = by_digest[digests[row]]
            if self.use_cache:
                self.cache.put(list(unique), vectors)
        self.last_stats = {"texts": len(texts), "cache_hits": int(found.sum()), "encoded": len(unique)}
        return out

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        show = self.show_progress_bar
        if show is None:
            show = len(texts) >= PROGRESS_BAR_MIN_TEXTS
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=show,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return _normalise(np.asarray(vectors, dtype=np.float32))

    def __repr__(self) -> str:
        return f"Embedder(model={self.requested_model!r}, batch_size={self.batch_size})"


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of strings; wrap a single text as [text]")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"text #{index} is {type(text).__name__} ({text!r}), not str; "
                "fill missing texts before embedding"
            )
    return texts


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32, copy=False)


def movie_embeddings(movies: pd.DataFrame, embedder: Embedder | None = None) -> np.ndarray:
    """Embed ``movies[text]``; row i of the result belongs to row i of ``movies``."""
    if TEXT_COL not in movies.columns:
        raise KeyError(
            f"movies has no {TEXT_COL!r} column (columns: {list(movies.columns)}); "
            "load it with recsys_utils.data.load_movielens"
        )
    embedder = embedder or Embedder()
    return embedder.encode(movies[TEXT_COL].tolist())
