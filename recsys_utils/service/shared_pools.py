"""The candidate table's shared tier: ranked pools every worker can read.

Each worker keeps its own table (``pool_table``), so without this tier a user's first request at
each worker after an event computes the pool there (2-6 ms) even when another worker has just
computed the same pool. The shared tier stores each known user's latest pool beside the state
store, where every worker sees it:

* ``SQLitePools`` (with the SQLite state store): a cache file beside the feedback DB
  (``feedback.pools.sqlite3``), WAL mode, ``synchronous=OFF``: it is a cache, so it needs no
  fsync; a damaged file is found at start-up (integrity check) and rebuilt empty, a damaged
  entry by its checksum.
* ``RedisPools`` (with the Redis state store): one hash per user under the store's namespace.

A pool is only reused by a worker that would compute the same one. Its key is the user, their
state version (``learning.UserStates``: every worker replays the same log, so they agree on it)
and a *fingerprint* of everything else the pool depends on (``pool_fingerprint``): the artefact
files byte for byte, the package's code, and the settings the pipeline reads. Each entry is
encoded with its fingerprint, version and a sha256 checksum (``encode_pool``); any mismatch is a
miss, so a damaged, stale or foreign entry costs a computation, never a wrong answer.

The tier is best effort by design: a busy or unreachable store makes a read a miss and a write
a no-op within ``timeout_s``, and the request computes as it would without it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import sqlite3
import struct
import threading
from pathlib import Path

import numpy as np

from ..fileio import tree_digest

logger = logging.getLogger(__name__)

_MAGIC = b"RPOOL1"
_HEADER = struct.Struct("<6s32sqII")  # magic, fingerprint (sha256), state version, pool size, design width
_CHECKSUM_BYTES = 32  # sha256: the fastest strong hash here (hardware), 11 us for a pool
# The pool's arrays in the dtypes the pipeline computes them in (``pipeline.Recommender._scored``),
# so a decoded pool is the computed one bit for bit.
_DTYPES = (np.dtype("<i8"), np.dtype("<f4"), np.dtype("<f8"), np.dtype("<f8"))


def encode_pool(pool: tuple, fingerprint: str, version: int) -> bytes:
    """One pool ``(rows, retrieval scores, base scores, design rows)`` as checksummed bytes."""
    n, width = np.shape(pool[3])  # the design rows: (pool size, features)
    body = _HEADER.pack(_MAGIC, bytes.fromhex(fingerprint), int(version), int(n), int(width)) + b"".join(
        np.ascontiguousarray(array, dtype=dtype).tobytes() for array, dtype in zip(pool, _DTYPES, strict=True))
    return body + hashlib.sha256(body).digest()


def decode_pool(data: bytes, fingerprint: str, version: int) -> tuple | None:
    """The pool in ``data`` when it is intact and was computed for ``fingerprint`` at ``version``;
    else None (logged when the bytes are damaged). Its arrays are read-only views of ``data``."""
    data = bytes(data)
    body, checksum = data[:-_CHECKSUM_BYTES], data[-_CHECKSUM_BYTES:]
    if len(body) < _HEADER.size or hashlib.sha256(body).digest() != checksum:
        logger.warning("a shared candidate pool failed its checksum (%d bytes): ignored, the pool is recomputed",
                       len(data))
        return None
    magic, found_fingerprint, found_version, n, width = _HEADER.unpack_from(body)
    if magic != _MAGIC or found_fingerprint != bytes.fromhex(fingerprint) or found_version != version:
        return None
    sizes = (n, n, n, n * width)
    if len(body) != _HEADER.size + sum(s * d.itemsize for s, d in zip(sizes, _DTYPES, strict=True)):
        return None
    arrays, offset = [], _HEADER.size
    for size, dtype in zip(sizes, _DTYPES, strict=True):
        arrays.append(np.frombuffer(body, dtype=dtype, count=size, offset=offset))
        offset += size * dtype.itemsize
    arrays[3] = arrays[3].reshape(n, width)
    return tuple(arrays)


def pool_fingerprint(artifacts_fingerprint: str, **settings) -> str:
    """sha256 of what a pool depends on besides the user's state: the artefacts' fingerprint
    (``ServiceArtifacts.fingerprint``), the package's code, and ``settings`` (pool size, the
    session window, whether feedback updates the liked set, ...)."""
    digest = hashlib.sha256(artifacts_fingerprint.encode())
    digest.update(repr(sorted(settings.items())).encode())
    digest.update(_code_digest().encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """sha256 of the package's files: code that changed may compute other pools."""
    return tree_digest([Path(__file__).resolve().parent.parent], skip=("__pycache__",))


