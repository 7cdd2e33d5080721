"""Lesson 02's "by hand" Pinecone cells: the raw SDK calls, or the same calls on the embedded store.

``by_hand_client(backend)`` returns ``pinecone.Pinecone(api_key=...)`` when the backend resolves to
Pinecone (``PINECONE_API_KEY`` set), and otherwise an ``EmbeddedPinecone``: a simulated client that
accepts exactly the calls the lesson makes (``has_index``, ``create_index(name, dimension, metric,
spec)``, ``Index(name)``, ``index.upsert(vectors=[(id, values, metadata), ...])``,
``index.query(vector=..., top_k=..., include_metadata=True)``, ``delete_index``) and answers them
with the course's ``LocalVectorStore`` kept in memory. Its query answer is the store's
Pinecone-shaped ``QueryResponse`` (``.matches`` / ``["matches"]``).
"""

from __future__ import annotations

import os

from ..vectorstore import LocalVectorStore, resolve_backend


class EmbeddedIndex:
    """``pc.Index(name)`` of the simulated client."""

    def __init__(self, store: LocalVectorStore):
        self._store = store

    def upsert(self, vectors, namespace: str = "") -> dict[str, int]:
        return {"upserted_count": self._store.upsert(vectors, namespace=namespace)}

    def query(self, vector, top_k: int = 10, include_metadata: bool = False, filter: dict | None = None,
              namespace: str = ""):
        return self._store.query(vector, top_k=top_k, filter=filter, include_metadata=include_metadata,
                                 namespace=namespace)

    def describe_index_stats(self) -> dict:
        stats = self._store.stats()
        return {"dimension": stats["dimension"], "total_vector_count": stats["total_vector_count"]}


class EmbeddedPinecone:
    """The subset of ``pinecone.Pinecone`` that lesson 02 calls, on in-memory local stores."""

    def __init__(self, api_key: str | None = None):
        self._stores: dict[str, LocalVectorStore] = {}

    def has_index(self, name: str) -> bool:
        return name in self._stores

    def create_index(self, name: str, dimension: int, metric: str = "cosine", spec=None, **_):
        if name in self._stores:
            raise ValueError(f"an index named {name!r} already exists; check has_index(name) first")
        self._stores[name] = LocalVectorStore(name=name, dimension=dimension, metric=metric, path=None)

    def Index(self, name: str) -> EmbeddedIndex:  # noqa: N802 - Pinecone's own method name
        if name not in self._stores:
            raise KeyError(f"no index named {name!r}; create_index(...) it first")
        return EmbeddedIndex(self._stores[name])

    def delete_index(self, name: str) -> None:
        self._stores.pop(name, None)


def by_hand_client(backend: str = "auto"):
    """``(client, label)``: the real Pinecone client when a key is set, else the embedded stand-in."""
    if resolve_backend(backend) == "pinecone":
        from pinecone import Pinecone

        return Pinecone(api_key=os.environ["PINECONE_API_KEY"]), "Pinecone"
    return EmbeddedPinecone(), "the embedded store (no PINECONE_API_KEY)"
