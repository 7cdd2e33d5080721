"""The launcher ``python -m recsys_utils.service.serve``: workers on their own SO_REUSEPORT sockets.

Why it exists (module docstring of ``recsys_utils.service.serve``): with uvicorn's shared socket,
32 keep-alive connections opened together split 32/0 between two workers. Here they must spread
over both; a killed worker is replaced; a worker whose start-up fails stops the launcher with
the worker's message instead of a restart loop; a port that is taken is refused by name.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from recsys_utils.service.running import free_loopback_port, process_stopped, wait_until_healthy
from recsys_utils.service.serve import balanced_ports_supported

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not balanced_ports_supported(), reason="SO_REUSEPORT balancing is Linux-only")


def launch(port: int, tmp_path: Path, workers: int = 2, **env) -> subprocess.Popen:
    environment = dict(os.environ, RECSYS_SERVICE_SOURCE="synthetic", RECSYS_FEEDBACK_DB=str(tmp_path / "fb.sqlite3"),
                       RECSYS_FINE_TUNE="0", PYTHONPATH=str(ROOT))
    environment.update(env)
    return subprocess.Popen([sys.executable, "-m", "recsys_utils.service.serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
                            cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(server: subprocess.Popen) -> int:
    server.send_signal(signal.SIGTERM)
    try:
        return server.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.kill()
        raise


def worker_of_each(port: int, connections: int) -> list[int]:
    """Open ``connections`` keep-alive connections at once, then ask each which worker holds it."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(connections)]
    pids = []
    try:
        for sock in socks:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            reply = b""
            while b"\r\n\r\n" not in reply:
                reply += sock.recv(65536)
            head, body = reply.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += sock.recv(65536)
            pids.append(json.loads(body)["worker_pid"])
    finally:
        for sock in socks:
            sock.close()
    return pids


def wait_for_workers(port: int, workers: int, timeout: float = 120.0) -> set[int]:
    seen, deadline = set(), time.monotonic() + timeout
    while len(seen) < workers and time.monotonic() < deadline:
        seen.update(worker_of_each(port, 8))
        time.sleep(0.05)
    assert len(seen) == workers, f"only workers {seen} answered within {timeout:.0f} s"
    return seen


@pytest.mark.slow
def test_connections_opened_together_spread_over_both_workers_and_a_killed_worker_is_replaced(tmp_path):
    port = free_loopback_port()
    server = launch(port, tmp_path)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process_stopped(server), timeout=120)
        first = wait_for_workers(port, 2)
        split = Counter(worker_of_each(port, 32))
        # the kernel hashes each connection to a worker: fewer than 6 of 32 on one has odds ~4e-5
        assert len(split) == 2 and min(split.values()) >= 6, f"connections per worker: {dict(split)}"

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline, workers = time.monotonic() + 120, set()
        while time.monotonic() < deadline and not (victim not in workers and len(workers) == 2):
            try:
                workers = set(worker_of_each(port, 8))
            except OSError:  # a connection the dying worker had accepted
                workers = set()
            time.sleep(0.1)
        assert victim not in workers and len(workers - first) == 1, f"before {first}, after {workers}"
        assert server.poll() is None, "the launcher stopped when one worker died"
    finally:
        assert stop(server) == 0


@pytest.mark.slow
def test_a_worker_that_cannot_start_stops_the_launcher_with_its_message(tmp_path):
    port = free_loopback_port()
    server = launch(port, tmp_path, RECSYS_SERVICE_SOURCE="course", RECSYS_DATA_DIR=str(tmp_path / "empty"))
    try:
        code = server.wait(timeout=180)
    except subprocess.TimeoutExpired:
        server.kill()
        raise
    stderr = server.stderr.read().decode(errors="replace")
    assert code == 3, stderr[-2000:]
    assert "lesson" in stderr.lower(), stderr[-2000:]  # the missing artefact names the lesson to run
    assert stderr.count("failed to start") == 1 and "starting another" not in stderr


def test_a_port_in_use_is_refused_by_name():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "recsys_utils.service.serve", "--port", str(port),
                                 "--workers", "2"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr and "another --port" in result.stderr


def test_the_event_loop_choice_reaches_uvicorn_in_every_launch_mode(monkeypatch):
    """``--loop`` (module docstring: uvloop's tail under saturation) is handed to uvicorn as given,
    with one worker, and in each worker the supervisor starts."""
    from recsys_utils.service import serve

    seen = {}
    monkeypatch.setattr(serve.uvicorn, "run", lambda app, **kw: seen.setdefault("run", kw))
    assert serve.main(["--workers", "1", "--loop", "uvloop"]) == 0
    assert seen["run"]["loop"] == "uvloop"
    seen.clear()
    assert serve.main(["--workers", "1"]) == 0 and seen["run"]["loop"] == serve.DEFAULT_LOOP == "asyncio"

    class FakeServer:
        def __init__(self, config):
            seen["config_loop"] = config.loop

        def run(self, sockets):
            seen["sockets"] = len(sockets)
            for sock in sockets:
                sock.close()

    monkeypatch.setattr(serve.uvicorn, "Server", FakeServer)
    serve._worker("127.0.0.1", free_loopback_port(), "warning", False, "uvloop")
    assert seen["config_loop"] == "uvloop" and seen["sockets"] == 1
    assert serve.Supervisor(2, "127.0.0.1", 8000, "info", True, "auto").args[-1] == "auto"
    with pytest.raises(SystemExit):
        serve.main(["--loop", "trio"])  # not one of uvicorn's loops: argparse names the choices
