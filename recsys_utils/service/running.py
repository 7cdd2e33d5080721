"""Run the service on 127.0.0.1 for tests, benchmarks and the lesson: in a thread, or find a
free port and wait until a server process answers ``/health``."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..loopback import free_loopback_port, wait_until_healthy

__all__ = ["RunningService", "free_loopback_port", "process_stopped", "serve_in_thread", "wait_until_healthy"]


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
