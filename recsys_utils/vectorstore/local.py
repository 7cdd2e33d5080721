"""The embedded default store: exact search in NumPy, persisted as one file per namespace.

Why hand-written rather than FAISS/Chroma/LanceDB: the course needs exact cosine search over
at most ~100k vectors plus Pinecone's metadata filter semantics; a NumPy matrix-vector product
is exact, has no extra dependency, and benchmarks/bench_vectorstore.py shows it within 1.5x
of the bare product at 1.7k-100k vectors. None of those libraries speaks Pinecone's filter
language, which is the part that must behave identically on both backends.

Layout under ``<path>/<name>/``: ``store.json`` (dimension, metric, namespaces, manifest) and
``ns-<hash>.npz`` per namespace (ids, vectors, metadata as JSON). Every write replaces files
atomically, namespace file first and ``store.json`` last.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write_json, atomic_write_with
from .base import (
    Match,
    QueryResponse,
    Record,
    VectorStore,
    VectorStoreError,
    check_metric,
    check_top_k,
    prepare_records,
    query_vector,
)
from .filters import MetadataColumns, filter_mask

FORMAT_VERSION = 1
# query_many computes (rows x vectors) score blocks; cap a block at ~64 MB of float32.
_BLOCK_BYTES = 64 << 20


class _Namespace:
    """Immutable snapshot of one namespace; mutations build a new one (copy-on-write)."""

    __slots__ = ("ids", "matrix", "metadata", "rows", "_columns")

    def __init__(self, ids: list[str], matrix: np.ndarray, metadata: list[dict]):
        self.ids = np.asarray(ids, dtype=object)
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.metadata = metadata
        self.rows = {record_id: row for row, record_id in enumerate(ids)}
        self._columns: MetadataColumns | None = None

    @property
    def columns(self) -> MetadataColumns:
        if self._columns is None:
            self._columns = MetadataColumns(self.metadata)
        return self._columns

    def __len__(self) -> int:
        return len(self.ids)


def _empty(dimension: int) -> _Namespace:
    return _Namespace([], np.empty((0, dimension), dtype=np.float32), [])


class LocalVectorStore(VectorStore):
    backend = "local"

    def __init__(
        self,
        name: str = "movies",
        dimension: int = 384,
        metric: str = "cosine",
        path: str | Path | None = None,
    ):
        if not name or any(c in name for c in "/\\") or name.startswith("."):
            raise VectorStoreError(f"store name {name!r} must be a plain folder name such as 'movies'")
        self.name = name
        self.dimension = int(dimension)
        self.metric = check_metric(metric)
        self.folder = Path(path) / name if path is not None else None
        self._namespaces: dict[str, _Namespace] = {}
        self._manifest: dict[str, str] = {}
        self._lock = threading.Lock()
        if self.folder is not None and (self.folder / "store.json").exists():
            self._load()

    # ---- persistence -------------------------------------------------------------------
    def _load(self) -> None:
        info = json.loads((self.folder / "store.json").read_text())
        if info.get("dimension") != self.dimension or info.get("metric") != self.metric:
            raise VectorStoreError(
                f"the store at {self.folder} holds {info.get('dimension')}-d {info.get('metric')} vectors, "
                f"not {self.dimension}-d {self.metric}; open it with those settings, pick another name, "
                "or delete the folder to rebuild it"
            )
        self._manifest = dict(info.get("manifest", {}))
        for namespace, filename in info.get("namespaces", {}).items():
            with np.load(self.folder / filename, allow_pickle=False) as stored:
                ids = stored["ids"].tolist()
                vectors = stored["vectors"]
                metadata = json.loads(bytes(stored["metadata"]).decode("utf-8"))
            self._namespaces[namespace] = _Namespace(ids, vectors, metadata)

    @staticmethod
    def _namespace_file(namespace: str) -> str:
        return f"ns-{hashlib.sha256(namespace.encode()).hexdigest()[:16]}.npz"

    def _save(self, changed: Iterable[str]) -> None:
        if self.folder is None:
            return
        for namespace in changed:
            ns = self._namespaces.get(namespace)
            target = self.folder / self._namespace_file(namespace)
            if ns is None:
                continue
            ids = np.asarray(ns.ids.tolist(), dtype=str) if len(ns) else np.empty(0, dtype="<U1")
            metadata = np.frombuffer(json.dumps(ns.metadata).encode("utf-8"), dtype=np.uint8)

            def write(tmp: Path, ids=ids, ns=ns, metadata=metadata) -> None:
                with open(tmp, "wb") as handle:
                    np.savez(handle, ids=ids, vectors=ns.matrix, metadata=metadata)

            atomic_write_with(target, write)
        atomic_write_json(
            self.folder / "store.json",
            {
                "format": FORMAT_VERSION,
                "name": self.name,
                "dimension": self.dimension,
                "metric": self.metric,
                "namespaces": {ns: self._namespace_file(ns) for ns in self._namespaces},
                "manifest": self._manifest,
            },
        )
        live = {self._namespace_file(ns) for ns in self._namespaces}
        for stale in self.folder.glob("ns-*.npz"):
            if stale.name not in live:
                stale.unlink(missing_ok=True)

    # ---- writes ------------------------------------------------------------------------
    def _prepare_matrix(self, vectors: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            # Stored at unit length so a query is one matrix-vector product.
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.astype(np.float32, copy=False)

    def upsert(self, records: Iterable, namespace: str = "") -> int:
        _check_namespace(namespace)
        prepared = prepare_records(records, self.dimension)
        if not prepared:
            return 0
        with self._lock:
            current = self._namespaces.get(namespace, _empty(self.dimension))
            ids = current.ids.tolist()
            metadata = list(current.metadata)
            rows = dict(current.rows)
            new_vectors = self._prepare_matrix(np.stack([r.vector for r in prepared]))
            replace_rows, replace_from, append_from = [], [], []
            for position, record in enumerate(prepared):
                if record.id in rows:
                    replace_rows.append(rows[record.id])
                    replace_from.append(position)
                    metadata[rows[record.id]] = record.metadata
                else:
                    rows[record.id] = len(ids)
                    ids.append(record.id)
                    metadata.append(record.metadata)
                    append_from.append(position)
            matrix = current.matrix.copy() if replace_rows else current.matrix
            if replace_rows:
                matrix[replace_rows] = new_vectors[replace_from]
            if append_from:
                matrix = np.vstack([matrix, new_vectors[append_from]])
            self._namespaces[namespace] = _Namespace(ids, matrix, metadata)
            self._save([namespace])
        return len(prepared)

    def delete(self, ids: Sequence[str], namespace: str = "") -> None:
        _check_namespace(namespace)
        ids = _check_ids(ids)
        with self._lock:
            current = self._namespaces.get(namespace)
            if current is None:
                return
            drop = {current.rows[i] for i in ids if i in current.rows}
            if not drop:
                return
            keep = np.array([row for row in range(len(current)) if row not in drop], dtype=np.int64)
            if len(keep) == 0:
                del self._namespaces[namespace]
            else:
                self._namespaces[namespace] = _Namespace(
                    current.ids[keep].tolist(), current.matrix[keep], [current.metadata[r] for r in keep]
                )
            self._save([namespace])

    def delete_all(self, namespace: str = "") -> None:
        _check_namespace(namespace)
        with self._lock:
            if self._namespaces.pop(namespace, None) is not None:
                self._save([])

    def set_manifest(self, manifest: dict[str, str]) -> None:
        with self._lock:
            self._manifest = {str(k): str(v) for k, v in manifest.items()}
            self._save([])

    def get_manifest(self) -> dict[str, str]:
        return dict(self._manifest)

    def clear(self) -> None:
        """Remove every record and the manifest (the folder stays)."""
        with self._lock:
            self._namespaces.clear()
            self._manifest = {}
            self._save([])

    # ---- reads -------------------------------------------------------------------------
    def _candidates(self, ns: _Namespace, flt: dict | None) -> tuple[np.ndarray, np.ndarray | None]:
        """The matrix to score and, under a filter, the original rows it holds."""
        if flt is None:
            return ns.matrix, None
        rows = np.flatnonzero(filter_mask(flt, ns.columns))
        return ns.matrix[rows], rows

    def query(
        self,
        vector,
        top_k: int = 10,
        filter: dict | None = None,
        include_metadata: bool = True,
        namespace: str = "",
    ) -> list[Match]:
        # Hot path (benchmarks/bench_vectorstore.py holds it within 1.5x of a bare matvec):
        # rank on the raw dot products and scale only the k winners by the query norm.
        top_k = check_top_k(top_k)
        q = query_vector(vector, self.dimension)
        ns = self._namespaces.get(namespace)
        if ns is None or ns.matrix.shape[0] == 0:
            if filter is not None:
                filter_mask(filter, MetadataColumns([]))  # still reject an invalid filter
            return QueryResponse([], namespace)
        if filter is None:
            matrix, rows = ns.matrix, None
        else:
            matrix, rows = self._candidates(ns, filter)
        n = matrix.shape[0]
        if n == 0:
            return QueryResponse([], namespace)
        scores = matrix @ q
        k = min(top_k, n)
        part = np.argpartition(scores, n - k)[n - k :] if k < n else np.arange(n)
        best = part[np.argsort(-scores[part])]
        scale = self._query_scale(q)
        picked = (best if rows is None else rows[best]).tolist()
        top_scores = (scores[best] * scale).tolist()
        ids, metadata = ns.ids, ns.metadata
        if include_metadata:
            return QueryResponse([Match(ids[r], s, metadata[r]) for r, s in zip(picked, top_scores, strict=True)],
                                 namespace)
        return QueryResponse([Match(ids[r], s, None) for r, s in zip(picked, top_scores, strict=True)], namespace)

    def _query_scale(self, q: np.ndarray) -> float:
        if self.metric != "cosine":
            return 1.0
        squared = float(np.dot(q, q))
        if squared == 0.0:
            raise VectorStoreError("query vector is all zeros; it has no direction to compare")
        return 1.0 / math.sqrt(squared)

    def query_many(
        self, vectors, top_k: int, filter: dict | None = None, namespace: str = ""
    ) -> tuple[np.ndarray, np.ndarray]:
        top_k = check_top_k(top_k)
        queries = np.asarray(vectors, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise VectorStoreError(
                f"query_many takes an (n, {self.dimension}) array, got shape {queries.shape}"
            )
        if self.metric == "cosine":
            norms = np.linalg.norm(queries, axis=1, keepdims=True)
            if np.any(norms == 0):
                raise VectorStoreError("query_many got an all-zero query vector, which has no direction")
            queries = queries / norms
        n = len(queries)
        ids_out = np.full((n, top_k), "", dtype=object)
        scores_out = np.full((n, top_k), -np.inf, dtype=np.float32)
        ns = self._namespaces.get(namespace)
        if ns is None or len(ns) == 0:
            if filter is not None:
                filter_mask(filter, MetadataColumns([]))
            return ids_out.astype(str), scores_out
        matrix, rows = self._candidates(ns, filter)
        k = min(top_k, len(matrix))
        if k > 0:
            block = max(1, _BLOCK_BYTES // (4 * max(1, len(matrix))))
            for start in range(0, n, block):
                scores = queries[start : start + block] @ matrix.T
                m = scores.shape[1]
                part = (
                    np.argpartition(scores, m - k, axis=1)[:, m - k :]
                    if k < m
                    else np.tile(np.arange(m), (len(scores), 1))
                )
                part_scores = np.take_along_axis(scores, part, axis=1)
                order = np.argsort(-part_scores, axis=1, kind="stable")
                best = np.take_along_axis(part, order, axis=1)
                original = best if rows is None else rows[best]
                ids_out[start : start + len(scores), :k] = ns.ids[original]
                scores_out[start : start + len(scores), :k] = np.take_along_axis(part_scores, order, axis=1)
        return ids_out.astype(str), scores_out

    def fetch(self, ids: Sequence[str], namespace: str = "") -> dict[str, Record]:
        ids = _check_ids(ids)
        ns = self._namespaces.get(namespace)
        if ns is None:
            return {}
        return {
            i: Record(i, ns.matrix[ns.rows[i]].copy(), dict(ns.metadata[ns.rows[i]]))
            for i in ids
            if i in ns.rows
        }

    def stats(self) -> dict[str, Any]:
        counts = {ns: len(data) for ns, data in self._namespaces.items() if len(data)}
        return {
            "backend": self.backend,
            "name": self.name,
            "dimension": self.dimension,
            "metric": self.metric,
            "total_vector_count": sum(counts.values()),
            "namespaces": counts,
            "bytes_on_disk": self.bytes_on_disk(),
        }

    def bytes_on_disk(self) -> int:
        if self.folder is None or not self.folder.exists():
            return 0
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())


def _check_namespace(namespace: str) -> None:
    if not isinstance(namespace, str):
        raise VectorStoreError(f"namespace must be a string ('' is the default), got {namespace!r}")


def _check_ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        raise VectorStoreError("pass a list of ids, e.g. ['1', '2'], not a single string")
    ids = list(ids)
    for record_id in ids:
        if not isinstance(record_id, str):
            raise VectorStoreError(f"ids must be strings (use str(movie_id)), got {record_id!r}")
    return ids
