"""service.sqlite_threads: the one write transaction and the per-thread connections both SQLite
stores (the feedback log, the shared cache) are built on."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from recsys_utils.service.sqlite_threads import ThreadConnections, immediate_transaction


def _deferred_fk_db() -> sqlite3.Connection:
    # A deferred foreign key is checked at COMMIT: the one portable way to make COMMIT itself fail
    # (as a full disk or an I/O error would) while the statements before it succeed.
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, "
                 "parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    return conn


def test_a_block_that_raises_is_rolled_back():
    conn = _deferred_fk_db()
    with pytest.raises(RuntimeError, match="boom"), immediate_transaction(conn):
        conn.execute("INSERT INTO parent VALUES (1)")
        raise RuntimeError("boom")
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM parent").fetchone()[0] == 0


def test_a_failed_commit_is_rolled_back_and_the_connection_writes_again():
    conn = _deferred_fk_db()
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), immediate_transaction(conn):
        conn.execute("INSERT INTO parent VALUES (1)")
        conn.execute("INSERT INTO child VALUES (1, 99)")  # no parent 99: refused at COMMIT
    assert not conn.in_transaction  # not left open, refusing every later BEGIN
    assert conn.execute("SELECT COUNT(*) FROM parent").fetchone()[0] == 0  # all or nothing
    with immediate_transaction(conn):
        conn.execute("INSERT INTO parent VALUES (2)")
    assert conn.execute("SELECT id FROM parent").fetchall() == [(2,)]


def test_each_thread_has_its_own_connection_and_close_closes_them_all(tmp_path):
    opened = []

    def connect():
        conn = sqlite3.connect(str(tmp_path / "db.sqlite3"), check_same_thread=False)
        opened.append(conn)
        return conn

    connections = ThreadConnections(connect)
    main = connections.get()
    assert connections.get() is main
    other = []
    worker = threading.Thread(target=lambda: other.append(connections.get()))
    worker.start()
    worker.join()
    assert other[0] is not main and len(opened) == 2
    connections.close()
    for conn in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")
    assert connections.get() is not main and len(opened) == 3  # a new one after close
