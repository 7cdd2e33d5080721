"""A loopback stand-in for Pinecone's REST API (version 2026-07, the one pinecone==10.2.0 speaks).

Tests drive it with the real SDK, so the SDK's own requests are exercised: control plane
(``POST/GET /indexes``, ``GET/PATCH/DELETE /indexes/{name}``) on one port, and a data plane
(``/vectors/upsert``, ``/query``, ``/vectors/fetch``, ``/vectors/delete``,
``/describe_index_stats``) on a port of its own per index, whose address the control plane
reports as the index ``host``. It checks the ``Api-Key`` and ``X-Pinecone-Api-Version``
headers, enforces Pinecone's limits as ``recsys_utils.vectorstore.limits`` states them (1,000
records and 2 MB per upsert, 20,000 dimensions, 512-character ids, 40 KB of metadata, top_k
10,000, finite float32 values, metadata types, filter syntax and depth) and evaluates filters with the independent reference evaluator in
``tests/filter_reference.py``. Binds to 127.0.0.1 only.

Run it by hand to point a lesson at it::

    .venv/bin/python tests/pinecone_standin.py --port 8765
    PINECONE_API_KEY=standin-key PINECONE_CONTROLLER_HOST=http://127.0.0.1:8765 \
        .venv/bin/python -m recsys_utils.course run --only 02
"""

from __future__ import annotations

import json
import math
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from filter_reference import matches as filter_matches  # noqa: E402

from recsys_utils.vectorstore import limits  # noqa: E402

API_VERSION = "2026-07"
MAX_UPSERT_RECORDS = limits.MAX_UPSERT_RECORDS
MAX_REQUEST_BYTES = limits.MAX_UPSERT_BYTES
INDEX_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Index:
    def __init__(self, name: str, dimension: int, metric: str, deployment: dict, tags: dict | None):
        self.name, self.dimension, self.metric = name, dimension, metric
        self.deployment = deployment
        self.tags = dict(tags) if tags else None
        self.namespaces: dict[str, dict[str, dict]] = {}
        self.matrices: dict[
            str, tuple[list[dict], np.ndarray, np.ndarray]
        ] = {}  # query cache, dropped on writes
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def model(self) -> dict:
        return {
            "name": self.name,
            "host": self.host,
            "status": {"ready": True, "state": "Ready"},
            "schema": {
                "fields": {
                    "_values": {"type": "dense_vector", "dimension": self.dimension, "metric": self.metric}
                }
            },
            "deployment": self.deployment,
            "deletion_protection": "disabled",
            "read_capacity": {"mode": "OnDemand", "status": {"state": "Ready"}},
            "tags": self.tags,
        }