class SharedPools:
    """The interface: ``get`` a pool (or None) and ``put`` one, both best effort."""

    description = "shared candidate pools"

    def get(self, user_id: int, version: int) -> tuple | None:
        raise NotImplementedError

    def put(self, user_id: int, version: int, pool: tuple) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SQLitePools(SharedPools):
    """One row per user (their latest pool), in a cache file that may be deleted at any time."""

    _SCHEMA = ("CREATE TABLE IF NOT EXISTS pools (user_id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, "
               "version INTEGER NOT NULL, body BLOB NOT NULL)")

    def __init__(self, path: str | Path, fingerprint: str, timeout_s: float = 0.05):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.timeout_s = float(timeout_s)
        self.description = f"SQLite {self.path.name}"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self._prepare()
        except sqlite3.DatabaseError as error:
            # A cache: rebuilding it loses nothing but the time to recompute its pools.
            logger.warning("the shared candidate pools %s are unreadable (%s): rebuilt empty", self.path, error)
            self.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._prepare()

    def _prepare(self) -> None:
        conn = self._conn()
        if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
            raise sqlite3.DatabaseError("WAL mode refused")
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check says {verdict!r}")
        conn.execute(self._SCHEMA)
        # Entries of other artefacts or code can never be read again: drop them.
        conn.execute("DELETE FROM pools WHERE fingerprint != ?", (self.fingerprint,))

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={max(int(self.timeout_s * 1000), 1)}")
            conn.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is recomputed
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def get(self, user_id: int, version: int) -> tuple | None:
        try:
            found = self._conn().execute("SELECT body FROM pools WHERE user_id = ? AND fingerprint = ? "
                                         "AND version = ?", (int(user_id), self.fingerprint, int(version))).fetchone()
        except sqlite3.OperationalError:  # locked or busy past the timeout: compute instead
            return None
        return None if found is None else decode_pool(found[0], self.fingerprint, version)

    def put(self, user_id: int, version: int, pool: tuple) -> None:
        # Busy past the timeout: skipped; the next worker to need this pool computes it. A worker
        # that has not yet applied the user's latest event never replaces a newer pool.
        with contextlib.suppress(sqlite3.OperationalError):
            self._conn().execute(
                "INSERT INTO pools (user_id, fingerprint, version, body) VALUES (?, ?, ?, ?) ON CONFLICT(user_id) "
                "DO UPDATE SET fingerprint = excluded.fingerprint, version = excluded.version, body = excluded.body "
                "WHERE excluded.version > pools.version OR excluded.fingerprint != pools.fingerprint",
                (int(user_id), self.fingerprint, int(version), encode_pool(pool, self.fingerprint, version)))

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


# KEYS: the user's hash; ARGV: fingerprint, version, body, ttl s. Never replaces a newer version.
_PUT = """
local held = redis.call('HMGET', KEYS[1], 'fingerprint', 'version')
if held[1] == ARGV[1] and held[2] and tonumber(held[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'version', ARGV[2], 'body', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


class RedisPools(SharedPools):
    """One hash per user, ``<namespace>:pool:<user_id>``, expiring ``ttl_s`` after its last write
    (so users who stopped coming do not hold memory forever)."""

    def __init__(self, url: str, fingerprint: str, namespace: str = "recsys", timeout_s: float = 0.05,
                 ttl_s: int = 86_400):
        import redis

        self._errors = (redis.TimeoutError, redis.ConnectionError)
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=max(timeout_s, 1.0))
        self.fingerprint = fingerprint
        self.namespace = namespace
        self.ttl_s = int(ttl_s)
        self.description = f"Redis {url.split('@')[-1]}"  # never the password part of the URL
        self._put = self.client.register_script(_PUT)

    def _key(self, user_id: int) -> str:
        return f"{self.namespace}:pool:{int(user_id)}"

    def get(self, user_id: int, version: int) -> tuple | None:
        try:
            body = self.client.hget(self._key(user_id), "body")
        except self._errors:
            return None
        return None if body is None else decode_pool(body, self.fingerprint, version)

    def put(self, user_id: int, version: int, pool: tuple) -> None:
        with contextlib.suppress(*self._errors):
            self._put(keys=[self._key(user_id)], args=[self.fingerprint, int(version),
                                                       encode_pool(pool, self.fingerprint, version), self.ttl_s])

    def close(self) -> None:
        self.client.close()


def pools_path(feedback_db: Path) -> Path:
    return feedback_db.with_name(f"{feedback_db.stem}.pools.sqlite3")


def open_shared_pools(store, fingerprint: str) -> SharedPools | None:
    """The shared tier beside the state store ``store``: Redis beside Redis (same namespace), a
    cache file beside the SQLite feedback DB; None for any other store."""
    from .feedback_store import RedisStateStore, SQLiteStateStore

    if isinstance(store, RedisStateStore):
        return RedisPools(store.url, fingerprint, namespace=store.ns)
    if isinstance(store, SQLiteStateStore):
        return SQLitePools(pools_path(store.path), fingerprint)
    return None
