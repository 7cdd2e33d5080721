"""ASGI middleware of the service."""

from __future__ import annotations

import json


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a 413 before any parsing.

    The body is read here (it is small by construction) and replayed to the app, which covers
    bodies sent without a Content-Length (chunked) as well as honest ones.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._too_large(send, declared.decode("latin-1"))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._too_large(send, f"more than {size}")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, send, size: str):
        payload = json.dumps({"error": f"request body of {size} bytes is larger than the limit of {self.max_bytes} "
                                       "bytes; send a smaller request", "detail": None}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


class CpuTimingMiddleware:
    """Add ``Server-Timing: cpu;dur=<ms>``: the CPU time the request took on the thread that ran
    it, from the first byte in to the response head (on for benchmarks: ``RECSYS_SERVER_TIMING=1``).
    Exact for ``async`` routes such as ``/recommend``, which run on the event loop's thread."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        import time

        start = time.thread_time()

        async def timed_send(message):
            if message["type"] == "http.response.start":
                cpu_ms = (time.thread_time() - start) * 1000.0
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"server-timing", f"cpu;dur={cpu_ms:.3f}".encode())]}
            await send(message)

        return await self.app(scope, receive, timed_send)