class PineconeStandIn:
    """``with PineconeStandIn() as standin: ...`` then point the SDK at ``standin.url``."""

    def __init__(self, api_key: str = "standin-key", port: int = 0):
        self.api_key = api_key
        self.port = port
        self.indexes: dict[str, _Index] = {}
        self.requests: list[dict] = []  # method, path, body size, headers of interest
        self._failures: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._control: ThreadingHTTPServer | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> PineconeStandIn:
        self._control = self._serve(self.port, None)
        return self

    def stop(self) -> None:
        for index in list(self.indexes.values()):
            self._stop_server(index.server)
        self._stop_server(self._control)

    def __enter__(self) -> PineconeStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._control.server_address[1]}"

    def fail_next(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these HTTP statuses (e.g. 429, 503)."""
        with self._lock:
            self._failures.setdefault(path, []).extend(statuses)

    def _serve(self, port: int, index: _Index | None) -> ThreadingHTTPServer:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def setup(self):
                super().setup()
                # Headers and body go out in two writes; without this, Nagle's algorithm and
                # delayed ACKs add ~40 ms to every request on loopback.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload = standin._dispatch(method, self.path, self.headers, raw, index)
                body = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

            def do_PATCH(self):  # noqa: N802
                self._handle("PATCH")

            def do_DELETE(self):  # noqa: N802
                self._handle("DELETE")

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    @staticmethod
    def _stop_server(server: ThreadingHTTPServer | None) -> None:
        if server is not None:
            server.shutdown()
            server.server_close()

    # ---- dispatch ----------------------------------------------------------------------
    def _dispatch(self, method: str, raw_path: str, headers, raw: bytes, index: _Index | None):
        url = urlparse(raw_path)
        path = url.path
        self.requests.append(
            {
                "method": method,
                "path": path,
                "bytes": len(raw),
                "api_version": headers.get("X-Pinecone-Api-Version"),
                "data_plane": index is not None,
            }
        )
        try:
            with self._lock:
                queued = self._failures.get(path)
                if queued:
                    status = queued.pop(0)
                    raise ApiError(status, "INJECTED", f"injected failure {status} for {path}")
            if headers.get("Api-Key") != self.api_key:
                raise ApiError(401, "UNAUTHENTICATED", "Invalid API Key")
            if headers.get("X-Pinecone-Api-Version") != API_VERSION:
                raise ApiError(
                    400,
                    "INVALID_ARGUMENT",
                    f"unsupported API version {headers.get('X-Pinecone-Api-Version')!r}",
                )
            if len(raw) > MAX_REQUEST_BYTES:
                raise ApiError(
                    413, "REQUEST_TOO_LARGE", f"request of {len(raw)} bytes exceeds the 2 MB limit"
                )
            body = json.loads(raw) if raw else {}
            if index is None:
                return self._control_plane(method, path, body)
            return self._data_plane(index, method, path, body, parse_qs(url.query))
        except ApiError as error:
            return error.status, {
                "error": {"code": error.code, "message": error.message},
                "status": error.status,
            }
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            return 400, {
                "error": {"code": "INVALID_ARGUMENT", "message": f"bad request: {error}"},
                "status": 400,
            }

    def _control_plane(self, method: str, path: str, body: dict):
        if path == "/indexes" and method == "GET":
            return 200, {"indexes": [i.model() for i in self.indexes.values()]}
        if path == "/indexes" and method == "POST":
            return 201, self._create(body)
        match = re.fullmatch(r"/indexes/([^/]+)", path)
        if not match:
            raise ApiError(404, "NOT_FOUND", f"no route {method} {path}")
        name = unquote(match.group(1))
        index = self.indexes.get(name)
        if index is None:
            raise ApiError(404, "NOT_FOUND", f"Resource {name} not found")
        if method == "GET":
            return 200, index.model()
        if method == "PATCH":
            tags = body.get("tags")
            if tags:
                merged = dict(index.tags or {})
                for key, value in tags.items():
                    if value == "":
                        merged.pop(key, None)
                    else:
                        merged[key] = value
                index.tags = merged or None
            return 200, index.model()
        if method == "DELETE":
            del self.indexes[name]
            self._stop_server(index.server)
            return 202, None
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"{method} {path}")

    def _create(self, body: dict) -> dict:
        name = body.get("name", "")
        if not INDEX_NAME.match(name):
            raise ApiError(400, "INVALID_ARGUMENT", f"invalid index name {name!r}")
        if name in self.indexes:
            raise ApiError(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        fields = body["schema"]["fields"]
        if set(fields) != {"_values"} or fields["_values"].get("type") != "dense_vector":
            raise ApiError(
                400,
                "INVALID_ARGUMENT",
                "the stand-in only serves classic dense indexes (schema field _values)",
            )
        spec = fields["_values"]
        dimension, metric = int(spec["dimension"]), spec.get("metric", "cosine")
        if not 1 <= dimension <= limits.MAX_DIMENSION or metric not in ("cosine", "dotproduct", "euclidean"):
            raise ApiError(400, "INVALID_ARGUMENT", f"bad dimension {dimension} or metric {metric}")
        deployment = body.get("deployment") or {}
        if (
            deployment.get("deployment_type") != "managed"
            or not deployment.get("cloud")
            or not deployment.get("region")
        ):
            raise ApiError(
                400,
                "INVALID_ARGUMENT",
                f"serverless indexes need deployment type, cloud and region: {deployment}",
            )
        index = _Index(name, dimension, metric, deployment, body.get("tags"))
        index.server = self._serve(0, index)
        self.indexes[name] = index
        return index.model()

    # ---- data plane --------------------------------------------------------------------
    def _data_plane(self, index: _Index, method: str, path: str, body: dict, query: dict):
        with index.lock:
            if method == "POST" and path in ("/vectors/upsert", "/vectors/delete"):
                index.matrices.clear()
            if path == "/vectors/upsert" and method == "POST":
                return 200, {"upsertedCount": self._upsert(index, body)}
            if path == "/query" and method == "POST":
                return 200, self._query(index, body)
            if path == "/vectors/fetch" and method == "GET":
                namespace = query.get("namespace", [""])[0]
                _check_id_count(query.get("ids", []))
                stored = index.namespaces.get(namespace, {})
                found = {i: _vector_json(stored[i]) for i in query.get("ids", []) if i in stored}
                return 200, {"vectors": found, "namespace": namespace, "usage": {"readUnits": 1}}
            if path == "/vectors/delete" and method == "POST":
                namespace = body.get("namespace", "")
                stored = index.namespaces.get(namespace, {})
                _check_id_count(body.get("ids", []))
                if body.get("deleteAll"):
                    stored.clear()
                for record_id in body.get("ids", []):
                    stored.pop(record_id, None)
                if "filter" in body:
                    for record_id in [
                        i for i, r in stored.items() if filter_matches(r["metadata"], body["filter"])
                    ]:
                        del stored[record_id]
                return 200, {}
            if path == "/describe_index_stats" and method == "POST":
                counts = {ns: {"vectorCount": len(v)} for ns, v in index.namespaces.items() if v}
                return 200, {
                    "namespaces": counts,
                    "dimension": index.dimension,
                    "indexFullness": 0.0,
                    "totalVectorCount": sum(c["vectorCount"] for c in counts.values()),
                    "metric": index.metric,
                    "vectorType": "dense",
                }
        raise ApiError(404, "NOT_FOUND", f"no route {method} {path}")

    @staticmethod
    def _upsert(index: _Index, body: dict) -> int:
        vectors = body["vectors"]
        if len(vectors) > MAX_UPSERT_RECORDS:
            raise ApiError(
                400,
                "INVALID_ARGUMENT",
                f"upsert of {len(vectors)} records exceeds the limit of {MAX_UPSERT_RECORDS}",
            )
        clean = []
        for vector in vectors:
            record_id = str(vector["id"])
            if not 1 <= len(record_id) <= limits.MAX_ID_LENGTH:
                raise ApiError(
                    400, "INVALID_ARGUMENT", f"Vector ID must be 1 to {limits.MAX_ID_LENGTH} characters long"
                )
            values = [float(x) for x in vector["values"]]
            if not all(math.isfinite(x) and abs(x) <= limits.FLOAT32_MAX for x in values):
                raise ApiError(400, "INVALID_ARGUMENT", f"Vector {record_id!r} holds values that are not finite float32")
            if len(values) != index.dimension:
                raise ApiError(
                    400,
                    "INVALID_ARGUMENT",
                    f"Vector dimension {len(values)} does not match the dimension of the index {index.dimension}",
                )
            if index.metric == "cosine" and not any(values):
                raise ApiError(
                    400, "INVALID_ARGUMENT", "Dense vectors must contain at least one non-zero value"
                )
            metadata = {}
            for key, value in (vector.get("metadata") or {}).items():
                if value is None:
                    continue  # the service strips nulls on write
                if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                    raise ApiError(400, "INVALID_ARGUMENT", f"metadata list {key!r} must hold strings")
                if isinstance(value, dict):
                    raise ApiError(400, "INVALID_ARGUMENT", f"metadata {key!r} must not be an object")
                if isinstance(value, float) and not math.isfinite(value):
                    raise ApiError(400, "INVALID_ARGUMENT", f"metadata {key!r} must be a finite number")
                metadata[key] = value
            size = limits.metadata_bytes(metadata)
            if size > limits.MAX_METADATA_BYTES:
                raise ApiError(
                    400,
                    "INVALID_ARGUMENT",
                    f"Metadata size is {size} bytes, which exceeds the limit of {limits.MAX_METADATA_BYTES} bytes per vector",
                )
            clean.append({"id": record_id, "values": values, "metadata": metadata})
        stored = index.namespaces.setdefault(body.get("namespace", ""), {})
        for record in clean:
            stored[record["id"]] = record
        return len(clean)

    @staticmethod
    def _query(index: _Index, body: dict) -> dict:
        namespace = body.get("namespace", "")
        top_k = int(body["topK"])
        if not 1 <= top_k <= limits.MAX_TOP_K:
            raise ApiError(400, "INVALID_ARGUMENT", f"topK {top_k} out of range")
        vector = [float(x) for x in body["vector"]]
        if not all(math.isfinite(x) for x in vector):
            raise ApiError(400, "INVALID_ARGUMENT", "Query vector holds values that are not finite")
        if len(vector) != index.dimension:
            raise ApiError(
                400,
                "INVALID_ARGUMENT",
                f"Query vector dimension {len(vector)} does not match {index.dimension}",
            )
        flt = body.get("filter")
        if flt is not None:
            from recsys_utils.vectorstore.filters import FilterError, validate_filter

            try:
                validate_filter(flt)
            except FilterError as error:
                raise ApiError(400, "INVALID_ARGUMENT", f"Invalid filter: {error}") from None
        if namespace not in index.matrices:
            records = list(index.namespaces.get(namespace, {}).values())
            matrix = np.array([r["values"] for r in records], dtype=np.float64).reshape(
                len(records), index.dimension
            )
            norms = np.linalg.norm(matrix, axis=1)
            index.matrices[namespace] = (records, matrix, np.where(norms == 0, 1.0, norms))
        records, matrix, norms = index.matrices[namespace]
        query_vector = np.asarray(vector, dtype=np.float64)
        scores = matrix @ query_vector
        if index.metric == "cosine":
            scores = scores / (norms * (np.linalg.norm(query_vector) or 1.0))
        if flt is None:
            admitted = np.arange(len(records))
        else:
            admitted = np.array(
                [i for i, r in enumerate(records) if filter_matches(r["metadata"], flt)], dtype=np.int64
            )
        ranked = admitted[np.argsort(-scores[admitted], kind="stable")] if len(admitted) else admitted
        matches = []
        for i in ranked[:top_k].tolist():
            record = records[i]
            match = {
                "id": record["id"],
                "score": float(scores[i]),
                "values": record["values"] if body.get("includeValues") else [],
            }
            if body.get("includeMetadata"):
                match["metadata"] = record["metadata"]
            matches.append(match)
        return {"matches": matches, "namespace": namespace, "usage": {"readUnits": 5}}


def _check_id_count(ids: list) -> None:
    if len(ids) > limits.MAX_REQUEST_IDS:
        raise ApiError(
            400, "INVALID_ARGUMENT", f"{len(ids)} ids in one request; the limit is {limits.MAX_REQUEST_IDS}"
        )


def _vector_json(record: dict) -> dict:
    return {"id": record["id"], "values": record["values"], "metadata": record["metadata"]}


def main() -> None:
    import argparse
    import os
    import time

    parser = argparse.ArgumentParser(description="loopback Pinecone stand-in")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=os.environ.get("PINECONE_API_KEY", "standin-key"))
    args = parser.parse_args()
    standin = PineconeStandIn(api_key=args.api_key, port=args.port).start()
    print(f"Pinecone stand-in listening: export PINECONE_CONTROLLER_HOST={standin.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        standin.stop()


if __name__ == "__main__":
    main()
