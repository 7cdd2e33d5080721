"""The shared state of the service: the feedback log, the deployed policy version and the learner's lock.

Every worker of ``uvicorn --workers N`` reads and writes the same store, so any worker can
serve any user: user state is *derived* from the log (``learning.UserStates`` folds the
events in id order and tails the log for new ones), and the policy head is published here by
the one worker that holds the learner lock, then picked up by the others.

One small interface, ``StateStore``, two implementations with the same contract
(``tests/test_service_state_store.py`` runs one suite against both):

* ``SQLiteStateStore`` (default, one machine): SQLite in WAL mode with ``synchronous=FULL``.
  ``append`` returns only after the transaction is committed and the WAL fsync'ed, and the API
  acknowledges an event only after that, so an acknowledged event survives ``kill -9``
  (``tests/test_service_crash.py``). Beside the DB a *watermark* file records the highest
  acknowledged event id; at start-up an integrity check plus the watermark refuse a damaged,
  emptied or truncated DB (``DamagedStore``) instead of starting with fewer events.
* ``RedisStateStore`` (scale-out, ``RECSYS_STATE_STORE=redis://host:port/db``): the same data
  in Redis, each append one atomic Lua script (a batch: those scripts in one MULTI/EXEC).
  Durability is the Redis server's: run it with ``appendonly yes`` and ``appendfsync always``
  for SQLite's guarantee.

Both bound every call by ``timeout_s``: a locked or slow store raises ``StoreBusy`` (the API
answers 503 with ``Retry-After``) instead of making requests queue for seconds. An append that
timed out may still land; clients retry with the same ``Idempotency-Key`` and the event is
stored once.

Each impression also keeps the candidate features the service saw when it was shown
(``features``), so the learner trains on logged interactions without reconstructing past state.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .errors import DamagedStore, StoreBusy
from .sqlite_threads import ThreadConnections, immediate_transaction

EVENT_TYPES = ("impression", "click", "watch", "like", "dislike")


@dataclass(frozen=True)
class FeedbackEvent:
    id: int
    user_id: int
    movie_id: int
    event: str
    watch_fraction: float | None
    created_at: float
    policy_version: str | None = None
    features: tuple[float, ...] | None = None


class Stored(NamedTuple):
    event_id: int
    duplicate: bool  # the idempotency key was seen before: nothing new was stored


class NewEvent(NamedTuple):
    """One event to store (``StateStore.store_many``)."""

    user_id: int
    movie_id: int
    event: str
    watch_fraction: float | None = None
    policy_version: str | None = None
    features: tuple | None = None
    idempotency_key: str | None = None


def _features_json(features) -> str | None:
    return None if features is None else json.dumps([round(float(x), 6) for x in features])


def _check_event(event: str) -> None:
    if event not in EVENT_TYPES:
        raise ValueError(f"event {event!r} is not one of {', '.join(EVENT_TYPES)}")


class StateStore:
    """The interface both backends implement (see the module docstring for the contract)."""

    description = "state store"

    def store(self, user_id: int, movie_id: int, event: str, watch_fraction: float | None = None,
              policy_version: str | None = None, features=None, idempotency_key: str | None = None) -> Stored:
        """Store one event durably (returns after it is committed); a repeated key stores nothing."""
        return self.store_many([NewEvent(user_id, movie_id, event, watch_fraction, policy_version, features,
                                         idempotency_key)])[0]

    def store_many(self, events: list[NewEvent]) -> list[Stored]:
        """Store events in order as one atomic, durable write: all of them or none (a batch from
        ``POST /feedback/batch``: one commit and one fsync for a whole slate's events). An event
        whose idempotency key was stored before, in this batch or earlier, stores nothing. A bad
        event type anywhere in the batch raises ``ValueError`` before anything is written."""
        for e in events:
            _check_event(e.event)
        return self._store_checked(events) if events else []

    def _store_checked(self, events: list[NewEvent]) -> list[Stored]:
        """``store_many`` after its checks: the backend's atomic write of a non-empty batch."""
        raise NotImplementedError

    def append(self, user_id: int, movie_id: int, event: str, watch_fraction: float | None = None,
               policy_version: str | None = None, features=None) -> int:
        return self.store(user_id, movie_id, event, watch_fraction, policy_version, features).event_id

    def events(self, after_id: int = 0, user_id: int | None = None) -> list[FeedbackEvent]:
        """Events with id > ``after_id`` in id order (optionally of one user)."""
        raise NotImplementedError

    def last_id(self) -> int:
        raise NotImplementedError

    def count(self) -> int:
        return self.last_id()  # ids are dense: 1, 2, ... (a repeated idempotency key takes none)

    def publish_policy(self, version: int, payload: dict) -> bool:
        """Make ``payload`` the deployed policy when ``version`` is newer than the current one."""
        raise NotImplementedError

    def policy(self) -> tuple[int, dict] | None:
        """(version, payload) of the deployed policy, or None before the first deployment."""
        raise NotImplementedError

    def try_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew the lock ``name`` for ``owner`` for ``ttl_s`` seconds; False when another
        owner holds it."""
        raise NotImplementedError

    def release_lock(self, name: str, owner: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# SQLite (one machine)
# ---------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    movie_id INTEGER NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('impression', 'click', 'watch', 'like', 'dislike')),
    watch_fraction REAL,
    created_at REAL NOT NULL,
    policy_version TEXT,
    features TEXT,
    idempotency_key TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user_id, id);
CREATE TABLE IF NOT EXISTS policy (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""
_COLUMNS = "id, user_id, movie_id, event, watch_fraction, created_at, policy_version, features"


def watermark_path(db: Path) -> Path:
    return db.with_name(db.name + ".watermark")


class SQLiteStateStore(StateStore):
    """SQLite in WAL mode. Writes go through one writer thread (commit order = id order); reads
    use one connection per thread, which WAL lets run while a writer holds the lock."""

    def __init__(self, path: str | Path, timeout_s: float = 0.5, check: bool = True):
        self.path = Path(path)
        self.description = f"SQLite {self.path.name} (WAL)"
        self.timeout_s = float(timeout_s)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._watermark = watermark_path(self.path)
        if check:
            self._check_before_open()
        try:
            self._conn = self._connect()
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"SQLite refused WAL mode for {self.path} (got {mode!r}); use a local disk")
            # FULL: the WAL is fsync'ed at every commit, so a committed event survives a crash.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
            self._migrate()
            if check:
                self._check_after_open()
        except sqlite3.DatabaseError as error:
            raise self._damaged(f"SQLite cannot read it ({error})") from error
        self._readers = ThreadConnections(self._connect)  # one per reading thread
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedback-writer")
        self._wm_fd = os.open(self._watermark, os.O_RDWR | os.O_CREAT, 0o644)
        self._write_watermark(self._last_id(self._conn))

    # -- start-up checks -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={max(int(self.timeout_s * 1000), 1)}")
        return conn

    def _recorded_watermark(self) -> int | None:
        try:
            text = self._watermark.read_text().strip()
        except FileNotFoundError:
            return None
        try:
            return int(text.split()[0]) if text else 0
        except ValueError:
            return None

    def _damaged(self, what: str) -> DamagedStore:
        return DamagedStore(
            f"the feedback database {self.path} is damaged: {what}. The service refuses to start rather than "
            f"serve with lost feedback. Restore {self.path.name} and {self.path.name}-wal from a backup "
            f"(stop the service first); to start deliberately from what the file holds, delete "
            f"{self._watermark} (and the database itself to start from nothing)."
        )

    def _check_before_open(self) -> None:
        recorded = self._recorded_watermark()
        if recorded and (not self.path.exists() or self.path.stat().st_size == 0):
            state = "missing" if not self.path.exists() else "0 bytes"
            raise self._damaged(f"it is {state}, but {self._watermark.name} records {recorded} acknowledged events")

    def _check_after_open(self) -> None:
        verdict = self._conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise self._damaged(f"the integrity check says {verdict!r}")
        recorded = self._recorded_watermark()
        last = self._last_id(self._conn)
        if recorded is not None and last < recorded:
            raise self._damaged(f"it holds events up to id {last}, but {self._watermark.name} records that "
                                f"{recorded} were acknowledged (a truncated or lost WAL, or an older copy)")

    def _migrate(self) -> None:
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(feedback)")}
        if "idempotency_key" not in columns:  # a log written before idempotency keys existed
            self._conn.execute("ALTER TABLE feedback ADD COLUMN idempotency_key TEXT")
            self._conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS feedback_key ON feedback (idempotency_key)")

    @staticmethod
    def _last_id(conn) -> int:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM feedback").fetchone()[0])

    def _write_watermark(self, last_id: int) -> None:
        # Written after the commit, so it never claims more than is durable. No fsync: it has to
        # survive a process crash (the page cache does), and costs a few microseconds per event.
        os.pwrite(self._wm_fd, f"{last_id:020d}\n".encode(), 0)

    # -- writes ----------------------------------------------------------------------------
    def _run_write(self, job):
        deadline = time.monotonic() + self.timeout_s

        def guarded():
            # A job that waited in the queue past its deadline is dropped, not written late: its
            # caller has already answered 503, and a write after that would surprise a client.
            if time.monotonic() > deadline:
                raise StoreBusy(f"the feedback store ({self.description}) is busy; retry with the same "
                                "Idempotency-Key")
            return job()

        future = self._writer.submit(guarded)
        try:
            return future.result(timeout=self.timeout_s + 0.2)
        except FutureTimeout:
            raise StoreBusy(f"the feedback store ({self.description}) did not confirm the write within "
                            f"{self.timeout_s + 0.2:.1f} s; retry with the same Idempotency-Key") from None
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreBusy(f"the feedback store ({self.description}) is locked by another writer; "
                                "retry with the same Idempotency-Key") from error
            raise

    def _store_checked(self, events: list[NewEvent]) -> list[Stored]:
        rows = [((int(e.user_id), int(e.movie_id), e.event, e.watch_fraction, time.time(), e.policy_version,
                  _features_json(e.features), e.idempotency_key), e.idempotency_key) for e in events]

        def write() -> list[Stored]:
            conn = self._conn
            out: list[Stored] = []
            with immediate_transaction(conn):  # one transaction: one commit, one WAL fsync, all or nothing
                for row, key in rows:
                    if key is not None:  # the transaction sees its own inserts: a key repeated in the batch too
                        found = conn.execute("SELECT id FROM feedback WHERE idempotency_key = ?", (key,)).fetchone()
                        if found:
                            out.append(Stored(int(found[0]), True))
                            continue
                    cursor = conn.execute(
                        "INSERT INTO feedback (user_id, movie_id, event, watch_fraction, created_at, policy_version,"
                        " features, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
                    out.append(Stored(int(cursor.lastrowid), False))
            new_ids = [stored.event_id for stored in out if not stored.duplicate]
            if new_ids:
                self._write_watermark(max(new_ids))
            return out

        return self._run_write(write) if rows else []

    def publish_policy(self, version: int, payload: dict) -> bool:
        text = json.dumps(payload)

        def write() -> bool:
            cursor = self._conn.execute(
                "INSERT INTO policy (id, version, payload) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "version = excluded.version, payload = excluded.payload WHERE excluded.version > policy.version",
                (int(version), text))
            return cursor.rowcount > 0

        return self._run_write(write)

    def try_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        def write() -> bool:
            now = time.time()
            cursor = self._conn.execute(
                "INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE locks.owner = excluded.owner OR locks.expires_at < ?", (name, owner, now + ttl_s, now))
            return cursor.rowcount > 0

        return self._run_write(write)

    def release_lock(self, name: str, owner: str) -> None:
        self._run_write(lambda: self._conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner)))

    # -- reads -----------------------------------------------------------------------------
    def _read(self, sql: str, params=()):
        try:
            return self._readers.get().execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreBusy(f"the feedback store ({self.description}) is locked; retry shortly") from error
            raise

    def events(self, after_id: int = 0, user_id: int | None = None) -> list[FeedbackEvent]:
        query = f"SELECT {_COLUMNS} FROM feedback WHERE id > ?"
        params: list = [int(after_id)]
        if user_id is not None:
            query += " AND user_id = ?"
            params.append(int(user_id))
        return [_to_event(row) for row in self._read(query + " ORDER BY id", params)]

    def last_id(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(id), 0) FROM feedback")[0][0])

    def policy(self) -> tuple[int, dict] | None:
        rows = self._read("SELECT version, payload FROM policy WHERE id = 1")
        return (int(rows[0][0]), json.loads(rows[0][1])) if rows else None

    def close(self) -> None:
        if getattr(self, "_writer", None) is None:
            return
        self._writer.shutdown(wait=True)
        self._writer = None
        self._readers.close()
        self._conn.close()
        os.close(self._wm_fd)


FeedbackStore = SQLiteStateStore  # the name the lessons and older code use


def _to_event(row) -> FeedbackEvent:
    features = tuple(json.loads(row[7])) if row[7] else None
    return FeedbackEvent(int(row[0]), int(row[1]), int(row[2]), row[3], row[4], float(row[5]), row[6], features)


# ---------------------------------------------------------------------------------------------
# Redis (scale-out)
# ---------------------------------------------------------------------------------------------

# KEYS: last_id, events hash, user list, idempotency key (or ""); ARGV: event JSON without id.
_APPEND = """
if KEYS[4] ~= '' then
  local seen = redis.call('GET', KEYS[4])
  if seen then return {tonumber(seen), 1} end
end
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], id, ARGV[1])
redis.call('RPUSH', KEYS[3], id)
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], id) end
return {id, 0}
"""
# KEYS: policy hash; ARGV: version, payload
_PUBLISH = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'payload', ARGV[2])
return 1
"""
# KEYS: lock; ARGV: owner, ttl ms
_LOCK = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def redis_description(url: str) -> str:
    """How a Redis server is named in messages and ``/health``: never the password part of its URL."""
    return f"Redis {url.split('@')[-1]}"


