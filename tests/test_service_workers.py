"""Several workers share one state: user state and the policy version live in the store.

In-process: two services on one feedback DB behave as two uvicorn workers (one learns and
publishes, the other picks the new head up). As a process: ``python -m recsys_utils.service.serve
--workers 2`` serves a user's feedback from either worker consistently, and exactly one worker
holds the learner lock. The launcher's own behaviour (balance, restarts, start-up failure) is in
``test_service_serve.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from recsys_utils.service import ServiceSettings, create_app
from recsys_utils.service.learning import LearnerConfig
from recsys_utils.service.running import free_loopback_port, process_stopped, wait_until_healthy
from tests.service_clients import send_simulated_feedback

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_second_worker_sees_feedback_and_the_published_policy(tmp_path):
    db = tmp_path / "shared.sqlite3"
    config = LearnerConfig(enabled=False, min_examples=20)
    a = TestClient(create_app(ServiceSettings(source="synthetic", feedback_db=db, learner=config)))
    b = TestClient(create_app(ServiceSettings(source="synthetic", feedback_db=db, learner=config)))
    with a, b:
        send_simulated_feedback(a, range(1, 26), sharpness=2, seed=0)
        # Worker b never saw these requests, yet serves the same state.
        seen_by_a = a.post("/recommend", json={"user_id": 3, "k": 5, "explain": False}).json()
        seen_by_b = b.post("/recommend", json={"user_id": 3, "k": 5, "explain": False}).json()
        assert seen_by_b["user"]["profile_version"] == seen_by_a["user"]["profile_version"] > 0
        assert [m["movie_id"] for m in seen_by_b["items"]] == [m["movie_id"] for m in seen_by_a["items"]]
        learner_a, learner_b = a.app.state.service.learner, b.app.state.service.learner
        assert learner_a._lead() and not learner_b._lead(), "two learners hold the lock"
        learner_a.trainer = lambda X, y, previous: 2 * previous  # same order: a deployable update
        record = learner_a.fine_tune()
        assert record["deployed"], record
        assert learner_b.version.endswith("+ft0")
        assert learner_b.refresh() and learner_b.version == learner_a.version
        np.testing.assert_array_equal(learner_b.head.weights, learner_a.head.weights)
        assert b.post("/recommend", json={"user_id": 3, "k": 2}).json()["policy_version"] == learner_a.version


@pytest.mark.slow
def test_two_worker_processes_share_user_state(tmp_path):
    port = free_loopback_port()
    env = dict(os.environ, RECSYS_SERVICE_SOURCE="synthetic", RECSYS_FEEDBACK_DB=str(tmp_path / "fb.sqlite3"),
               RECSYS_FINE_TUNE="1", RECSYS_FINE_TUNE_INTERVAL_S="0.3", PYTHONPATH=str(ROOT))
    server = subprocess.Popen([sys.executable, "-m", "recsys_utils.service.serve", "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "2", "--log-level", "warning"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process_stopped(server), timeout=90)
        for sent in range(12):  # each on a new connection: either worker stores it
            with httpx.Client(base_url=base, timeout=5) as http:
                assert http.post("/feedback", json={"user_id": 7, "movie_id": 1 + sent, "event": "like"}).status_code == 200
        pids, leaders, versions = set(), {}, {}
        deadline = time.monotonic() + 60
        while (len(pids) < 2 or sum(leaders.values()) < 1) and time.monotonic() < deadline:
            with httpx.Client(base_url=base, timeout=5) as http:  # a new connection: any worker
                health = http.get("/health").json()
                pid = health["worker_pid"]
                pids.add(pid)
                leaders[pid] = health["learner"]["leader"]
                versions.setdefault(pid, set()).add(
                    http.post("/recommend", json={"user_id": 7, "k": 2}).json()["user"]["profile_version"])
            time.sleep(0.05)
        assert len(pids) == 2, f"only workers {pids} answered"
        assert sum(leaders.values()) == 1, f"leaders: {leaders}"
        assert all(v == {12} for v in versions.values()), f"the workers disagree on the user's state: {versions}"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_the_inherited_listener_gets_tcp_nodelay_so_keep_alive_answers_do_not_wait_for_delayed_acks():
    """uvicorn --workers N hands each worker a bound socket without IPPROTO_TCP, so asyncio leaves
    Nagle on (uvicorn #3149) and every keep-alive answer waited ~40 ms. The lifespan hook sets
    TCP_NODELAY on that socket (accepted connections inherit it on Linux); connections are left alone."""
    import socket

    from recsys_utils.service.running import nodelay_on_inherited_listeners

    bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn's bind_socket makes it
    bound.bind(("127.0.0.1", 0))
    with bound:
        assert bound.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert nodelay_on_inherited_listeners() >= 1
        assert bound.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        bound.listen()
        with socket.create_connection(bound.getsockname()) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
            accepted, _ = bound.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
                nodelay_on_inherited_listeners()
                assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # a connection: untouched
