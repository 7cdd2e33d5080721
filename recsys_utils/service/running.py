"""Run the service on 127.0.0.1 for tests, benchmarks and the lesson: in a thread, or find a
free port and wait until a server process answers ``/health``."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class RunningService:
    base_url: str
    server: object
    thread: threading.Thread
    app: object

    @property
    def service(self):
        return self.app.state.service

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(base_url: str, stopped=lambda: None, timeout: float = 60.0) -> None:
    """Block until ``GET /health`` answers 200.

    ``stopped()`` says why the server can no longer come up (a string) or returns None while it
    may; it is asked between attempts. Raises ``RuntimeError`` with that reason, or
    ``TimeoutError`` when nothing answered within ``timeout`` seconds.
    """
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reason = stopped()
        if reason:
            raise RuntimeError(reason)
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"the service did not answer {base_url}/health within {timeout:.0f} s")


def process_stopped(process):
    """A ``stopped`` check for a server started with ``subprocess.Popen(..., stderr=PIPE)``."""

    def stopped() -> str | None:
        if process.poll() is None:
            return None
        stderr = process.stderr.read().decode(errors="replace")[-3000:] if process.stderr else ""
        return f"the service exited at start-up:\n{stderr}"

    return stopped


def serve_in_thread(app, port: int | None = None, timeout: float = 120.0) -> RunningService:
    """Run ``app`` with uvicorn on 127.0.0.1 in a daemon thread; returns once it answers."""
    import uvicorn

    port = port or free_loopback_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(
            base_url,
            lambda: None if thread.is_alive() else
            "the service stopped during start-up; see the log above for the missing artefact",
            timeout,
        )
    except TimeoutError:
        server.should_exit = True
        raise
    return RunningService(base_url, server, thread, app)
