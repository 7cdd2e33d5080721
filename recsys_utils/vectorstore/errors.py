"""The vector stores' error types; every one is a ``VectorStoreError``.

- ``FilterError``: a metadata filter is not valid (also a ``ValueError``).
- ``MetadataError``: a record's metadata cannot be stored (also ``TypeError`` / ``ValueError``,
  the types callers caught before it existed).
- ``ZeroQueryError``: a query vector is all zeros, so it has no direction to compare.
- ``CorruptIndexError``: a local store's files on disk are damaged; ``discard()`` removes them
  so the code that built the index can build it again.
"""

from __future__ import annotations

from pathlib import Path


class VectorStoreError(RuntimeError):
    """A store cannot do what was asked (wrong dimension, metric mismatch, bad record, a limit)."""


class FilterError(VectorStoreError, ValueError):
    """The metadata filter is not valid Pinecone filter syntax, or exceeds a limit."""


class MetadataError(VectorStoreError, TypeError, ValueError):
    """A record's metadata cannot be stored by both backends (type, size or number range)."""


class ZeroQueryError(VectorStoreError):
    """A query vector (or a row of a query batch) is all zeros: it has no direction to compare."""


class CorruptIndexError(VectorStoreError):
    """A local store's files do not match what was written: missing, truncated, edited or inconsistent.

    ``str(error)`` says which file and what to do; ``error.folder`` and ``error.file`` name them.
    """

    def __init__(self, name: str, folder: Path, file: str, problem: str):
        self.name, self.folder, self.file, self.problem = name, Path(folder), file, problem
        super().__init__(
            f"the vector store {name!r} at {folder} is damaged: {file} {problem}. "
            f"Build the index again (delete the folder {folder} first, or call discard() on this error)"
        )

    def discard(self) -> None:
        """Delete the damaged store's files (``store.json``, ``ns-*.npz`` and leftovers) so it can be rebuilt."""
        if not self.folder.is_dir():
            return
        for pattern in ("store.json", "ns-*.npz", ".store.json.*.tmp", ".ns-*.npz.*.tmp"):
            for path in self.folder.glob(pattern):
                path.unlink(missing_ok=True)

    def __reduce__(self):  # keep the four arguments when pickled (e.g. across processes)
        return type(self), (self.name, self.folder, self.file, self.problem)