class RedisStateStore(StateStore):
    """The same contract on a Redis server (``redis://host:port/db``), keys under ``namespace``."""

    def __init__(self, url: str, timeout_s: float = 0.5, namespace: str = "recsys"):
        import redis

        self._redis_errors = (redis.TimeoutError, redis.ConnectionError)
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=max(timeout_s, 1.0),
                                           decode_responses=True)
        self.description = redis_description(url)
        self.url = url  # for the shared cache beside this store (shared_cache); never printed
        self.timeout_s = timeout_s
        self.ns = namespace
        try:
            self.client.ping()
        except self._redis_errors as error:
            raise ConnectionError(f"cannot reach the state store {self.description}: {error}; start redis-server "
                                  "or unset RECSYS_STATE_STORE to use SQLite") from error
        self._append = self.client.register_script(_APPEND)
        self._publish = self.client.register_script(_PUBLISH)
        self._lock = self.client.register_script(_LOCK)
        self._unlock = self.client.register_script(_UNLOCK)

    def _key(self, *parts) -> str:
        return ":".join((self.ns, *map(str, parts)))

    def _call(self, job):
        try:
            return job()
        except self._redis_errors as error:
            raise StoreBusy(f"the state store ({self.description}) did not answer within {self.timeout_s:.1f} s "
                            f"({type(error).__name__}); retry with the same Idempotency-Key") from error

    def _store_checked(self, events: list[NewEvent]) -> list[Stored]:
        def write():
            # MULTI/EXEC: the batch's appends run back to back, none of another client's between them.
            pipe = self.client.pipeline(transaction=True)
            for e in events:
                body = json.dumps({"user_id": int(e.user_id), "movie_id": int(e.movie_id), "event": e.event,
                                   "watch_fraction": e.watch_fraction, "created_at": time.time(),
                                   "policy_version": e.policy_version, "features": _features_json(e.features)})
                keys = [self._key("last_id"), self._key("events"), self._key("user", int(e.user_id)),
                        self._key("idem", e.idempotency_key) if e.idempotency_key is not None else ""]
                self._append(keys=keys, args=[body], client=pipe)
            return pipe.execute()

        return [Stored(int(event_id), bool(duplicate)) for event_id, duplicate in self._call(write)]

    def _load(self, ids: list[int]) -> list[FeedbackEvent]:
        if not ids:
            return []
        values = self._call(lambda: self.client.hmget(self._key("events"), ids))
        out = []
        for event_id, value in zip(ids, values, strict=True):
            if value is None:
                continue
            e = json.loads(value)
            features = tuple(json.loads(e["features"])) if e["features"] else None
            out.append(FeedbackEvent(int(event_id), e["user_id"], e["movie_id"], e["event"], e["watch_fraction"],
                                     e["created_at"], e["policy_version"], features))
        return out

    def events(self, after_id: int = 0, user_id: int | None = None) -> list[FeedbackEvent]:
        if user_id is not None:
            ids = [int(i) for i in self._call(lambda: self.client.lrange(self._key("user", int(user_id)), 0, -1))]
            return self._load([i for i in ids if i > after_id])
        last = self.last_id()
        out: list[FeedbackEvent] = []
        for start in range(int(after_id) + 1, last + 1, 5000):
            out += self._load(list(range(start, min(start + 5000, last + 1))))
        return out

    def last_id(self) -> int:
        return int(self._call(lambda: self.client.get(self._key("last_id"))) or 0)

    def publish_policy(self, version: int, payload: dict) -> bool:
        return bool(self._call(lambda: self._publish(keys=[self._key("policy")], args=[int(version), json.dumps(payload)])))

    def policy(self) -> tuple[int, dict] | None:
        found = self._call(lambda: self.client.hgetall(self._key("policy")))
        return (int(found["version"]), json.loads(found["payload"])) if found else None

    def try_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        return bool(self._call(lambda: self._lock(keys=[self._key("lock", name)], args=[owner, int(ttl_s * 1000)])))

    def release_lock(self, name: str, owner: str) -> None:
        self._call(lambda: self._unlock(keys=[self._key("lock", name)], args=[owner]))

    def close(self) -> None:
        self.client.close()


def open_state_store(spec: str, feedback_db: Path, timeout_s: float = 0.5) -> StateStore:
    """``spec``: ``sqlite`` (the feedback DB file) or a ``redis://`` / ``rediss://`` URL."""
    if spec in ("", "sqlite"):
        return SQLiteStateStore(feedback_db, timeout_s=timeout_s)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisStateStore(spec, timeout_s=timeout_s)
    raise ValueError(f"RECSYS_STATE_STORE={spec!r}: use 'sqlite' or a redis:// URL")
