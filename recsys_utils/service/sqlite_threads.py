"""SQLite from many threads, as the service's stores use it: one connection per thread (a
connection is not safe to share, and WAL lets each read while another writes) and one helper
for an all-or-nothing write. The feedback log (``feedback_store.SQLiteStateStore``) and the
shared cache (``shared_cache.SQLiteSharedCache``) both build on it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class ThreadConnections:
    """``get()`` is the calling thread's connection, opened by ``connect`` on its first call;
    ``close()`` closes every connection opened so far (after which ``get()`` opens new ones)."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]):
        self._connect = connect
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction (the write lock taken at once): committed when the
    block ends, rolled back when the block or the ``COMMIT`` itself raises (a full disk, an I/O
    error), so the connection never stays inside a transaction that would refuse every later
    ``BEGIN``. ``conn`` is in autocommit mode (``isolation_level=None``)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # some errors end the transaction themselves; the original error is the news
            conn.execute("ROLLBACK")
        raise
