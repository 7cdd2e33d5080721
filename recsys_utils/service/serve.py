"""Serve the API with N worker processes, each listening on its own ``SO_REUSEPORT`` socket.

    .venv/bin/python -m recsys_utils.service.serve --host 127.0.0.1 --port 8000 --workers 2   # make serve

Why not ``uvicorn --workers N``: its supervisor binds one socket and every worker accepts from
it, so a connection goes to whichever worker's event loop wakes first, and a keep-alive
connection stays there. Measured here with 32 keep-alive clients connecting together (what
``benchmarks/bench_service.py`` does, and what a pool of clients behind one proxy does): the
connections split 32/0, 25/7 and 20/12 between two workers in three tries, and two workers
answered 0.91x the requests of one. With ``SO_REUSEPORT`` (Linux) each worker listens on a
socket of its own and the kernel spreads new connections over them by a hash of the
connection's addresses and ports, so each worker gets about half. Gunicorn's ``--reuse-port``
does not help: it too binds the listener once in its supervisor and shares it.

The supervisor here does what uvicorn's does, no more: it starts the workers, restarts one
that dies (at most ``MAX_RESTARTS`` a minute), stops when a worker fails its start-up (a missing
artefact: the worker has printed which lesson to run, and restarting would only print it again),
and on SIGINT/SIGTERM stops every worker gracefully. Where ``SO_REUSEPORT`` does not balance
(macOS, Windows) it hands over to uvicorn's own supervisor and says so. With one worker it is
plain ``uvicorn``. Settings come from the environment as for ``uvicorn recsys_utils.service:app``.

``--loop`` is uvicorn's: ``asyncio`` (the default here), ``uvloop`` or ``auto`` (uvicorn's own
default: uvloop when installed). Why asyncio: under a saturating closed-loop load, uvloop sends
the responses of the requests one loop iteration ran only when the iteration ends, so about 1% of
requests wait two rounds (a known uvloop behaviour, MagicStack/uvloop#123). Measured with a bare
ASGI app doing 2 ms of CPU per request, 32 closed-loop clients (``benchmarks/bench_event_loop.py``):
p99/p50 2.0x with uvloop, 1.1-1.2x with asyncio, at 0.95-1.02x its throughput. On the service's
online path (``benchmarks/bench_service.py --online --loop L``, 32 clients, alternated runs) asyncio
had the lower p99 in all 10 pairs measured with 1 and 2 workers (the latest: 2 workers 70-90 ms
against 126-144 ms, 1 worker 123-185 ms against 150-229 ms). Its throughput was 1.04-1.46x
uvloop's with 2 workers and 0.79-1.05x with 1. On the default path (0.5-0.9 ms requests) the two
were within this machine's run-to-run noise in both directions.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import socket
import sys
import time
from collections import deque

import uvicorn
from uvicorn.config import STARTUP_FAILURE  # a worker's exit code when the app's start-up failed

__all__ = ["APP", "MAX_RESTARTS", "balanced_ports_supported", "main", "reuse_port_socket"]

APP = "recsys_utils.service:app"
MAX_RESTARTS = 5  # within RESTART_WINDOW_S; a worker that keeps dying is a bug to read, not to loop on
RESTART_WINDOW_S = 60.0
STOP_TIMEOUT_S = 30.0
DEFAULT_LOOP = "asyncio"  # a fair tail under load (see the module docstring on --loop)
LOOPS = ("auto", "asyncio", "uvloop")

logger = logging.getLogger("recsys_utils.service.serve")


def balanced_ports_supported() -> bool:
    """Linux spreads connections over ``SO_REUSEPORT`` listeners; BSD/macOS give them all to one."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _address(host: str, port: int) -> tuple[int, tuple]:
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return family, address


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket with ``SO_REUSEPORT``; ``listen`` is left to the server."""
    family, address = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        # IPPROTO_TCP above is what makes asyncio set TCP_NODELAY on accepted connections (running.py).
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another server listens on. Without this check, workers would silently join an
    older instance's ``SO_REUSEPORT`` group (same user) and the two would share the traffic."""
    family, address = _address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
        try:
            probe.bind(address)
        except OSError as error:
            raise SystemExit(f"cannot serve on {host}:{port}: {error.strerror}. Stop the server already "
                             "listening there, or pass another --port.") from None


def _worker(host: str, port: int, log_level: str, access_log: bool, loop: str = DEFAULT_LOOP) -> None:
    """One worker process: its own socket, the app, uvicorn's server loop (which handles SIGTERM)."""
    sock = reuse_port_socket(host, port)
    config = uvicorn.Config(APP, log_level=log_level, access_log=access_log, loop=loop)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    def __init__(self, workers: int, host: str, port: int, log_level: str, access_log: bool,
                 loop: str = DEFAULT_LOOP):
        self.count, self.args = workers, (host, port, log_level, access_log, loop)
        self.context = multiprocessing.get_context("spawn")  # no forked torch/BLAS threads in workers
        self.processes: list = []
        self.restarts: deque[float] = deque()
        self.stopping = False

    def _start_one(self):
        process = self.context.Process(target=_worker, args=self.args, name="recsys-worker", daemon=False)
        process.start()
        return process

    def _request_stop(self, signum, frame) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        self.processes = [self._start_one() for _ in range(self.count)]
        logger.info("serving on %s:%d with %d workers (SO_REUSEPORT)", self.args[0], self.args[1], self.count)
        code = 0
        while not self.stopping:
            time.sleep(0.2)
            for slot, process in enumerate(self.processes):
                if process.is_alive() or self.stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    logger.error("a worker failed to start (its message is above); stopping")
                    self.stopping, code = True, STARTUP_FAILURE
                    break
                now = time.monotonic()
                while self.restarts and now - self.restarts[0] > RESTART_WINDOW_S:
                    self.restarts.popleft()
                if len(self.restarts) >= MAX_RESTARTS:
                    logger.error("workers died %d times within %.0f s (last exit code %s); stopping",
                                 MAX_RESTARTS, RESTART_WINDOW_S, process.exitcode)
                    self.stopping, code = True, 1
                    break
                logger.warning("worker %d exited with code %s; starting another", process.pid, process.exitcode)
                self.restarts.append(now)
                self.processes[slot] = self._start_one()
        self._stop_all()
        return code

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes open requests, runs the lifespan shutdown
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("worker %d did not stop within %.0f s; killing it", process.pid, STOP_TIMEOUT_S)
                process.kill()
                process.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--loop", default=DEFAULT_LOOP, choices=LOOPS,
                        help="the workers' event loop, as uvicorn's --loop (default asyncio: a fair tail under load)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(message)s")
    access_log = not args.no_access_log
    if args.workers == 1:
        uvicorn.run(APP, host=args.host, port=args.port, log_level=args.log_level, access_log=access_log,
                    loop=args.loop)
        return 0
    if not balanced_ports_supported():
        logger.warning("SO_REUSEPORT does not balance connections on %s: using uvicorn's shared socket, whose "
                       "workers may take connections unevenly", sys.platform)
        uvicorn.run(APP, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
                    access_log=access_log, loop=args.loop)
        return 0
    check_port_free(args.host, args.port)
    return Supervisor(args.workers, args.host, args.port, args.log_level, access_log, args.loop).run()


if __name__ == "__main__":
    sys.exit(main())
