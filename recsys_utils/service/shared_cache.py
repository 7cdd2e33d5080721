"""What one worker computed, for every worker: the shared tier of the candidate table and of the
explanation memo.

Each worker keeps its own candidate table (``pool_table``) and explanation memo
(``pipeline.ExplanationCache``). Without this tier, a user's first request at each worker after
an event computes the pool there (2-6 ms) and explains the list again (about 0.5 ms a movie),
even when another worker has just done both. This tier keeps each known user's latest pool and
the offline explanations made for them beside the state store, where every worker sees them:

* ``SQLiteSharedCache`` (with the SQLite state store): a cache file beside the feedback DB
  (``feedback.cache.sqlite3``), WAL mode, ``synchronous=OFF``: it is a cache, so it needs no
  fsync; a damaged file is found at start-up (integrity check) and rebuilt empty, a damaged
  entry by its checksum.
* ``RedisSharedCache`` (with the Redis state store): two hashes per user under the store's
  namespace, expiring a day after their last write.

An entry is only reused by a worker that would compute the same one. Its key is the user, for a
pool their state version (``learning.UserStates``: every worker replays the same log, so they
agree on it), and a *fingerprint* of everything else it depends on (``cache_fingerprint``): the
artefact files byte for byte, the package's code, and the settings the pipeline reads. Each
entry is encoded with its fingerprint (and version) and a sha256 checksum; any mismatch is a
miss, so a damaged, stale or foreign entry costs a computation, never a wrong answer.

The tier is best effort by design: a busy or unreachable store makes a read a miss and a write
a no-op within ``timeout_s``, and the request computes as it would without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import sqlite3
import struct
from pathlib import Path

import numpy as np

from ..explain.explanation import Explanation, TokenUsage
from ..fileio import tree_digest
from .feedback_store import RedisStateStore, SQLiteStateStore, redis_description
from .sqlite_threads import ThreadConnections, immediate_transaction

logger = logging.getLogger(__name__)

_MAGIC = b"RPOOL1"
_HEADER = struct.Struct("<6s32sqII")  # magic, fingerprint (sha256), state version, pool size, design width
_CHECKSUM_BYTES = 32  # sha256: the fastest strong hash here (hardware), 11 us for a pool
# The pool's arrays in the dtypes the pipeline computes them in (``pipeline.Recommender._scored``),
# so a decoded pool is the computed one bit for bit.
_DTYPES = (np.dtype("<i8"), np.dtype("<f4"), np.dtype("<f8"), np.dtype("<f8"))


def _sealed(body: bytes) -> bytes:
    return body + hashlib.sha256(body).digest()


def _unsealed(data: bytes, what: str) -> bytes | None:
    """``data`` without its checksum, or None (logged) when the checksum does not match."""
    data = bytes(data)
    body, checksum = data[:-_CHECKSUM_BYTES], data[-_CHECKSUM_BYTES:]
    if len(data) <= _CHECKSUM_BYTES or hashlib.sha256(body).digest() != checksum:
        logger.warning("a shared %s failed its checksum (%d bytes): ignored, it is made again", what, len(data))
        return None
    return body


def encode_pool(pool: tuple, fingerprint: str, version: int) -> bytes:
    """One pool ``(rows, retrieval scores, base scores, design rows)`` as checksummed bytes."""
    n, width = np.shape(pool[3])  # the design rows: (pool size, features)
    return _sealed(_HEADER.pack(_MAGIC, bytes.fromhex(fingerprint), int(version), int(n), int(width)) + b"".join(
        np.ascontiguousarray(array, dtype=dtype).tobytes() for array, dtype in zip(pool, _DTYPES, strict=True)))


def decode_pool(data: bytes, fingerprint: str, version: int) -> tuple | None:
    """The pool in ``data`` when it is intact and was computed for ``fingerprint`` at ``version``;
    else None (logged when the bytes are damaged). Its arrays are read-only views of ``data``."""
    body = _unsealed(data, "candidate pool")
    if body is None or len(body) < _HEADER.size:
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


# Field by field, shallow, without the names: ``dataclasses.asdict`` (``Explanation.to_dict``)
# deep-copies, and cost ~45 of the ~54 us that encoding one explanation took (in process, 5,000
# calls); the names are checked once, as a digest of ``Explanation``'s fields.
_FIELDS = tuple(f.name for f in dataclasses.fields(Explanation))
_SCHEMA = hashlib.sha256("|".join(_FIELDS).encode()).hexdigest()[:16]
_USAGE, _CITED, _VIOLATIONS = (_FIELDS.index(name) for name in ("usage", "cited_facts", "draft_violations"))


def encode_explanation(explanation: Explanation, fingerprint: str) -> bytes:
    values = [getattr(explanation, name) for name in _FIELDS]
    usage = explanation.usage
    values[_USAGE] = None if usage is None else [usage.prompt_tokens, usage.completion_tokens, usage.total_tokens]
    return _sealed(json.dumps([fingerprint, _SCHEMA, values]).encode())


def decode_explanation(data: bytes, fingerprint: str) -> Explanation | None:
    """The explanation in ``data`` when it is intact and made for ``fingerprint`` (by this version
    of ``Explanation``); else None."""
    body = _unsealed(data, "explanation")
    if body is None:
        return None
    found_fingerprint, schema, values = json.loads(body)
    if found_fingerprint != fingerprint or schema != _SCHEMA:
        return None
    values[_CITED], values[_VIOLATIONS] = tuple(values[_CITED]), tuple(values[_VIOLATIONS])
    if values[_USAGE] is not None:
        values[_USAGE] = TokenUsage(*values[_USAGE])
    return Explanation(*values)


def cache_fingerprint(artifacts_fingerprint: str, **settings) -> str:
    """sha256 of what a pool or an explanation depends on besides the user's state: the
    artefacts' fingerprint (``ServiceArtifacts.fingerprint``), the package's code, and
    ``settings`` (pool size, the session window, whether feedback updates the liked set, ...)."""
    digest = hashlib.sha256(artifacts_fingerprint.encode())
    digest.update(repr(sorted(settings.items())).encode())
    digest.update(_code_digest().encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """sha256 of the package's files: code that changed may compute other pools."""
    return tree_digest([Path(__file__).resolve().parent.parent], skip=("__pycache__",))


