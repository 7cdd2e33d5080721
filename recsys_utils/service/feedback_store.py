"""Durable log of user feedback: SQLite in WAL mode with ``synchronous=FULL``.

Why SQLite: it ships with Python, survives a hard kill with the right settings, and the
service needs one writer and a few readers on one machine, which is exactly its sweet spot.

Durability contract: :meth:`FeedbackStore.append` returns only after the transaction is
committed with ``synchronous=FULL`` in WAL mode, i.e. after the WAL has been fsync'ed. The
API acknowledges an event only after ``append`` returned, so an acknowledged event survives
``kill -9`` of the server (and a power loss, as far as the disk honours fsync).
``tests/test_service_crash.py`` checks the kill case with a real uvicorn process.

Each row also keeps the candidate features the service saw when the event arrived
(``features``, JSON), so the background learner can train on logged interactions without
reconstructing past state.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

EVENT_TYPES = ("impression", "click", "watch", "like", "dislike")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    movie_id INTEGER NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('impression', 'click', 'watch', 'like', 'dislike')),
    watch_fraction REAL,
    created_at REAL NOT NULL,
    policy_version TEXT,
    features TEXT
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user_id, id);
"""


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


class FeedbackStore:
    """Append-only feedback log. Thread-safe: one connection guarded by a lock.

    One connection (not one per thread) because SQLite allows a single writer anyway and the
    lock makes the commit order equal to the id order, which the learner relies on.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"SQLite refused WAL mode for {self.path} (got {mode!r}); use a local disk")
        # FULL: the WAL is fsync'ed at every commit, so a committed event survives a crash.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)

    def append(
        self,
        user_id: int,
        movie_id: int,
        event: str,
        watch_fraction: float | None = None,
        policy_version: str | None = None,
        features=None,
    ) -> int:
        """Store one event durably and return its id (only after the commit is on disk)."""
        if event not in EVENT_TYPES:
            raise ValueError(f"event {event!r} is not one of {', '.join(EVENT_TYPES)}")
        features_json = None if features is None else json.dumps([round(float(x), 6) for x in features])
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO feedback (user_id, movie_id, event, watch_fraction, created_at, policy_version, features)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (int(user_id), int(movie_id), event, watch_fraction, time.time(), policy_version, features_json),
            )
            # isolation_level=None: autocommit, so the INSERT above is its own committed transaction.
            return int(cursor.lastrowid)

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def last_id(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM feedback").fetchone()[0])

    def events(self, after_id: int = 0, user_id: int | None = None) -> list[FeedbackEvent]:
        """Events with id > ``after_id`` in id order (optionally of one user)."""
        query = "SELECT id, user_id, movie_id, event, watch_fraction, created_at, policy_version, features FROM feedback WHERE id > ?"
        params: list = [int(after_id)]
        if user_id is not None:
            query += " AND user_id = ?"
            params.append(int(user_id))
        query += " ORDER BY id"
        with self._lock:
            rows = self._conn.execute(query, params).fetchall()
        return [_to_event(row) for row in rows]

    def iter_events(self) -> Iterator[FeedbackEvent]:
        yield from self.events()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _to_event(row) -> FeedbackEvent:
    features = tuple(json.loads(row[7])) if row[7] else None
    return FeedbackEvent(row[0], row[1], row[2], row[3], row[4], row[5], row[6], features)
