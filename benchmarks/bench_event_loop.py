"""uvloop against asyncio under a saturating closed-loop load: why ``serve --loop`` exists.

    .venv/bin/python benchmarks/bench_event_loop.py [--work-ms 2] [--clients 32] [--seconds 5]

A bare ASGI app (``app`` below) spends ``--work-ms`` of CPU on each request, served by uvicorn on
127.0.0.1 with each event loop in turn, alternated twice; ``--clients`` asyncio clients send
their next request as soon as an answer arrives. Printed per run: req/s, p50, p90, p99, and
p99/p50. In a closed loop every request waits for the others once (p50 = clients x work), so
p99/p50 near 1 means fair service; uvloop sends the answers of one loop iteration only when the
iteration ends, so some requests wait two rounds (MagicStack/uvloop#123). The ratios are what to
read: this machine's speed moves between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_service import RawClient  # noqa: E402  a sibling script: benchmarks/ is on sys.path

from recsys_utils.service.running import free_loopback_port, process_stopped, wait_until_healthy  # noqa: E402

WORK_S = float(os.environ.get("BENCH_WORK_MS", "2")) / 1000.0
BODY = b'{"ok": true}'


async def app(scope, receive, send):
    """Lifespan, then: read the body, burn WORK_S of thread CPU, answer a small JSON."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    start = time.thread_time()
    while time.thread_time() - start < WORK_S:
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})


async def _load(port: int, clients: int, seconds: float) -> np.ndarray:
    latencies: list[float] = []
    connections = [RawClient("127.0.0.1", port) for _ in range(clients)]
    await asyncio.gather(*(c.connect() for c in connections))
    stop = time.perf_counter() + seconds

    async def client(connection: RawClient):
        while time.perf_counter() < stop:  # bounded by the clock
            start = time.perf_counter()
            await connection.request("GET", "/health")
            latencies.append((time.perf_counter() - start) * 1000.0)

    await asyncio.gather(*(client(c) for c in connections))
    await asyncio.gather(*(c.close() for c in connections))
    return np.asarray(latencies)


def run(loop: str, args) -> str:
    port = free_loopback_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_event_loop:app", "--host", "127.0.0.1", "--port", str(port),
         "--loop", loop, "--log-level", "warning", "--no-access-log"],
        cwd=Path(__file__).resolve().parent, env=dict(os.environ, BENCH_WORK_MS=str(args.work_ms)))
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process_stopped(server), timeout=60)
        ms = asyncio.run(_load(port, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return (f"{loop:>8} {len(ms) / args.seconds:>7.0f} {p50:>7.1f} {p90:>7.1f} {p99:>7.1f} {p99 / p50:>8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-ms", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"{args.clients} closed-loop clients, {args.work_ms} ms of CPU per request")
    print(f"{'loop':>8} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'p99/p50':>9}")
    for loop in ("uvloop", "asyncio", "uvloop", "asyncio"):
        print(run(loop, args), flush=True)


if __name__ == "__main__":
    main()
