"""Servers the course starts on 127.0.0.1 (the service, the local language model): a free port, and
waiting until one answers ``GET /health``. Nothing here binds or calls anything off the machine."""

from __future__ import annotations

import socket
import time


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(base_url: str, stopped=lambda: None, timeout: float = 60.0, name: str = "the service") -> None:
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
    raise TimeoutError(f"{name} did not answer {base_url}/health within {timeout:.0f} s")
