"""An OpenAI-compatible endpoint for the local model: the subset the ``openai`` client uses.

``GET /v1/models``, ``POST /v1/chat/completions`` (non-streaming, ``n=1``) and ``GET /health``.
The course's OpenAI explainer talks to it through ``OPENAI_BASE_URL`` with the real client,
the same code path a hosted GPT-4-class model takes with a key.

Why a small endpoint of our own:

* ``transformers serve`` was tried and fails on a local GGUF: a TypeError at start-up, because
  ``config.architectures`` is None for a model converted from GGUF;
* Ollama, vLLM and llama.cpp's server would each need a binary or a compiler outside the
  package registries the course installs from;
* one process, shared by every notebook kernel and service worker, holds the one copy of the
  weights (~0.5 GB de-quantised) and serialises generation, which is what two CPU cores can
  run anyway; each worker loading its own copy would multiply memory and the load time.

Run: ``python -m recsys_utils.llm.server --port 8765`` (``--backend double`` serves the
deterministic test double instead). It binds 127.0.0.1 only; ``recsys_utils.llm.local``
starts and stops it for a lesson or the service.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LOOPBACK = "127.0.0.1"
MAX_TOKENS_LIMIT = 512


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "developer"]
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # the client may send fields we ignore (user, metadata...)
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=1)
    stream: bool | None = False


def create_app(model):
    """A FastAPI app serving ``model`` (anything with ``model_id`` and ``complete(messages, ...)``)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    app = FastAPI(title="recsys local LLM", docs_url=None, redoc_url=None)
    app.state.model = model

    # Errors in OpenAI's shape ({"error": {"message", "type"}}), which the client turns into its messages.
    @app.exception_handler(HTTPException)
    async def http_error(_request, error: HTTPException):
        return JSONResponse({"error": {"message": str(error.detail), "type": "invalid_request_error"}},
                            status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, error: RequestValidationError):
        where = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
        return JSONResponse({"error": {"message": f"invalid request: {where}", "type": "invalid_request_error"}},
                            status_code=422)
    created = int(time.time())

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": model.model_id, "load_seconds": round(model.load_seconds, 2),
                "source": model.source}

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": model.model_id, "object": "model", "created": created,
                                            "owned_by": "recsys-local"}]}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest) -> dict:
        if body.stream:
            raise HTTPException(400, "stream=true is not supported by the local endpoint; send stream=false")
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.content} for m in body.messages]
        limit = body.max_completion_tokens or body.max_tokens or 96
        start = time.perf_counter()
        # Generation is CPU-bound; the thread pool keeps /health answering meanwhile.
        result = await run_in_threadpool(model.complete, messages, limit, body.temperature or 0.0, body.seed)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.model_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                         "finish_reason": result.finish_reason, "logprobs": None}],
            "usage": {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                      "total_tokens": result.prompt_tokens + result.completion_tokens},
            "system_fingerprint": f"recsys-{model.source}",
            "x_generation_seconds": round(time.perf_counter() - start, 3),
        }

    return app


def load_backend(name: str, threads: int | None = None):
    if name == "local":
        from .model import load_local_model

        return load_local_model(threads=threads)
    if name.startswith("double"):
        from ..testing.chat_double import ChatDouble

        return ChatDouble(mode=name.partition(":")[2] or "grounded")
    raise ValueError(f"unknown backend {name!r}; use 'local' or 'double' ('double:invent')")


def serve(port: int, backend: str = "local", threads: int | None = None) -> None:
    import uvicorn

    from .model import ModelUnavailable

    try:
        model = load_backend(backend, threads)
    except ModelUnavailable as error:
        print(f"ModelUnavailable: {error}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None

    app = create_app(model)
    # Loopback only: the endpoint has no authentication and must never be reachable off the machine.
    uvicorn.run(app, host=LOOPBACK, port=port, log_level="warning", access_log=False, workers=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible endpoint for the course's local model")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", default="local", help="'local' (SmolLM2) or 'double' / 'double:invent'")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args(argv)
    serve(args.port, args.backend, args.threads)


if __name__ == "__main__":
    main()
