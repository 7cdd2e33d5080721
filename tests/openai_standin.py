"""A loopback stand-in for an OpenAI-compatible chat-completions server.

The real ``openai`` client talks to it over HTTP on 127.0.0.1, so the explainer's real code
path (client construction from the environment, timeouts, retries, response parsing, token
usage) is exercised without a key or the internet. It speaks the one endpoint the explainer
uses, ``POST {base_url}/chat/completions``, which Ollama, vLLM and llama.cpp also serve.

Behaviour is chosen with ``server.mode`` (tests change it between calls):

``grounded``   answers with a sentence built only from the ``<facts>`` block of the prompt.
``ungrounded`` answers with an invented title, year and rating (the faithfulness check must
               catch it).
``mixed``      ungrounded for the 2nd, 5th, 8th... request, grounded otherwise: a fixed mix
               so a lesson run (whose requests come in a fixed order) shows some fallbacks.
``malformed``  HTTP 200 whose body is not a chat completion (JSON without choices).
``garbage``    HTTP 200 whose body is not JSON at all.
``slow``       waits ``slow_seconds`` before answering, longer than the client's timeout.
``flaky``      HTTP 500 for the first ``fail_first`` requests, then grounded answers.

Run it by hand for the lesson: ``python tests/openai_standin.py --mode mixed --key sk-test``
prints the ``OPENAI_BASE_URL`` to export.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("grounded", "ungrounded", "mixed", "malformed", "garbage", "slow", "flaky")
FACTS_BLOCK = re.compile(r"<facts>\s*(.*?)\s*</facts>", re.DOTALL)


class OpenAIStandIn:
    """Start with ``with OpenAIStandIn(api_key="sk-test") as server:``; ``server.base_url``."""

    def __init__(self, api_key: str, mode: str = "grounded", slow_seconds: float = 2.0, fail_first: int = 1):
        if mode not in MODES:
            raise ValueError(f"unknown stand-in mode {mode!r}; choose one of {', '.join(MODES)}")
        self.api_key = api_key
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.fail_first = fail_first
        self.requests: list[dict] = []  # bodies received, for assertions (never the headers)
        self.unauthorised = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes "slow" handlers so shutdown does not wait for them
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- behaviour -------------------------------------------------------------------------

    def _answer(self, body: dict) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(body)
            count = len(self.requests)
        mode = self.mode
        if mode == "flaky" and count <= self.fail_first:
            return 500, json.dumps({"error": {"message": "stand-in: temporary failure", "type": "server_error"}}).encode()
        if mode == "slow":
            self._stopping.wait(self.slow_seconds)
        if mode == "malformed":
            return 200, json.dumps({"id": "x", "object": "chat.completion", "unexpected": True}).encode()
        if mode == "garbage":
            return 200, b"<html>this is not json"
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        # The facts travel in the user message (the system message only names the delimiters).
        facts = _parse_facts("\n".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"))
        ungrounded = mode == "ungrounded" or (mode == "mixed" and count % 3 == 2)
        text = _ungrounded_text(facts) if ungrounded else _grounded_text(facts)
        return 200, json.dumps(_completion(body.get("model", "stand-in"), text, prompt)).encode()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode())
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    server.unauthorised += 1
                    return self._send(401, json.dumps({"error": {"message": "invalid api key"}}).encode())
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = server._answer(body)
                self._send(status, payload)

            def _send(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test); nothing to tell it

            def log_message(self, *args):  # keep test output clean
                pass

        return Handler


def _parse_facts(prompt: str) -> dict:
    match = FACTS_BLOCK.search(prompt)
    if not match:
        return {}
    try:
        return json.loads(match.group(1))
    except json.JSONDecodeError:
        return {}


def _grounded_text(facts: dict) -> str:
    movie = facts.get("recommended_movie", {})
    liked = facts.get("user_liked_movies", [])
    title = movie.get("title", "this movie")
    if not liked:
        return f"We recommend {title}."
    first = liked[0]
    shared = [g for g in movie.get("genres", []) if g in first.get("genres", [])]
    text = f"Based on your interest in {first['title']}, we recommend {title}"
    text += f" ({movie['year']})." if movie.get("year") else "."
    if shared:
        text += f" Both are {shared[0].lower()} films."
    return text


def _ungrounded_text(facts: dict) -> str:
    liked = facts.get("user_liked_movies", [])
    anchor = liked[0]["title"] if liked else "your favourites"
    return (
        f"Because you loved {anchor} and Blade Runner 2049, you will enjoy this 1987 classic, "
        "which holds an IMDb rating of 9.7/10."
    )


def _completion(model: str, text: str, prompt: str) -> dict:
    # Token counts are rough word counts: enough for the explainer to record usage.
    prompt_tokens, completion_tokens = len(prompt.split()), len(text.split())
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="grounded")
    parser.add_argument("--key", required=True, help="the key the stand-in accepts (use a dummy)")
    args = parser.parse_args()
    with OpenAIStandIn(api_key=args.key, mode=args.mode) as server:
        print(f"export OPENAI_BASE_URL={server.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
