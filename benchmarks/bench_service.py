"""Load test of ``POST /recommend`` on loopback: N concurrent clients, requests/s, p50/p99.

    .venv/bin/python benchmarks/bench_service.py                  # course artefacts, 32 clients
    .venv/bin/python benchmarks/bench_service.py --synthetic      # no artefacts needed
    .venv/bin/python benchmarks/bench_service.py --clients 1,8,32 --seconds 10
    .venv/bin/python benchmarks/bench_service.py --allow-no-policy  # before lesson 04 has run (says so)

The service runs as it would in production: ``uvicorn recsys_utils.service:app`` in its own
process on 127.0.0.1, offline explainer, fine-tuning off (it would compete for the cores with
the request path and make runs incomparable). The load generator is a separate process with
N asyncio clients, each sending its next request as soon as the previous answer arrived
(closed loop), for random known users with k=10 and explanations on. Latency is measured by
the client, so it includes HTTP parsing on both sides.

Target (issue 7): p99 < 50 ms at 32 concurrent clients on 2 cores. The script prints the
figures and ``ratio = p99 / 50 ms`` (below 1 meets the target). Both processes share the same
two cores, so the client's own CPU time is part of what is measured; that is on purpose: it
is the worst case a reader's laptop will see.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from recsys_utils.service.running import free_loopback_port, process_stopped, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 50.0
TARGET_CLIENTS = 32


def start_server(port: int, synthetic: bool, db: Path, allow_no_policy: bool = False) -> subprocess.Popen:
    env = dict(
        os.environ,
        RECSYS_EXPLAINER="offline",
        RECSYS_FEEDBACK_DB=str(db),
        RECSYS_FINE_TUNE="0",
        PYTHONPATH=str(ROOT),
    )
    if allow_no_policy:
        env["RECSYS_SERVICE_REQUIRE_POLICY"] = "0"
    env.pop("OPENAI_API_KEY", None)
    if synthetic:
        env["RECSYS_SERVICE_SOURCE"] = "synthetic"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "recsys_utils.service:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process_stopped(process), timeout=180)
    except (RuntimeError, TimeoutError) as failure:
        process.kill()
        sys.exit(str(failure))
    return process


class RawClient:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for this benchmark.

    Why not httpx: measured on this machine, httpx.AsyncClient spends more CPU per request than
    the service itself at 32 connections, and client and server share two cores, so the figure
    would mostly measure the client. This client costs a few tens of microseconds per request.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, payload: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self.writer.write(head + payload)
        status_line = await self.reader.readuntil(b"\r\n")
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return int(status_line.split()[1]), body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def load(port: int, user_ids: list[int], clients: int, seconds: float, k: int, seed: int,
               each_once: bool = False):
    """Closed-loop load for ``seconds``; with ``each_once`` every user is asked exactly once
    (a cold pass: nothing about these users is cached yet) and the run ends when all are done."""
    latencies: list[float] = []
    errors = 0
    rng = random.Random(seed)
    queue = list(user_ids)
    rng.shuffle(queue)
    connections = [RawClient("127.0.0.1", port) for _ in range(clients)]
    await asyncio.gather(*(c.connect() for c in connections))
    stop_at = time.perf_counter() + (float("inf") if each_once else seconds)

    async def client(connection: RawClient) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at and (queue or not each_once):
            user = queue.pop() if each_once else rng.choice(user_ids)
            payload = json.dumps({"user_id": user, "k": k}).encode()
            start = time.perf_counter()
            status, body = await connection.post("/recommend", payload)
            latencies.append(time.perf_counter() - start)
            if status != 200 or b'"items"' not in body:
                errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    elapsed = time.perf_counter() - began
    await asyncio.gather(*(c.close() for c in connections))
    return np.asarray(latencies) * 1000.0, errors, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each level")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--synthetic", action="store_true", help="serve the synthetic world (no artefacts needed)"
    )
    parser.add_argument(
        "--allow-no-policy",
        action="store_true",
        help="serve without lesson 04's policy (re-ranking off; the figures then omit its cost)",
    )
    args = parser.parse_args()
    port = free_loopback_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(port, args.synthetic, Path(tmp) / "feedback.sqlite3", args.allow_no_policy)
        base_url = f"http://127.0.0.1:{port}"
        try:
            health = httpx.get(f"{base_url}/health").json()
            print(
                f"service: {health['source']}; policy {health['policy_version']} "
                f"({health['reranking']['base_policy']}); explainer {health['explainer']}; status {health['status']}"
            )
            user_ids = list(range(1, 944)) if not args.synthetic else list(range(1, 61))
            print(f"{'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
            # Cold pass: every user once at the target concurrency. Explanations are memoised
            # per (user, movie), so this is the worst case; the levels below are the steady state.
            ms, errors, elapsed = asyncio.run(load(port, user_ids, TARGET_CLIENTS, 0, args.k, seed=0, each_once=True))
            cold_p99 = np.percentile(ms, 99)
            print(f"{TARGET_CLIENTS:>7} {len(ms) / elapsed:>8.0f} {np.percentile(ms, 50):>8.1f} {cold_p99:>8.1f} "
                  f"{errors:>6}  (cold: first request of each of {len(user_ids)} users)")
            results = {}
            for clients in (int(c) for c in args.clients.split(",")):
                ms, errors, elapsed = asyncio.run(
                    load(port, user_ids, clients, args.seconds, args.k, seed=clients)
                )
                p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
                results[clients] = p99
                print(f"{clients:>7} {len(ms) / elapsed:>8.0f} {p50:>8.1f} {p99:>8.1f} {errors:>6}")
            if TARGET_CLIENTS in results:
                ratio = results[TARGET_CLIENTS] / TARGET_P99_MS
                verdict = "meets" if ratio < 1 else "misses"
                print(
                    f"p99 at {TARGET_CLIENTS} clients / target {TARGET_P99_MS:.0f} ms = {ratio:.2f} ({verdict} the target)"
                )
                print(f"cold pass: p99 / target = {cold_p99 / TARGET_P99_MS:.2f}")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
