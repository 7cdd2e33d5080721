"""Vector stores behind one interface: the embedded NumPy store and Pinecone (lesson 02).

``open_store(backend="auto")`` picks Pinecone when ``PINECONE_API_KEY`` is set and the embedded
store otherwise; ``backend="local"`` or ``"pinecone"`` overrides. See ``base.VectorStore`` for
the calls, ``filters`` for the metadata filter semantics both backends share, ``limits`` for
every limit both enforce (Pinecone's), and ``errors`` for what they raise: all errors are
``VectorStoreError``; a damaged local store raises ``CorruptIndexError`` at open.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..paths import artifacts_dir
from . import limits
from .base import Match, QueryResponse, Record, VectorStore
from .errors import CorruptIndexError, FilterError, MetadataError, VectorStoreError, ZeroQueryError
from .filters import validate_filter
from .local import LocalVectorStore

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "local", "pinecone")


def default_store_path() -> Path:
    return artifacts_dir() / "vectorstore"


def resolve_backend(backend: str = "auto") -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "pinecone" if os.environ.get("PINECONE_API_KEY", "").strip() else "local"
    return backend


def open_store(
    backend: str = "auto",
    name: str = "movies",
    dimension: int = 384,
    metric: str = "cosine",
    path: str | os.PathLike | None = None,
    **kw,
) -> VectorStore:
    """Open (creating if needed) the vector store ``name``.

    ``path`` is the local store's parent folder (default ``data/artifacts/vectorstore``);
    ``in_memory=True`` keeps a local store off disk (benchmarks, tests). Extra keywords go to
    the Pinecone backend (``client=``, ``create=``).
    """
    chosen = resolve_backend(backend)
    logger.info("vector store: %s backend for %r (requested %r)", chosen, name, backend)
    if chosen == "pinecone":
        from .pinecone_store import PineconeVectorStore

        return PineconeVectorStore(name=name, dimension=dimension, metric=metric, **kw)
    in_memory = kw.pop("in_memory", False)
    if kw:
        raise TypeError(f"unexpected options for the local store: {sorted(kw)}")
    folder = None if in_memory else Path(path) if path is not None else default_store_path()
    return LocalVectorStore(name=name, dimension=dimension, metric=metric, path=folder)


def open_store_rebuilding(*args, **kw) -> VectorStore:
    """``open_store``, except that a damaged local store is emptied instead of raising.

    For code that (re)builds its index from the data whenever the store is empty or out of
    date (``ensure_movie_index`` and the other ``ensure_*`` indexes): the damage is logged as a
    warning naming the file and the problem, the damaged files are deleted, and the store
    comes back empty, so the caller's usual "build it" path runs. Code that only reads an index
    (the service) calls ``open_store`` and shows the ``CorruptIndexError`` instead.
    """
    try:
        return open_store(*args, **kw)
    except CorruptIndexError as error:
        logger.warning(
            "vector store %r is damaged (%s %s); its files were removed so it can be rebuilt",
            error.name, error.file, error.problem,
        )
        error.discard()
        return open_store(*args, **kw)


__all__ = [
    "BACKENDS",
    "CorruptIndexError",
    "FilterError",
    "LocalVectorStore",
    "Match",
    "MetadataError",
    "QueryResponse",
    "Record",
    "VectorStore",
    "VectorStoreError",
    "ZeroQueryError",
    "default_store_path",
    "limits",
    "open_store",
    "open_store_rebuilding",
    "resolve_backend",
    "validate_filter",
]
