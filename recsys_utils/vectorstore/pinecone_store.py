"""Pinecone behind the course's store interface, with the pinned ``pinecone`` SDK (10.x).

- The API key comes only from ``PINECONE_API_KEY``; it is never logged or stored.
- ``PINECONE_CONTROLLER_HOST`` (read by the SDK itself) points the control plane elsewhere,
  e.g. at the loopback stand-in in ``tests/pinecone_standin.py``; the data-plane host is
  whatever the control plane reports for the index.
- A missing index is created as a serverless (``managed``) index; cloud and region come from
  ``PINECONE_CLOUD`` / ``PINECONE_REGION`` (default ``aws`` / ``us-east-1``). An existing index
  with another dimension or metric is refused with instructions instead of being reused.
- Records, queries and filters are checked against ``limits`` before any request, with the
  same code and messages as the local store; cosine vectors are sent at unit length (scaled in
  float64), so a vector's scale never matters on either backend.
- Upserts go out in batches under 2 MB and 1,000 records; each batch must report every
  record written. 429 and 5xx answers are retried by the SDK's own retry policy
  (``RetryConfig``: exponential backoff with jitter that honours ``Retry-After``).
- Metadata nulls (None / NaN) are dropped before sending, as the local store does.
- The content manifest used by ``ensure_movie_index`` is kept in the index's tags.

Delete the index when you are done (it costs money while it exists)::

    python -m recsys_utils.vectorstore delete-index movies
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

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
    pad_results,
    prepare_records,
    query_matrix,
    query_vector,
)
from .filters import validate_filter
from .limits import MAX_REQUEST_IDS, MAX_UPSERT_BYTES, MAX_UPSERT_RECORDS

logger = logging.getLogger(__name__)

API_KEY_ENV = "PINECONE_API_KEY"
CLOUD_ENV = "PINECONE_CLOUD"
REGION_ENV = "PINECONE_REGION"
MAX_BATCH_RECORDS = MAX_UPSERT_RECORDS
# Pinecone refuses upsert requests over 2 MB; our size estimate leaves 15 % for what the SDK adds.
MAX_BATCH_BYTES = int(0.85 * MAX_UPSERT_BYTES)
FETCH_CHUNK = min(100, MAX_REQUEST_IDS)  # ids travel in the query string; keep URLs short
MANIFEST_TAG_PREFIX = "recsys_"
DENSE_FIELD = "_values"  # the reserved schema field of a classic dense vector index


def pinecone_client(**kwargs):
    """A ``pinecone.Pinecone`` client configured from the environment."""
    api_key = os.environ.get(API_KEY_ENV, "").strip()
    if not api_key:
        raise VectorStoreError(
            f"{API_KEY_ENV} is not set; export your Pinecone API key (never put it in a notebook) "
            "or use backend='local'"
        )
    from pinecone import Pinecone, RetryConfig

    retry = RetryConfig(max_retries=5, backoff_factor=0.5, max_wait=20.0)
    return Pinecone(api_key=api_key, retry_config=retry, source_tag="recsys_course", **kwargs)


def _index_shape(description) -> tuple[int | None, str | None]:
    field = description.schema.fields.get(DENSE_FIELD)
    if field is None:
        return None, None
    return getattr(field, "dimension", None), getattr(field, "metric", None)


def _batches(records: list[Record]) -> Iterable[list[tuple[str, list[float], dict]]]:
    batch: list[tuple[str, list[float], dict]] = []
    size = 0
    for record in records:
        item = (record.id, record.vector.tolist(), record.metadata)
        # JSON size of this record, plus the keys and punctuation the SDK adds around it.
        item_bytes = len(json.dumps(item)) + 40
        if batch and (len(batch) >= MAX_BATCH_RECORDS or size + item_bytes > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_bytes
    if batch:
        yield batch


class PineconeVectorStore(VectorStore):
    backend = "pinecone"

    def __init__(
        self,
        name: str = "movies",
        dimension: int = 384,
        metric: str = "cosine",
        client=None,
        create: bool = True,
    ):
        self.name = name
        self.dimension = check_dimension(dimension)
        self.metric = check_metric(metric)
        self._pc = client or pinecone_client()
        self._description = self._ensure_index(create)
        self._index = self._pc.index(host=self._description.host)

    def _ensure_index(self, create: bool):
        from pinecone import NotFoundError

        try:
            description = self._pc.indexes.describe(self.name)
        except NotFoundError:
            if not create:
                raise VectorStoreError(f"Pinecone index {self.name!r} does not exist") from None
            cloud = os.environ.get(CLOUD_ENV, "aws")
            region = os.environ.get(REGION_ENV, "us-east-1")
            logger.info("creating Pinecone serverless index %r (%s/%s)", self.name, cloud, region)
            description = self._pc.indexes.create(
                name=self.name,
                schema={
                    "fields": {
                        DENSE_FIELD: {
                            "type": "dense_vector",
                            "dimension": self.dimension,
                            "metric": self.metric,
                        }
                    }
                },
                deployment={"deployment_type": "managed", "cloud": cloud, "region": region},
                timeout=300,
            )
        dimension, metric = _index_shape(description)
        if dimension != self.dimension or metric != self.metric:
            raise VectorStoreError(
                f"the Pinecone index {self.name!r} holds {dimension}-d {metric} vectors but this store needs "
                f"{self.dimension}-d {self.metric}. Use another index name, or delete it with "
                f"`python -m recsys_utils.vectorstore delete-index {self.name}` and run again."
            )
        return description

    # ---- writes ------------------------------------------------------------------------
    def upsert(self, records: Iterable, namespace: str = "") -> int:
        check_namespace(namespace)
        prepared = prepare_records(records, self.dimension, self.metric)
        written = 0
        for batch in _batches(prepared):
            response = self._index.upsert(vectors=batch, namespace=namespace)
            if response.upserted_count != len(batch):
                failed = len(batch) - response.upserted_count
                raise VectorStoreError(
                    f"Pinecone wrote {response.upserted_count} of {len(batch)} records in a batch "
                    f"({failed} failed, first id {batch[0][0]!r}); run the upsert again (it is idempotent)"
                )
            written += response.upserted_count
        return written

    def delete(self, ids: Sequence[str], namespace: str = "") -> None:
        ids = list(ids)
        for start in range(0, len(ids), MAX_REQUEST_IDS):
            self._index.delete(ids=ids[start : start + MAX_REQUEST_IDS], namespace=namespace)

    def delete_all(self, namespace: str = "") -> None:
        if self.count(namespace):
            self._index.delete(delete_all=True, namespace=namespace)

    def get_manifest(self) -> dict[str, str]:
        tags = self._pc.indexes.describe(self.name).tags or {}
        return {
            k[len(MANIFEST_TAG_PREFIX) :]: v
            for k, v in tags.items()
            if k.startswith(MANIFEST_TAG_PREFIX) and v
        }

    def set_manifest(self, manifest: dict[str, str]) -> None:
        # Tags merge on the server; an empty value removes a key.
        tags = {f"{MANIFEST_TAG_PREFIX}{k}": "" for k in self.get_manifest()}
        tags.update({f"{MANIFEST_TAG_PREFIX}{k}": str(v) for k, v in manifest.items()})
        if tags:
            self._pc.indexes.configure(self.name, tags=tags)

    # ---- reads -------------------------------------------------------------------------
    def query(
        self,
        vector,
        top_k: int = 10,
        filter: dict | None = None,
        include_metadata: bool = True,
        namespace: str = "",
    ) -> QueryResponse:
        top_k = check_top_k(top_k)
        check_namespace(namespace)
        validate_filter(filter)  # the same clear error as the local store, before any request
        q, _ = query_vector(vector, self.dimension, self.metric)  # Pinecone scales scores itself
        response = self._index.query(
            vector=q.tolist(),
            top_k=top_k,
            filter=filter,
            include_metadata=include_metadata,
            namespace=namespace,
        )
        return QueryResponse([
            Match(m.id, float(m.score), dict(m.metadata or {}) if include_metadata else None)
            for m in response.matches
        ], namespace)

    def query_many(
        self, vectors, top_k: int, filter: dict | None = None, namespace: str = ""
    ) -> tuple[np.ndarray, np.ndarray]:
        top_k = check_top_k(top_k)
        validate_filter(filter)
        queries = query_matrix(vectors, self.dimension, self.metric)
        ids, scores = [], []
        for q in queries:  # the vectors API takes one query vector per request
            matches = self.query(q, top_k=top_k, filter=filter, include_metadata=False, namespace=namespace)
            ids.append([m.id for m in matches])
            scores.append([m.score for m in matches])
        return pad_results(ids, scores, top_k)

    def fetch(self, ids: Sequence[str], namespace: str = "") -> dict[str, Record]:
        ids = list(ids)
        out: dict[str, Record] = {}
        for start in range(0, len(ids), FETCH_CHUNK):
            response = self._index.fetch(ids=ids[start : start + FETCH_CHUNK], namespace=namespace)
            for record_id, vector in response.vectors.items():
                out[record_id] = Record(
                    record_id, np.asarray(vector.values, dtype=np.float32), dict(vector.metadata or {})
                )
        return out

    def stats(self) -> dict[str, Any]:
        response = self._index.describe_index_stats()
        counts = {
            ns: int(summary.vector_count)
            for ns, summary in response.namespaces.items()
            if summary.vector_count
        }
        return {
            "backend": self.backend,
            "name": self.name,
            "dimension": response.dimension or self.dimension,
            "metric": self.metric,
            "total_vector_count": int(response.total_vector_count),
            "namespaces": counts,
        }


def delete_index(name: str, client=None) -> bool:
    """Delete the Pinecone index ``name``; False when it did not exist."""
    from pinecone import NotFoundError

    pc = client or pinecone_client()
    try:
        pc.indexes.delete(name, timeout=120)
    except NotFoundError:
        return False
    return True
