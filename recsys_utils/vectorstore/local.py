"""The embedded default store: exact search in NumPy, persisted as one file per namespace.

Why hand-written rather than FAISS/Chroma/LanceDB: the course needs exact cosine search over
at most ~100k vectors plus Pinecone's metadata filter semantics; a NumPy matrix-vector product
is exact, has no extra dependency, and benchmarks/bench_vectorstore.py shows it within 1.5x
of the bare product at 1.7k-100k vectors. None of those libraries speaks Pinecone's filter
language, which is the part that must behave identically on both backends.

Layout under ``<path>/<name>/``: ``store.json`` (dimension, metric, manifest, and per namespace
its file, record count and sha256) and ``ns-<hash>.npz`` per namespace (ids, vectors, metadata
as JSON). Every write replaces files atomically, namespace file first and ``store.json`` last.

Loading verifies everything before the store is used: ``store.json`` against its own sha256,
each namespace file against the sha256 recorded for it, then the arrays' shapes and values
(ids unique, one vector and one metadata dict per id, finite float32 rows of unit length for
cosine). Any mismatch raises ``CorruptIndexError`` naming the file; nothing is half-loaded.
A store written before checksums existed (format 1) is checked the same way, less the
checksums, and then gets them. Verification costs one sha256 pass over the files at open
(benchmarks/bench_vectorstore.py ``--load``), never anything per query.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import threading
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write_bytes, atomic_write_json
from .base import (
    Match,
    QueryResponse,
    Record,
    VectorStore,
    VectorStoreError,
    check_dimension,
    check_metric,
    check_namespace,
    check_top_k,
    prepare_records,
    query_matrix,
    query_vector,
)
from .errors import CorruptIndexError
from .filters import MetadataColumns, filter_mask

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: sha256 checksums of store.json and of every namespace file
_NAMESPACE_FILE = re.compile(r"ns-[0-9a-f]{16}\.npz")
# What reading a damaged .npz / JSON can raise (np.load wraps most zip damage in these).
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, UnicodeDecodeError)
# query_many computes (rows x vectors) score blocks; cap a block at ~64 MB of float32.
_BLOCK_BYTES = 64 << 20


class _Namespace:
    """Immutable snapshot of one namespace; mutations build a new one (copy-on-write)."""

    __slots__ = ("ids", "matrix", "metadata", "rows", "_columns", "_text_ids", "_int_ids", "_int_lookup", "_layout")

    def __init__(self, ids: list[str], matrix: np.ndarray, metadata: list[dict]):
        self.ids = np.asarray(ids, dtype=object)
        self._text_ids: np.ndarray | None = None
        self._int_ids: np.ndarray | bool | None = None
        self._int_lookup: tuple[np.ndarray, np.ndarray] | None = None
        self._layout: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.metadata = metadata
        self.rows = {record_id: row for row, record_id in enumerate(ids)}
        self._columns: MetadataColumns | None = None

    @property
    def columns(self) -> MetadataColumns:
        if self._columns is None:
            self._columns = MetadataColumns(self.metadata)
        return self._columns

    @property
    def text_ids(self) -> np.ndarray:
        """The ids as one fixed-width string array: ``query_many`` gathers from it directly (an
        object array gathered and then converted cost ~0.1 ms per 250-id query in the service)."""
        if self._text_ids is None:
            self._text_ids = np.asarray(self.ids.tolist(), dtype=str) if len(self.ids) else np.empty(0, dtype=str)
        return self._text_ids

    @property
    def int_ids(self) -> np.ndarray | None:
        """The ids as int64 when every id is an integer written canonically ("42", not "042"),
        else None: ``query_many_int`` then gathers integers and skips parsing text."""
        if self._int_ids is None:
            text = self.text_ids
            try:
                values = text.astype(np.int64) if len(text) else np.empty(0, dtype=np.int64)
                self._int_ids = values if np.array_equal(values.astype(str), text) else False
            except ValueError:
                self._int_ids = False
        return self._int_ids if self._int_ids is not False else None

    def rows_of_int_ids(self, ids: np.ndarray) -> np.ndarray:
        """The rows holding these integer ids (ids not stored are skipped); needs ``int_ids``."""
        rows, stored = self._find_int_ids(np.asarray(ids, dtype=np.int64).ravel())
        return rows[stored]

    def layout(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a row for each of ``ids``, any row where the id is not stored; mask of the ids not
        stored), kept for the last ``ids`` array asked about (by identity: a caller that lays every
        score out in its own order, ``scores_by_int_id``, passes the same array, never changed in
        place)."""
        if self._layout is None or self._layout[0] is not ids:
            rows, stored = self._find_int_ids(ids)
            self._layout = (ids, rows, ~stored)
        return self._layout[1], self._layout[2]

    def _find_int_ids(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a row for each id, valid even where the id is not stored; mask of the stored ones),
        by binary search in the sorted integer ids; needs ``int_ids``."""
        if self._int_lookup is None:
            order = np.argsort(self.int_ids, kind="stable")
            self._int_lookup = (self.int_ids[order], order)
        sorted_ids, order = self._int_lookup
        if not sorted_ids.size or not ids.size:
            return np.zeros(ids.size, dtype=np.int64), np.zeros(ids.size, dtype=bool)
        pos = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
        return order[pos], sorted_ids[pos] == ids

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
        self.dimension = check_dimension(dimension)
        self.metric = check_metric(metric)
        self.folder = Path(path) / name if path is not None else None
        self._namespaces: dict[str, _Namespace] = {}
        self._checksums: dict[str, str] = {}  # namespace -> sha256 of its file as last written or verified
        self._manifest: dict[str, str] = {}
        self._lock = threading.Lock()
        if self.folder is not None and (self.folder / "store.json").exists():
            self._load()

    # ---- persistence -------------------------------------------------------------------
    def _corrupt(self, file: str, problem: str) -> CorruptIndexError:
        return CorruptIndexError(self.name, self.folder, file, problem)

    def _load(self) -> None:
        try:
            info = json.loads((self.folder / "store.json").read_bytes())
        except _READ_ERRORS as error:
            raise self._corrupt("store.json", f"cannot be read as JSON ({type(error).__name__}: {error})") from None
        if not isinstance(info, dict):
            raise self._corrupt("store.json", f"holds a JSON {type(info).__name__}, not an object")
        version = info.get("format")
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise VectorStoreError(
                f"the store at {self.folder} was written by a newer version of the course (format {version}; "
                f"this one reads up to {FORMAT_VERSION}); update the repository or rebuild the index"
            )
        if version not in (1, FORMAT_VERSION):
            raise self._corrupt("store.json", f"has format {version!r}, which no version of the course wrote")
        if version == FORMAT_VERSION and info.get("sha256") != _info_checksum(info):
            raise self._corrupt("store.json", "does not match its own sha256 checksum (it was edited or damaged)")
        if info.get("dimension") != self.dimension or info.get("metric") != self.metric:
            raise VectorStoreError(
                f"the store at {self.folder} holds {info.get('dimension')}-d {info.get('metric')} vectors, "
                f"not {self.dimension}-d {self.metric}; open it with those settings, pick another name, "
                "or delete the folder to rebuild it"
            )
        manifest, listed = info.get("manifest", {}), info.get("namespaces", {})
        if not isinstance(manifest, dict) or not all(isinstance(v, str) for v in manifest.values()):
            raise self._corrupt("store.json", "has a manifest that is not a map of strings")
        if not isinstance(listed, dict):
            raise self._corrupt("store.json", "has a namespace list that is not a map")
        namespaces, checksums = {}, {}
        for namespace, entry in listed.items():
            entry = {"file": entry} if version == 1 else entry
            if not isinstance(entry, dict) or entry.get("file") != self._namespace_file(namespace):
                raise self._corrupt("store.json", f"names {entry!r} as the file of namespace {namespace!r}")
            namespaces[namespace], checksums[namespace] = self._load_namespace(namespace, entry)
        self._manifest, self._namespaces, self._checksums = dict(manifest), namespaces, checksums
        if version < FORMAT_VERSION:
            logger.info("vector store %r: adding checksums to a format-%d store", self.name, version)
            try:
                self._save([])
            except OSError as error:  # a read-only copy still opens; it is verified next time it is written
                logger.info("vector store %r: could not add checksums (%s)", self.name, error)

    def _load_namespace(self, namespace: str, entry: dict) -> tuple[_Namespace, str]:
        file = entry["file"]
        try:
            raw = (self.folder / file).read_bytes()
        except FileNotFoundError:
            raise self._corrupt(file, f"(namespace {namespace!r}) is missing") from None
        except OSError as error:
            raise self._corrupt(file, f"cannot be read ({error})") from None
        digest = hashlib.sha256(raw).hexdigest()
        if "sha256" in entry and digest != entry["sha256"]:
            raise self._corrupt(
                file,
                f"does not match the sha256 recorded in store.json ({len(raw):,} bytes, expected "
                f"{str(entry['sha256'])[:12]}..., found {digest[:12]}...): it was changed or truncated after it was written",
            )
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as stored:
                ids, vectors = stored["ids"], stored["vectors"]
                metadata = json.loads(bytes(stored["metadata"]).decode("utf-8"))
        except _READ_ERRORS as error:
            raise self._corrupt(file, f"cannot be read ({type(error).__name__}: {error})") from None
        problem = self._namespace_problem(ids, vectors, metadata, entry.get("count"))
        if problem:
            raise self._corrupt(file, f"(namespace {namespace!r}) {problem}")
        return _Namespace(ids.tolist(), vectors, metadata), digest

    def _namespace_problem(self, ids, vectors, metadata, count) -> str | None:
        """What makes a loaded namespace unusable, or None (every check is O(size), done once)."""
        if ids.ndim != 1 or ids.dtype.kind != "U":
            return f"holds ids of shape {ids.shape} and type {ids.dtype}, not a list of strings"
        if vectors.ndim != 2 or vectors.dtype != np.float32 or vectors.shape[1] != self.dimension:
            return f"holds vectors of shape {vectors.shape} and type {vectors.dtype}, not (n, {self.dimension}) float32"
        if not isinstance(metadata, list) or not all(isinstance(m, dict) for m in metadata):
            return "holds metadata that is not a list of JSON objects"
        if not len(ids) == len(vectors) == len(metadata):
            return f"holds {len(ids)} ids, {len(vectors)} vectors and {len(metadata)} metadata entries; they must match"
        if count is not None and count != len(ids):
            return f"holds {len(ids)} records; store.json says {count}"
        if len(ids) == 0:
            return "holds no records (an empty namespace is never written)"
        if len(set(ids.tolist())) != len(ids):
            return "holds the same id twice"
        if not np.isfinite(vectors).all():
            return "holds NaN or infinite vector values"
        if self.metric == "cosine":
            norms = np.linalg.norm(vectors, axis=1)
            if np.abs(norms - 1.0).max() > 1e-3:
                return "holds cosine vectors that are not of unit length"
        return None

    @staticmethod
    def _namespace_file(namespace: str) -> str:
        return f"ns-{hashlib.sha256(namespace.encode()).hexdigest()[:16]}.npz"

    def _save(self, changed: Iterable[str]) -> None:
        if self.folder is None:
            return
        for namespace in changed:
            ns = self._namespaces.get(namespace)
            if ns is None:
                continue
            ids = ns.text_ids
            metadata = np.frombuffer(json.dumps(ns.metadata).encode("utf-8"), dtype=np.uint8)
            buffer = io.BytesIO()
            np.savez(buffer, ids=ids, vectors=ns.matrix, metadata=metadata)
            raw = buffer.getvalue()
            atomic_write_bytes(self.folder / self._namespace_file(namespace), raw)
            self._checksums[namespace] = hashlib.sha256(raw).hexdigest()
        info = {
            "format": FORMAT_VERSION,
            "name": self.name,
            "dimension": self.dimension,
            "metric": self.metric,
            "namespaces": {
                ns: {"file": self._namespace_file(ns), "count": len(data), "sha256": self._checksums[ns]}
                for ns, data in self._namespaces.items()
            },
            "manifest": self._manifest,
        }
        info["sha256"] = _info_checksum(info)
        atomic_write_json(self.folder / "store.json", info)
        live = {self._namespace_file(ns) for ns in self._namespaces}
        for stale in self.folder.glob("ns-*.npz"):
            if stale.name not in live and _NAMESPACE_FILE.fullmatch(stale.name):
                stale.unlink(missing_ok=True)

    # ---- writes ------------------------------------------------------------------------
    def upsert(self, records: Iterable, namespace: str = "") -> int:
        check_namespace(namespace)
        # Checked and made float32 (cosine: unit length, so a query is one mat-vec) before any change.
        prepared = prepare_records(records, self.dimension, self.metric)
        if not prepared:
            return 0
        with self._lock:
            current = self._namespaces.get(namespace, _empty(self.dimension))
            ids = current.ids.tolist()
            metadata = list(current.metadata)
            rows = dict(current.rows)
            new_vectors = np.stack([r.vector for r in prepared])
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
        check_namespace(namespace)
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
                self._checksums.pop(namespace, None)
            else:
                self._namespaces[namespace] = _Namespace(
                    current.ids[keep].tolist(), current.matrix[keep], [current.metadata[r] for r in keep]
                )
            self._save([namespace])

    def delete_all(self, namespace: str = "") -> None:
        check_namespace(namespace)
        with self._lock:
            if self._namespaces.pop(namespace, None) is not None:
                self._checksums.pop(namespace, None)
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
            self._checksums.clear()
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
        # Validation of records happens at upsert/load; here only q's own q.q check.
        top_k = check_top_k(top_k)
        q, scale = query_vector(vector, self.dimension, self.metric)
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
        picked = (best if rows is None else rows[best]).tolist()
        top_scores = (scores[best] * scale).tolist()
        ids, metadata = ns.ids, ns.metadata
        if include_metadata:
            return QueryResponse([Match(ids[r], s, metadata[r]) for r, s in zip(picked, top_scores, strict=True)],
                                 namespace)
        return QueryResponse([Match(ids[r], s, None) for r, s in zip(picked, top_scores, strict=True)], namespace)

    def query_many(
        self, vectors, top_k: int, filter: dict | None = None, namespace: str = ""
    ) -> tuple[np.ndarray, np.ndarray]:
        ns, rows, scores = self._query_rows(vectors, top_k, filter, namespace)
        if ns is None:
            return np.full(rows.shape, "", dtype=str), scores
        ids = np.full(rows.shape, "", dtype=ns.text_ids.dtype)
        found = rows >= 0
        ids[found] = ns.text_ids[rows[found]]
        return ids, scores

    def query_many_int(
        self, vectors, top_k: int, filter: dict | None = None, namespace: str = "", parse=None
    ) -> tuple[np.ndarray, np.ndarray]:
        ns = self._namespaces.get(namespace)
        if ns is not None and len(ns) and ns.int_ids is None:
            return super().query_many_int(vectors, top_k, filter, namespace, parse)
        ns, rows, scores = self._query_rows(vectors, top_k, filter, namespace)
        if ns is None:
            return rows, scores
        return np.where(rows >= 0, ns.int_ids[np.maximum(rows, 0)], -1), scores

    def query_many_int_excluding(
        self, vectors, top_k: int, exclude: Sequence[np.ndarray], filter: dict | None = None, namespace: str = ""
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``query_many_int`` with, for each query, the records whose integer id is in that query's
        ``exclude`` left out before the top-k is taken: the exact top-k *unseen* records in one
        pass. A store that cannot exclude ids this way must over-fetch and drop them, or send a
        ``$nin`` filter (``candidates.unseen_top`` does both for Pinecone). Why here: in the
        service's online path that over-fetch (``top_k`` = 250 + the user's ratings) and its
        ``np.isin`` were a quarter of the candidate generator's CPU (benchmarks/bench_online_path.py).
        Returns None when the namespace's ids are not canonical integers (the caller over-fetches)."""
        top_k = check_top_k(top_k)
        queries = query_matrix(vectors, self.dimension, self.metric)  # cosine: unit rows
        if len(exclude) != len(queries):
            raise VectorStoreError(f"{len(queries)} query vectors but {len(exclude)} exclusion lists; give one per query")
        scores_out = np.full((len(queries), top_k), -np.inf, dtype=np.float32)
        ids_out = np.full((len(queries), top_k), -1, dtype=np.int64)
        ns = self._namespaces.get(namespace)
        if ns is None or len(ns) == 0:
            if filter is not None:
                filter_mask(filter, MetadataColumns([]))
            return ids_out, scores_out
        if ns.int_ids is None:
            return None
        allowed = np.ones(len(ns), dtype=bool) if filter is None else filter_mask(filter, ns.columns)
        for i, query in enumerate(queries):
            keep = allowed.copy()
            keep[ns.rows_of_int_ids(exclude[i])] = False
            scores = ns.matrix @ query
            scores[~keep] = -np.inf
            k = min(top_k, int(keep.sum()))
            if k == 0:
                continue
            m = scores.shape[0]
            part = np.argpartition(scores, m - k)[m - k :] if k < m else np.arange(m)
            part_scores = scores[part]
            order = np.argsort(-part_scores, kind="stable")
            ids_out[i, :k] = ns.int_ids[part[order]]
            scores_out[i, :k] = part_scores[order]
        return ids_out, scores_out

    def scores_by_int_id(self, vector, int_ids: np.ndarray, namespace: str = "") -> np.ndarray | None:
        """One query's score for every stored record, laid out in the order of ``int_ids``
        (sorted or not; ``-inf`` where an id is not stored), or None when the namespace's ids are
        not canonical integers. An exact search of everything in one mat-vec, no top-k: what a
        caller that fuses several indexes over its own catalogue needs (the candidate generator's
        online update, ``CandidateGenerator.for_user_update``). Why: its two ``top_k`` queries and
        the re-scoring of their union cost 0.35-0.5 ms more per service request than one pass
        over these scores (benchmarks/bench_online_path.py)."""
        query = query_matrix(np.asarray(vector)[None, :] if np.ndim(vector) == 1 else vector, self.dimension,
                             self.metric)
        if len(query) != 1:
            raise VectorStoreError(f"scores_by_int_id takes one query vector, got {len(query)}")
        int_ids = np.asarray(int_ids)
        if int_ids.dtype != np.int64 or int_ids.ndim != 1:
            raise VectorStoreError(f"scores_by_int_id lays scores out by a 1-d int64 id array, got "
                                   f"{int_ids.dtype} of shape {int_ids.shape}")
        ns = self._namespaces.get(namespace)
        if ns is None or len(ns) == 0:
            return np.full(int_ids.size, -np.inf, dtype=np.float32)
        if ns.int_ids is None:
            return None
        rows, missing = ns.layout(int_ids)
        scores = (ns.matrix @ query[0])[rows]
        scores[missing] = -np.inf
        return scores

    def _query_rows(self, vectors, top_k: int, filter: dict | None, namespace: str):
        """(namespace or None when empty, (n, top_k) record rows with -1 in the padding, scores)."""
        top_k = check_top_k(top_k)
        queries = query_matrix(vectors, self.dimension, self.metric)  # cosine: unit rows
        n = len(queries)
        scores_out = np.full((n, top_k), -np.inf, dtype=np.float32)
        rows_out = np.full((n, top_k), -1, dtype=np.int64)
        ns = self._namespaces.get(namespace)
        if ns is None or len(ns) == 0:
            if filter is not None:
                filter_mask(filter, MetadataColumns([]))
            return None, rows_out, scores_out
        matrix, rows = self._candidates(ns, filter)
        k = min(top_k, len(matrix))
        if k > 0 and n == 1:
            # One query (the service's case): 1-d operations, without take_along_axis's index grids.
            scores = matrix @ queries[0]
            m = scores.shape[0]
            part = np.argpartition(scores, m - k)[m - k :] if k < m else np.arange(m)
            part_scores = scores[part]
            order = np.argsort(-part_scores, kind="stable")
            best = part[order]
            rows_out[0, :k] = best if rows is None else rows[best]
            scores_out[0, :k] = part_scores[order]
        elif k > 0:
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
                rows_out[start : start + len(scores), :k] = best if rows is None else rows[best]
                scores_out[start : start + len(scores), :k] = np.take_along_axis(part_scores, order, axis=1)
        return ns, rows_out, scores_out

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


def _info_checksum(info: dict) -> str:
    """sha256 of ``store.json``'s content without its own checksum, in a canonical form."""
    body = {k: v for k, v in info.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def _check_ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        raise VectorStoreError("pass a list of ids, e.g. ['1', '2'], not a single string")
    ids = list(ids)
    for record_id in ids:
        if not isinstance(record_id, str):
            raise VectorStoreError(f"ids must be strings (use str(movie_id)), got {record_id!r}")
    return ids
