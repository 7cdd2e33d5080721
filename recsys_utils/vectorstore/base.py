"""The one interface every vector store backend offers, modelled on Pinecone's data plane.

Records are ``(id, vector, metadata)`` tuples like Pinecone's upsert tuples; ids are strings
(movie ids are stored as ``str(movie_id)``). ``prepare_records``, ``query_vector``,
``query_matrix`` and ``check_top_k`` apply the limits of ``limits`` for both backends.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .errors import VectorStoreError, ZeroQueryError
from .filters import clean_metadata
from .limits import (
    FLOAT32_MAX,
    FLOAT32_TINY,
    MAX_DIMENSION,
    MAX_DOTPRODUCT_NORM,
    MAX_ID_LENGTH,
    MAX_NAMESPACE_LENGTH,
    MAX_TOP_K,
)

SUPPORTED_METRICS = ("cosine", "dotproduct")


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


def check_dimension(dimension: int) -> int:
    if isinstance(dimension, bool) or not isinstance(dimension, (int, np.integer)) or not 1 <= dimension <= MAX_DIMENSION:
        raise VectorStoreError(
            f"dimension must be an integer from 1 to {MAX_DIMENSION:,} (Pinecone's limit), got {dimension!r}"
        )
    return int(dimension)


def check_id(record_id: Any, where: str) -> str:
    """A record id Pinecone accepts and both backends store unchanged: a non-empty ASCII string
    of at most 512 characters without NUL (NumPy's string arrays would also drop trailing NULs)."""
    if not isinstance(record_id, str) or not record_id:
        raise VectorStoreError(f"{where} has id {record_id!r}; ids must be non-empty strings (use str(movie_id))")
    if len(record_id) > MAX_ID_LENGTH:
        raise VectorStoreError(
            f"{where} has an id of {len(record_id):,} characters ({record_id[:20]!r}...); Pinecone's limit is "
            f"{MAX_ID_LENGTH} (vectorstore.limits.MAX_ID_LENGTH): use a shorter key, e.g. a hash of it"
        )
    if not record_id.isascii() or "\0" in record_id:
        raise VectorStoreError(
            f"{where} has id {record_id!r}; Pinecone takes ASCII ids without NUL (code points 1-127): "
            "use a slug or a hash of the key"
        )
    return record_id


def check_namespace(namespace: Any) -> str:
    """'' (the default namespace) or a name Pinecone accepts: ASCII without NUL, at most 512 characters."""
    if not isinstance(namespace, str):
        raise VectorStoreError(f"namespace must be a string ('' is the default), got {namespace!r}")
    if len(namespace) > MAX_NAMESPACE_LENGTH or not namespace.isascii() or "\0" in namespace:
        raise VectorStoreError(
            f"namespace {namespace[:40]!r} ({len(namespace)} characters) is not one Pinecone accepts: "
            f"ASCII without NUL, at most {MAX_NAMESPACE_LENGTH} characters (vectorstore.limits.MAX_NAMESPACE_LENGTH)"
        )
    return namespace


def _as_float64(vector: Any, where: str) -> np.ndarray:
    try:
        return np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise VectorStoreError(f"{where} is not an array of numbers ({error})") from None


def _value_problem(row: np.ndarray) -> str | None:
    """What is wrong with a float64 row's values under the float32 rules, or None."""
    bad = np.flatnonzero(~np.isfinite(row))
    if len(bad):
        return (
            f"value {float(row[bad[0]])!r} at position {bad[0]} is not a finite number; vectors must hold "
            f"finite numbers ({len(bad)} of {row.size} values are NaN or infinite)"
        )
    huge = np.flatnonzero(np.abs(row) > FLOAT32_MAX)
    if len(huge):
        return (
            f"value {row[huge[0]]:.3g} at position {huge[0]} is beyond float32's range (±{FLOAT32_MAX:.4g}), "
            "the type Pinecone stores; rescale the vector"
        )
    return None


def _first_bad_row(matrix: np.ndarray) -> int | None:
    """The first row of a float64 matrix holding a value float32 cannot hold, or None."""
    bad = ~(np.abs(matrix) <= FLOAT32_MAX).all(axis=1)  # False for NaN and inf too: one pass
    return int(np.flatnonzero(bad)[0]) if bad.any() else None


def _too_long(what: str, norm: float) -> VectorStoreError:
    return VectorStoreError(
        f"{what} has length {norm:.3g}; under the dotproduct metric the limit is {MAX_DOTPRODUCT_NORM:.3g} "
        "(vectorstore.limits.MAX_DOTPRODUCT_NORM), beyond which scores overflow float32: rescale the vectors"
    )


def to_stored_vectors(matrix: np.ndarray, ids: Sequence[str], metric: str) -> np.ndarray:
    """Check an (n, d) float64 matrix under the rules of ``limits`` and return what is stored.

    Values are read as float32, as Pinecone stores them (finite and within ``±FLOAT32_MAX``,
    else refused); cosine rows are then scaled to unit length in float64; values below
    ``FLOAT32_TINY`` are stored as 0; a row left all zero is refused.
    """
    if (row := _first_bad_row(matrix)) is not None:
        raise VectorStoreError(f"record {ids[row]!r}: {_value_problem(matrix[row])}")
    single = matrix.astype(np.float32)
    norms = np.linalg.norm(single.astype(np.float64), axis=1)  # float32 values: no under/overflow in float64
    if metric == "cosine":
        with np.errstate(invalid="ignore", divide="ignore"):  # zero rows are refused just below
            stored = (single / norms[:, None]).astype(np.float32)
    else:
        long = norms > MAX_DOTPRODUCT_NORM
        if long.any():
            row = int(np.flatnonzero(long)[0])
            raise _too_long(f"the vector of record {ids[row]!r}", norms[row])
        stored = single
    stored[~(np.abs(stored) >= FLOAT32_TINY)] = 0.0  # no float32 subnormals (see limits); NaN of 0/0 too
    empty = ~stored.any(axis=1)
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        hint = (
            "" if not matrix[row].any() else
            f" once stored as float32 (every value is below float32's smallest normal number, {FLOAT32_TINY:.3g}, "
            "and becomes 0): rescale the vector"
        )
        raise VectorStoreError(f"record {ids[row]!r} has an all-zero vector, which has no direction{hint}")
    return stored


def prepare_records(records: Iterable, dimension: int, metric: str = "cosine") -> list[Record]:
    """Validate and normalise ``(id, vector, metadata)`` tuples (metadata optional).

    Every record is checked before any is returned (an upsert stores all or nothing); the
    vectors come back as ``to_stored_vectors`` makes them.
    """
    ids: list[str] = []
    rows: list[np.ndarray] = []
    metas: list[dict[str, Any]] = []
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
        check_id(record_id, f"record #{position}")
        array = _as_float64(vector, f"the vector of record {record_id!r}").ravel()
        if array.shape != (dimension,):
            raise VectorStoreError(
                f"record {record_id!r} has a vector of length {array.size}; this store holds {dimension}-d vectors"
            )
        metadata = clean_metadata(metadata, record_id)
        if record_id in seen:
            # Pinecone keeps the last write for a repeated id; do the same, explicitly.
            rows[seen[record_id]], metas[seen[record_id]] = array, metadata
            continue
        seen[record_id] = len(ids)
        ids.append(record_id)
        rows.append(array)
        metas.append(metadata)
    if not ids:
        return []
    stored = to_stored_vectors(np.stack(rows), ids, metric)
    return [Record(i, stored[row], meta) for row, (i, meta) in enumerate(zip(ids, metas, strict=True))]


def query_vector(vector: Any, dimension: int, metric: str = "cosine") -> tuple[np.ndarray, float]:
    """The query as float32 and the factor that turns its dot products into scores.

    Cheap on the hot path: one ``q . q``. Only when that is not a normal float32 (NaN, inf,
    overflow, underflow) is the query re-examined in float64 and, for cosine, scaled to unit
    length (factor 1.0); a NaN or infinite value, or an all-zero query, is refused.
    """
    fast = isinstance(vector, np.ndarray) and vector.dtype == np.float32
    array = vector if fast else _as_float64(vector, "the query vector")
    if array.ndim != 1 or array.shape[0] != dimension:
        raise VectorStoreError(
            f"query vector has shape {array.shape}; this store holds {dimension}-d vectors"
        )
    if not fast:
        if problem := _value_problem(array):
            raise VectorStoreError(f"query vector: {problem}")
        array = array.astype(np.float32)
    squared = float(np.vdot(array, array))  # vdot: no overflow warning (a huge q takes the path below)
    if FLOAT32_TINY <= squared < math.inf:
        return array, (1.0 / math.sqrt(squared) if metric == "cosine" else 1.0)
    wide = array.astype(np.float64)
    if problem := _value_problem(wide):
        raise VectorStoreError(f"query vector: {problem}")
    norm = float(np.linalg.norm(wide))
    if norm == 0.0:
        raise ZeroQueryError("query vector is all zeros; it has no direction to compare")
    if metric == "cosine":
        return (wide / norm).astype(np.float32), 1.0
    if norm > MAX_DOTPRODUCT_NORM:
        raise _too_long("the query vector", norm)
    return array, 1.0  # a tiny dotproduct query: its scores round towards 0, as they should


def query_matrix(vectors: Any, dimension: int, metric: str = "cosine") -> np.ndarray:
    """An (n, dimension) float32 query batch, checked as ``query_vector`` checks one query;
    cosine queries come back at unit length (scaled in float64).

    A float32 batch (the candidate generator's, two per service request) skips the float64
    range scan: its values are within float32's range by type, and a NaN or infinite value
    makes its row's squared length non-finite, so that one check finds it (~40 -> ~15 us)."""
    if isinstance(vectors, np.ndarray) and vectors.dtype == np.float32 and vectors.ndim == 2 \
            and vectors.shape[1] == dimension:
        single = vectors
        wide_single = single.astype(np.float64)
        norms = np.sqrt(np.add.reduce(wide_single * wide_single, axis=1))
        if not np.isfinite(norms).all():
            row = int(np.flatnonzero(~np.isfinite(norms))[0])
            raise VectorStoreError(f"query_many row {row}: {_value_problem(wide_single[row])}")
    else:
        wide = _as_float64(vectors, "query_many's vectors")
        if wide.ndim != 2 or wide.shape[1] != dimension:
            raise VectorStoreError(f"query_many takes an (n, {dimension}) array, got shape {wide.shape}")
        if (row := _first_bad_row(wide)) is not None:
            raise VectorStoreError(f"query_many row {row}: {_value_problem(wide[row])}")
        single = wide.astype(np.float32)
        norms = np.linalg.norm(single.astype(np.float64), axis=1)
    if (norms == 0).any():
        raise ZeroQueryError(
            f"query_many row {int(np.flatnonzero(norms == 0)[0])} is all zeros; it has no direction to compare"
        )
    if metric == "cosine":
        return (single / norms[:, None]).astype(np.float32)
    if (norms > MAX_DOTPRODUCT_NORM).any():
        row = int(np.flatnonzero(norms > MAX_DOTPRODUCT_NORM)[0])
        raise _too_long(f"query_many row {row}", norms[row])
    return single


def int_ids(ids: np.ndarray, parse=None, index: str = "?") -> np.ndarray:
    """``query_many``'s string ids as int64, -1 for the padding ""; ``parse`` maps id strings to int64."""
    out = np.full(ids.shape, -1, dtype=np.int64)
    present = ids != ""
    if present.any():
        try:
            out[present] = ids[present].astype(np.int64) if parse is None else parse(ids[present])
        except ValueError:
            raise VectorStoreError(f"the {index!r} index holds ids that are not integers (e.g. "
                                   f"{ids[present][0]!r}); query it with query_many") from None
    return out


def check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise VectorStoreError(f"top_k must be a positive integer, got {top_k!r}")
    if top_k > MAX_TOP_K:
        raise VectorStoreError(
            f"top_k={top_k:,} is over {MAX_TOP_K:,}, Pinecone's limit (vectorstore.limits.MAX_TOP_K); "
            "ask for fewer matches, or narrow the search with a filter"
        )
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

    def query_many_int(
        self, vectors, top_k: int, filter: dict | None = None, namespace: str = "", parse=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``query_many`` with the ids as int64 (-1 in the padding), for records whose ids are
        integers written as text (the course's movie ids). ``parse`` maps an array of id strings
        to int64 (default: numpy's cast); a store that keeps integer ids may skip the text."""
        ids, scores = self.query_many(vectors, top_k, filter=filter, namespace=namespace)
        return int_ids(ids, parse, getattr(self, "name", "?")), scores

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
