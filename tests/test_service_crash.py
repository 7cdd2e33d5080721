"""Durability: every feedback event the API acknowledged survives ``kill -9`` of the server.

The real entry point (``uvicorn recsys_utils.service:app``) runs in a subprocess on 127.0.0.1
with the synthetic world; clients keep sending feedback while the process is killed hard, so
some requests are in flight at the moment of the kill. After a restart on the same database
every acknowledged event must be there with the content that was sent.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from recsys_utils.service.running import free_loopback_port, process_stopped, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent


def start_server(db: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, RECSYS_SERVICE_SOURCE="synthetic", RECSYS_FEEDBACK_DB=str(db),
               RECSYS_FINE_TUNE="0", PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "recsys_utils.service:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process_stopped(process), timeout=60)
    except (RuntimeError, TimeoutError):
        process.kill()
        raise
    return process


@pytest.mark.slow
def test_acknowledged_feedback_survives_kill_9(tmp_path):
    db = tmp_path / "feedback.sqlite3"
    port = free_loopback_port()
    server = start_server(db, port)
    acknowledged: dict[int, tuple] = {}
    lock = threading.Lock()
    stop = threading.Event()
    events = ("impression", "click", "like", "dislike")

    def client(worker: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            i = 0
            while not stop.is_set():
                body = {"user_id": 1 + (worker * 7 + i) % 50, "movie_id": 1 + (worker * 13 + i) % 150,
                        "event": events[i % len(events)]}
                if i % 5 == 4:
                    body = {**body, "event": "watch", "watch_fraction": round((i % 10) / 10, 1)}
                i += 1
                try:
                    response = http.post("/feedback", json=body)
                except httpx.TransportError:
                    return  # the server died mid-request: this one was never acknowledged
                assert response.status_code == 200, response.text
                sent = (body["user_id"], body["movie_id"], body["event"], body.get("watch_fraction"))
                with lock:
                    acknowledged[response.json()["event_id"]] = sent

    workers = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    try:
        deadline = time.monotonic() + 20
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(server.pid, signal.SIGKILL)  # no shutdown hook, no flush: a hard crash
        server.wait(timeout=10)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=10)
        if server.poll() is None:
            server.kill()
    with lock:
        acked = dict(acknowledged)
    assert len(acked) >= 100, f"only {len(acked)} events were acknowledged before the kill"

    restarted = start_server(db, port)
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert health["feedback_events"] >= len(acked)
        # The restarted service replayed the log: a user's profile version counts their events.
        some_user = acked[max(acked)][0]
        reply = httpx.post(f"http://127.0.0.1:{port}/recommend", json={"user_id": some_user, "k": 3}, timeout=5)
        assert reply.status_code == 200
        assert reply.json()["user"]["profile_version"] >= sum(1 for e in acked.values() if e[0] == some_user)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=20)

    with sqlite3.connect(db) as conn:
        stored = {row[0]: tuple(row[1:]) for row in
                  conn.execute("SELECT id, user_id, movie_id, event, watch_fraction FROM feedback")}
    lost = [event_id for event_id in acked if event_id not in stored]
    assert not lost, f"{len(lost)} acknowledged events are missing after kill -9, e.g. {lost[:5]}"
    changed = [event_id for event_id, sent in acked.items() if stored[event_id] != sent]
    assert not changed, f"stored events differ from what was acknowledged: {changed[:5]}"


@pytest.mark.slow
def test_start_up_without_artefacts_fails_with_the_lesson_to_run(tmp_path):
    env = dict(os.environ, RECSYS_DATA_DIR=str(tmp_path / "nothing-here"), PYTHONPATH=str(ROOT))
    env.pop("PINECONE_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "recsys_utils.service:app", "--host", "127.0.0.1", "--port", str(free_loopback_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "lesson 01" in done.stderr and "MissingArtifact" in done.stderr, done.stderr[-2000:]