class SharedCache:
    """The interface; every call is best effort (see the module docstring)."""

    description = "shared cache"

    def get_pool(self, user_id: int, version: int) -> tuple | None:
        raise NotImplementedError

    def put_pool(self, user_id: int, version: int, pool: tuple) -> None:
        raise NotImplementedError

    def get_explanations(self, user_id: int, rows: list[int]) -> dict[int, Explanation]:
        """The explanations kept for ``user_id`` of the movies at catalogue ``rows`` (those found)."""
        raise NotImplementedError

    def put_explanations(self, user_id: int, explanations: dict[int, Explanation]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _intact(self, stored) -> dict[int, Explanation]:
        """``(movie row, stored bytes)`` pairs decoded, without those damaged or made for other artefacts."""
        decoded = {int(row): decode_explanation(body, self.fingerprint) for row, body in stored}
        return {row: explanation for row, explanation in decoded.items() if explanation is not None}


class SQLiteSharedCache(SharedCache):
    """A cache file that may be deleted at any time: each user's latest pool (one row per user),
    and the explanations made for them, at most ``max_explanations`` rows (about 600 bytes
    each): past that, checked at start-up and every ``_CHECK_EVERY`` writes, they are all
    dropped and made again as users come back (simpler than an LRU on disk, and rare)."""

    _CHECK_EVERY = 1_000

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS pools (user_id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL,
                                      version INTEGER NOT NULL, body BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS explanations (user_id INTEGER NOT NULL, movie_row INTEGER NOT NULL,
                                             fingerprint TEXT NOT NULL, body BLOB NOT NULL,
                                             PRIMARY KEY (user_id, movie_row)) WITHOUT ROWID;
    """

    def __init__(self, path: str | Path, fingerprint: str, timeout_s: float = 0.05,
                 max_explanations: int = 200_000):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.timeout_s = float(timeout_s)
        self.max_explanations = int(max_explanations)
        self._writes = 0
        self.description = f"SQLite {self.path.name}"
        self._connections = ThreadConnections(self._connect)
        try:
            self._prepare()
        except sqlite3.DatabaseError as error:
            # A cache: rebuilding it loses nothing but the time to compute its entries again.
            logger.warning("the shared cache %s is unreadable (%s): rebuilt empty", self.path, error)
            self.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._prepare()

    def _prepare(self) -> None:
        conn = self._connections.get()
        if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
            raise sqlite3.DatabaseError("WAL mode refused")
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check says {verdict!r}")
        conn.executescript(self._SCHEMA)
        # Entries of other artefacts or code can never be read again: drop them.
        for table in ("pools", "explanations"):
            conn.execute(f"DELETE FROM {table} WHERE fingerprint != ?", (self.fingerprint,))
        self._bound_explanations(conn)

    def _bound_explanations(self, conn: sqlite3.Connection) -> None:
        held = conn.execute("SELECT COUNT(*) FROM explanations").fetchone()[0]
        if held > self.max_explanations:
            logger.info("the shared cache %s holds %d explanations (at most %d): dropped, made again on demand",
                        self.path.name, held, self.max_explanations)
            conn.execute("DELETE FROM explanations")

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={max(int(self.timeout_s * 1000), 1)}")
        conn.execute("PRAGMA synchronous=OFF")  # a cache: a lost write is computed again
        return conn

    def get_pool(self, user_id: int, version: int) -> tuple | None:
        try:
            found = self._connections.get().execute(
                "SELECT body FROM pools WHERE user_id = ? AND fingerprint = ? AND version = ?",
                (int(user_id), self.fingerprint, int(version))).fetchone()
        except sqlite3.OperationalError:  # locked or busy past the timeout: compute instead
            return None
        return None if found is None else decode_pool(found[0], self.fingerprint, version)

    def put_pool(self, user_id: int, version: int, pool: tuple) -> None:
        # Busy past the timeout: skipped; the next worker to need this pool computes it. A worker
        # that has not yet applied the user's latest event never replaces a newer pool.
        with contextlib.suppress(sqlite3.OperationalError):
            self._connections.get().execute(
                "INSERT INTO pools (user_id, fingerprint, version, body) VALUES (?, ?, ?, ?) ON CONFLICT(user_id) "
                "DO UPDATE SET fingerprint = excluded.fingerprint, version = excluded.version, body = excluded.body "
                "WHERE excluded.version > pools.version OR excluded.fingerprint != pools.fingerprint",
                (int(user_id), self.fingerprint, int(version), encode_pool(pool, self.fingerprint, version)))

    def get_explanations(self, user_id: int, rows: list[int]) -> dict[int, Explanation]:
        rows = [int(r) for r in rows]
        try:
            found = self._connections.get().execute(
                f"SELECT movie_row, body FROM explanations WHERE user_id = ? AND fingerprint = ? AND movie_row IN "
                f"({', '.join('?' * len(rows))})", (int(user_id), self.fingerprint, *rows)).fetchall()
        except sqlite3.OperationalError:
            return {}
        return self._intact(found)

    def put_explanations(self, user_id: int, explanations: dict[int, Explanation]) -> None:
        rows = [(int(user_id), int(row), self.fingerprint, encode_explanation(e, self.fingerprint))
                for row, e in explanations.items()]
        with contextlib.suppress(sqlite3.OperationalError):
            conn = self._connections.get()
            with immediate_transaction(conn):  # one transaction: one lock for the whole list
                conn.executemany("INSERT OR REPLACE INTO explanations (user_id, movie_row, fingerprint, body) "
                                 "VALUES (?, ?, ?, ?)", rows)
            self._writes += 1  # per process; approximate under threads, which is all a bound needs
            if self._writes % self._CHECK_EVERY == 0:
                self._bound_explanations(conn)

    def close(self) -> None:
        self._connections.close()


# KEYS: the user's hash; ARGV: fingerprint, version, body, ttl s. Never replaces a newer version.
_PUT = """
local held = redis.call('HMGET', KEYS[1], 'fingerprint', 'version')
if held[1] == ARGV[1] and held[2] and tonumber(held[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'version', ARGV[2], 'body', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


class RedisSharedCache(SharedCache):
    """Per user, ``<namespace>:pool:<user_id>`` (their latest pool) and ``<namespace>:explained:<user_id>``
    (one field per explained movie), each expiring ``ttl_s`` after its last write (so users who
    stopped coming do not hold memory forever)."""

    def __init__(self, url: str, fingerprint: str, namespace: str = "recsys", timeout_s: float = 0.05,
                 ttl_s: int = 86_400):
        import redis

        self._errors = (redis.TimeoutError, redis.ConnectionError)
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=max(timeout_s, 1.0))
        self.fingerprint = fingerprint
        self.namespace = namespace
        self.ttl_s = int(ttl_s)
        self.description = redis_description(url)
        self._put = self.client.register_script(_PUT)

    def _key(self, kind: str, user_id: int) -> str:
        return f"{self.namespace}:{kind}:{int(user_id)}"

    def get_pool(self, user_id: int, version: int) -> tuple | None:
        try:
            body = self.client.hget(self._key("pool", user_id), "body")
        except self._errors:
            return None
        return None if body is None else decode_pool(body, self.fingerprint, version)

    def put_pool(self, user_id: int, version: int, pool: tuple) -> None:
        with contextlib.suppress(*self._errors):
            self._put(keys=[self._key("pool", user_id)], args=[self.fingerprint, int(version),
                                                               encode_pool(pool, self.fingerprint, version),
                                                               self.ttl_s])

    def get_explanations(self, user_id: int, rows: list[int]) -> dict[int, Explanation]:
        rows = [int(r) for r in rows]
        try:
            bodies = self.client.hmget(self._key("explained", user_id), rows)
        except self._errors:
            return {}
        return self._intact((row, body) for row, body in zip(rows, bodies, strict=True) if body is not None)

    def put_explanations(self, user_id: int, explanations: dict[int, Explanation]) -> None:
        key = self._key("explained", user_id)
        with contextlib.suppress(*self._errors):
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(key, mapping={int(row): encode_explanation(e, self.fingerprint) for row, e in explanations.items()})
            pipe.expire(key, self.ttl_s)
            pipe.execute()

    def close(self) -> None:
        self.client.close()


def cache_path(feedback_db: Path) -> Path:
    return feedback_db.with_name(f"{feedback_db.stem}.cache.sqlite3")


def open_shared_cache(store, fingerprint: str) -> SharedCache | None:
    """The shared tier beside the state store ``store``: Redis beside Redis (same namespace), a
    cache file beside the SQLite feedback DB; None for any other store."""
    if isinstance(store, RedisStateStore):
        return RedisSharedCache(store.url, fingerprint, namespace=store.ns)
    if isinstance(store, SQLiteStateStore):
        return SQLiteSharedCache(cache_path(store.path), fingerprint)
    return None
