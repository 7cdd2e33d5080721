"""The one interface every vector store backend offers, modelled on Pinecone's data plane.

Records are ``(id, vector, metadata)`` tuples like Pinecone's upsert tuples; ids are strings
(movie ids are stored as ``str(movie_id)``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .filters import clean_metadata

SUPPORTED_METRICS = ("cosine", "dotproduct")


class VectorStoreError(RuntimeError):
    """A store cannot do what was asked (wrong dimension, metric mismatch, bad record)."""


class Match(NamedTuple):
    """One query result, shaped like Pinecone's ``ScoredVector``: ``m.id``, ``m.score``, ``m.metadata``
    and ``m["id"]``. A NamedTuple because queries build many of them on the hot path."""

    id: str
    score: float
    metadata: dict[str, Any] | None = None

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            if key not in self._fields:
                raise KeyError(f"a match has {', '.join(self._fields)}; not {key!r}")
            return getattr(self, key)
        return tuple.__getitem__(self, key)


class QueryResponse(Sequence):
    """What ``query`` returns, shaped like Pinecone's: ``response.matches`` and ``response["matches"]``.

    It is also a sequence of its matches (``for m in response``, ``response[0]``, ``len(response)``),
    so code written against either backend reads the same.
    """

    __slots__ = ("matches", "namespace")

    def __init__(self, matches: list[Match], namespace: str = ""):
        self.matches = matches
        self.namespace = namespace

    def __getitem__(self, key):
        if isinstance(key, str):
            if key == "matches":
                return self.matches
            if key == "namespace":
                return self.namespace
            raise KeyError(f"a query response has 'matches' and 'namespace'; not {key!r}")
        return self.matches[key]

    def __len__(self) -> int:
        return len(self.matches)

    def __eq__(self, other) -> bool:
        if isinstance(other, QueryResponse):
            return self.matches == other.matches and self.namespace == other.namespace
        return isinstance(other, list) and self.matches == other

    def __repr__(self) -> str:
        return f"QueryResponse({len(self.matches)} matches, namespace={self.namespace!r})"


@dataclass(frozen=True)
class Record:
    id: str
    vector: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)


def check_metric(metric: str) -> str:
    if metric not in SUPPORTED_METRICS:
        raise VectorStoreError(
            f"metric {metric!r} is not supported; choose one of {', '.join(SUPPORTED_METRICS)}"
        )
    return metric


def prepare_records(records: Iterable, dimension: int) -> list[Record]:
    """Validate and normalise ``(id, vector, metadata)`` tuples (metadata optional)."""
    prepared: list[Record] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(records):
        if isinstance(item, Record):
            record_id, vector, metadata = item.id, item.vector, item.metadata
        elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
            record_id, vector = item[0], item[1]
            metadata = item[2] if len(item) == 3 else None
        else:
            raise VectorStoreError(
                f"record #{position} must be a tuple (id, vector[, metadata]), got {type(item).__name__}"
            )
        if not isinstance(record_id, str) or not record_id:
            raise VectorStoreError(
                f"record #{position} has id {record_id!r}; ids must be non-empty strings (use str(movie_id))"
            )
        array = np.asarray(vector, dtype=np.float32).ravel()
        if array.shape != (dimension,):
            raise VectorStoreError(
                f"record {record_id!r} has a vector of length {array.size}; this store holds {dimension}-d vectors"
            )
        if not np.all(np.isfinite(array)):
            raise VectorStoreError(f"record {record_id!r} has NaN or infinite values in its vector")
        if not np.any(array):
            raise VectorStoreError(f"record {record_id!r} has an all-zero vector, which has no direction")
        if record_id in seen:
            # Pinecone keeps the last write for a repeated id; do the same, explicitly.
            prepared[seen[record_id]] = Record(record_id, array, clean_metadata(metadata, record_id))
            continue
        seen[record_id] = len(prepared)
        prepared.append(Record(record_id, array, clean_metadata(metadata, record_id)))
    return prepared


def query_vector(vector: Any, dimension: int) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != dimension:
        raise VectorStoreError(
            f"query vector has shape {array.shape}; this store holds {dimension}-d vectors"
        )
    return array


def check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise VectorStoreError(f"top_k must be a positive integer, got {top_k!r}")
    return int(top_k)


class VectorStore(abc.ABC):
    """What every backend implements. ``namespace`` partitions records, as in Pinecone."""

    backend: str
    name: str
    dimension: int
    metric: str

    @abc.abstractmethod
    def upsert(self, records: Iterable, namespace: str = "") -> int:
        """Insert or replace records by id; returns how many were written."""

    @abc.abstractmethod
    def query(
        self,
        vector,
        top_k: int = 10,
        filter: dict | None = None,
        include_metadata: bool = True,
        namespace: str = "",
    ) -> QueryResponse:
        """The ``top_k`` best matches, best first (cosine: highest similarity), as Pinecone shapes them."""

    @abc.abstractmethod
    def query_many(
        self, vectors, top_k: int, filter: dict | None = None, namespace: str = ""
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batched query for evaluation: ids (n, k) str and scores (n, k) float32.

        When fewer than ``top_k`` records qualify, rows are padded with id "" and score -inf.
        """

    @abc.abstractmethod
    def fetch(self, ids: Sequence[str], namespace: str = "") -> dict[str, Record]:
        """The stored records for ``ids``; unknown ids are simply absent."""

    @abc.abstractmethod
    def delete(self, ids: Sequence[str], namespace: str = "") -> None:
        """Remove records by id (unknown ids are ignored)."""

    @abc.abstractmethod
    def delete_all(self, namespace: str = "") -> None:
        """Empty one namespace."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """``{"backend", "name", "dimension", "metric", "total_vector_count", "namespaces": {ns: count}}``."""

    @abc.abstractmethod
    def get_manifest(self) -> dict[str, str]:
        """Small string key-values describing the content (e.g. a content hash)."""

    @abc.abstractmethod
    def set_manifest(self, manifest: dict[str, str]) -> None:
        """Replace the manifest."""

    def count(self, namespace: str = "") -> int:
        return int(self.stats()["namespaces"].get(namespace, 0))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, dimension={self.dimension}, metric={self.metric!r})"
        )


def pad_results(ids: list[list[str]], scores: list[list[float]], top_k: int) -> tuple[np.ndarray, np.ndarray]:
    out_ids = np.full((len(ids), top_k), "", dtype=object)
    out_scores = np.full((len(ids), top_k), -np.inf, dtype=np.float32)
    for row, (row_ids, row_scores) in enumerate(zip(ids, scores, strict=True)):
        out_ids[row, : len(row_ids)] = row_ids
        out_scores[row, : len(row_scores)] = row_scores
    return out_ids.astype(str), out_scores
