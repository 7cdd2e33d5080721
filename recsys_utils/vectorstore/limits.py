"""Every limit the vector stores enforce, written once. Both backends check against these values
before anything is stored or sent, so code that works on the local store works on Pinecone.

Pinecone's documented limits (Database limits: operation and identifier limits); the pinned
SDK checks several of them itself, and tests/test_vectorstore_contract.py compares:

=========================  ===============================================================
``MAX_DIMENSION``          dense vectors have at most 20,000 dimensions
``MAX_ID_LENGTH``          a record id has at most 512 ASCII characters (no NUL)
``MAX_NAMESPACE_LENGTH``   a namespace name likewise ('' is the default namespace)
``MAX_METADATA_BYTES``     40 KB of metadata per record, measured here as compact UTF-8 JSON
``MAX_TOP_K``              a query returns at most 10,000 matches
``MAX_UPSERT_RECORDS``     one upsert request carries at most 1,000 records ...
``MAX_UPSERT_BYTES``       ... and at most 2 MB (the Pinecone backend batches below both)
``MAX_REQUEST_IDS``        fetch and delete take at most 1,000 ids per request
=========================  ===============================================================

Metadata numbers are stored by Pinecone as 64-bit floats, so integers are accepted only within
``±MAX_SAFE_INTEGER`` (2**53), where a float64 holds them exactly; larger ones go in as strings.

The course's own choices (Pinecone states none):

- ``MAX_FILTER_DEPTH``: ``$and`` / ``$or`` nest at most 32 levels. Real filters need two or
  three; the limit stops a generated or hostile filter long before Python's recursion limit.
- Vector values are read as float32, as Pinecone stores them: a value must be finite and
  within ``±FLOAT32_MAX``, else the record (or query) is refused; a value too small for float32
  (below ~7e-46) is 0. Nonzero values smaller than ``FLOAT32_TINY`` (float32's smallest normal
  number, 1.2e-38) would be stored as float32 *subnormals*, which make every matrix product over
  the store ~40x slower on x86 (benchmarks/bench_vectorstore.py ``--subnormals``): they are
  stored as 0. For the cosine metric this happens after the float32 vector is scaled to unit
  length in float64, so a vector's scale never matters (1e-45 or 3e38 in every position keep
  their direction) and only components below 1.2e-38 of the vector's length vanish. A vector
  left with no nonzero value is refused (it has no direction; Pinecone refuses all-zero dense
  vectors too). Queries follow the same rules, checked with one ``q . q`` per query.
- ``MAX_DOTPRODUCT_NORM``: under the dotproduct metric a stored or query vector may be at most
  sqrt(FLOAT32_MAX) ~ 1.8e19 long, so every score |q.v| <= |q||v| stays a finite float32.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

# ---- Pinecone's limits -----------------------------------------------------------------
MAX_DIMENSION = 20_000
MAX_ID_LENGTH = 512
MAX_NAMESPACE_LENGTH = 512
MAX_METADATA_BYTES = 40 * 1024
MAX_TOP_K = 10_000
MAX_UPSERT_RECORDS = 1_000
MAX_UPSERT_BYTES = 2 * 1024 * 1024
MAX_REQUEST_IDS = 1_000
MAX_SAFE_INTEGER = 2**53

# ---- the course's choices ----------------------------------------------------------------
MAX_FILTER_DEPTH = 32
FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
MAX_DOTPRODUCT_NORM = math.sqrt(FLOAT32_MAX)


def metadata_bytes(metadata: dict[str, Any]) -> int:
    """The size that ``MAX_METADATA_BYTES`` bounds: compact JSON, UTF-8 encoded."""
    return len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8"))
