"""Disk cache of sentence embeddings keyed by model fingerprint and text hash.

Re-running a lesson embeds only texts that are new or changed. One ``.npz`` file per model
holds the sha256 digests of the texts and their vectors; it is replaced atomically, so a
crash or a parallel reader never sees half a file. Two processes writing at once can lose
each other's newest entries (last writer wins), which only costs a re-embedding later.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_with


def text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _slug(fingerprint: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", fingerprint)[:80]
    return f"{readable}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:8]}"


class EmbeddingCache:
    """``get(digests) -> (vectors, found mask)`` and ``put(digests, vectors)`` for one model."""

    def __init__(self, folder: Path, fingerprint: str, dimension: int):
        self.path = Path(folder) / f"{_slug(fingerprint)}.npz"
        self.dimension = dimension
        self._lock = threading.Lock()
        self._rows: dict[bytes, int] | None = None
        self._vectors = np.empty((0, dimension), dtype=np.float32)

    def _load(self) -> None:
        if self._rows is not None:
            return
        self._rows = {}
        if self.path.exists():
            try:
                with np.load(self.path) as stored:
                    keys, vectors = stored["keys"], stored["vectors"]
            except (OSError, ValueError, KeyError):
                # An unreadable cache is only lost time: start again rather than fail the lesson.
                return
            # Keys are stored as a (n, 32) uint8 matrix: a bytes dtype ("S32") would strip
            # digests' trailing NUL bytes and then miss them on lookup.
            if (vectors.ndim == 2 and vectors.shape[1] == self.dimension and keys.ndim == 2
                    and keys.shape == (len(vectors), 32) and keys.dtype == np.uint8):
                self._vectors = vectors.astype(np.float32, copy=False)
                self._rows = {k.tobytes(): i for i, k in enumerate(keys)}

    def __len__(self) -> int:
        with self._lock:
            self._load()
            return len(self._rows)

    def get(self, digests: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            self._load()
            rows = np.array([self._rows.get(d, -1) for d in digests], dtype=np.int64)
            found = rows >= 0
            out = np.zeros((len(digests), self.dimension), dtype=np.float32)
            out[found] = self._vectors[rows[found]]
            return out, found

    def put(self, digests: list[bytes], vectors: np.ndarray) -> None:
        if not digests:
            return
        with self._lock:
            self._load()
            # A text can appear twice in one batch: keep its first vector only, so that row i
            # of the vector matrix always belongs to key i.
            new: dict[bytes, np.ndarray] = {}
            for digest, vector in zip(digests, vectors, strict=True):
                if digest not in self._rows and digest not in new:
                    new[digest] = vector
            if not new:
                return
            start = len(self._vectors)
            self._vectors = np.vstack([self._vectors, np.stack(list(new.values())).astype(np.float32)])
            for offset, digest in enumerate(new):
                self._rows[digest] = start + offset
            ordered = sorted(self._rows.items(), key=lambda item: item[1])
            keys = np.frombuffer(b"".join(d for d, _ in ordered), dtype=np.uint8).reshape(-1, 32)
            vectors = self._vectors

            def write(tmp: Path) -> None:
                with open(tmp, "wb") as handle:
                    np.savez(handle, keys=keys, vectors=vectors)

            atomic_write_with(self.path, write)
