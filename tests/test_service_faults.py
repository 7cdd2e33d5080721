"""Faults of the feedback store, each answered clearly: a locked or slow DB (503 + Retry-After
within a second, /health keeps answering), a retried event (stored once), a damaged DB or WAL at
start-up (refused, naming the file and what to do)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient

from recsys_utils.service import ServiceSettings, create_app
from recsys_utils.service.errors import DamagedStore
from recsys_utils.service.feedback_store import SQLiteStateStore, watermark_path
from recsys_utils.service.learning import LearnerConfig


def client_for(db, timeout_s=0.5):
    settings = ServiceSettings(source="synthetic", feedback_db=db, store_timeout_s=timeout_s,
                               learner=LearnerConfig(enabled=False))
    return TestClient(create_app(settings))


def test_a_locked_db_answers_503_with_retry_after_within_a_second(tmp_path):
    db = tmp_path / "fb.sqlite3"
    with client_for(db) as c:
        assert c.post("/feedback", json={"user_id": 1, "movie_id": 2, "event": "click"}).status_code == 200
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        try:
            for _ in range(3):  # each one as quick as the first: no queue builds up
                start = time.monotonic()
                reply = c.post("/feedback", json={"user_id": 1, "movie_id": 3, "event": "click"})
                elapsed = time.monotonic() - start
                assert reply.status_code == 503, reply.text
                assert reply.headers["retry-after"] == "1"
                assert "locked" in reply.json()["error"] and "Idempotency-Key" in reply.json()["error"]
                assert elapsed < 1.0, f"the 503 took {elapsed:.2f} s"
            start = time.monotonic()
            health = c.get("/health")
            assert health.status_code == 200 and time.monotonic() - start < 0.5
            # Reads still work in WAL mode: recommendations go on.
            assert c.post("/recommend", json={"user_id": 1, "k": 3}).status_code == 200
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert c.post("/feedback", json={"user_id": 1, "movie_id": 3, "event": "click"}).json()["event_id"] == 2


def test_a_slow_store_answers_503_and_health_answers_on_its_own(tmp_path):
    with client_for(tmp_path / "fb.sqlite3") as c:
        store = c.app.state.service.store
        stall = threading.Event()
        store._writer.submit(stall.wait, 5)  # the writer is stuck (e.g. an fsync that takes seconds)
        try:
            start = time.monotonic()
            reply = c.post("/feedback", json={"user_id": 1, "movie_id": 2, "event": "like"})
            assert reply.status_code == 503 and reply.headers["retry-after"] == "1"
            assert time.monotonic() - start < 1.0
            start = time.monotonic()
            assert c.get("/health").status_code == 200 and time.monotonic() - start < 0.5
        finally:
            stall.set()
        # The timed-out event was dropped, not written late behind the client's back.
        time.sleep(0.1)
        assert c.get("/health").json()["feedback_events"] == 0


def test_a_retried_event_with_the_same_idempotency_key_is_stored_once(tmp_path):
    with client_for(tmp_path / "fb.sqlite3") as c:
        event = {"user_id": 5, "movie_id": 9, "event": "like"}
        first = c.post("/feedback", json=event, headers={"Idempotency-Key": "evt-42"}).json()
        again = c.post("/feedback", json=event, headers={"Idempotency-Key": "evt-42"}).json()
        assert again["event_id"] == first["event_id"] and again["duplicate"] and not first["duplicate"]
        assert again["profile_version"] == first["profile_version"] == 1
        assert c.get("/health").json()["feedback_events"] == 1
        third = c.post("/feedback", json=event, headers={"Idempotency-Key": "evt-43"}).json()
        assert third["event_id"] == first["event_id"] + 1 and not third["duplicate"]


def _filled(db, n=300):
    store = SQLiteStateStore(db)
    for i in range(n):
        store.append(1 + i % 50, 1 + i % 150, "click")
    return store


def test_an_emptied_db_is_refused_naming_the_file(tmp_path):
    db = tmp_path / "fb.sqlite3"
    _filled(db, 20).close()
    for suffix in ("", "-wal", "-shm"):
        path = db.with_name(db.name + suffix)
        if path.exists():
            path.write_bytes(b"")
    with pytest.raises(DamagedStore, match="0 bytes") as refused:
        SQLiteStateStore(db)
    assert str(db) in str(refused.value) and "backup" in str(refused.value)
    with pytest.raises(DamagedStore), client_for(db):  # the service refuses to start
        pass


def test_a_wal_cut_in_half_after_a_crash_is_refused(tmp_path):
    live = tmp_path / "live" / "fb.sqlite3"
    # Still open: the events are in the WAL, as after kill -9 (200 events stay under SQLite's
    # automatic checkpoint at 1000 WAL pages, so all of them are in the WAL).
    store = _filled(live, 200)
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for path in (live, live.with_name(live.name + "-wal"), watermark_path(live)):
        shutil.copy(path, crashed / path.name)
    store.close()
    wal = crashed / "fb.sqlite3-wal"
    wal.write_bytes(wal.read_bytes()[: wal.stat().st_size // 2])
    with pytest.raises(DamagedStore, match="200 were acknowledged") as refused:
        SQLiteStateStore(crashed / "fb.sqlite3")
    assert "fb.sqlite3.watermark" in str(refused.value)


def test_partial_damage_is_refused_not_a_raw_traceback(tmp_path):
    db = tmp_path / "fb.sqlite3"
    SQLiteStateStore(db).close()
    with sqlite3.connect(db) as conn:  # 2000 events in one transaction (the test needs pages, not fsyncs)
        conn.executemany("INSERT INTO feedback (user_id, movie_id, event, created_at) VALUES (?, ?, 'click', 0)",
                         [(1 + i % 50, 1 + i % 150) for i in range(2000)])
    conn.close()
    data = bytearray(db.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8192] = b"\xde\xad\xbe\xef" * 2048
    db.write_bytes(bytes(data))
    with pytest.raises(DamagedStore, match="damaged") as refused:
        SQLiteStateStore(db)
    assert str(db) in str(refused.value)


def test_a_new_db_starts_and_keeps_its_watermark(tmp_path):
    db = tmp_path / "fb.sqlite3"
    store = _filled(db, 5)
    assert int(watermark_path(db).read_text()) == 5
    store.close()
    with SQLiteStateStore(db) as reopened:
        assert reopened.count() == 5
