"""The service's exceptions and the JSON error answers they turn into.

Every error answer has the shape ``{"error": "<what was wrong and what to do>", "detail": ...}``
(``schemas.ErrorResponse``). Start-up problems are not HTTP errors: ``MissingArtifact`` and
``DamagedStore`` stop the process with a message naming the file or lesson involved.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class MissingArtifact(RuntimeError):
    """An artefact the service reads is absent; the message names the lesson that makes it."""


class DamagedStore(RuntimeError):
    """The feedback store failed its start-up check; the message names the file and what to do."""


class NotFound(LookupError):
    """An id in the request is unknown (-> 404)."""


class BadRequest(ValueError):
    """The request is well-formed but cannot be served as asked (-> 422)."""


class StoreBusy(RuntimeError):
    """The shared store did not answer within the request's budget (-> 503 with Retry-After)."""

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def error_response(status: int, message: str, detail: list | None = None, headers=None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "detail": detail}, headers=headers)


def body_parse_problem(cause: BaseException | None) -> str:
    """Why FastAPI could not parse a JSON body, in words a client can act on."""
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply (hundreds of levels of [ or {); send a flat JSON object"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return ("a number in the JSON body is too long (Python refuses integers of more than 4300 digits); "
                "ids and counts fit in 10 digits")
    if isinstance(cause, UnicodeDecodeError):
        return "the request body is not UTF-8 text; send a JSON object encoded as UTF-8"
    reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return f"the request body could not be parsed as JSON{reason}; send a JSON object"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        detail = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in detail[:5])
        return error_response(422, f"invalid request: {summary}", detail)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return error_response(404, str(exc))

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        return error_response(422, str(exc))

    @app.exception_handler(StoreBusy)
    async def busy(request: Request, exc: StoreBusy):
        return error_response(503, str(exc), headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = body_parse_problem(exc.__cause__)
        # Keep the exception's headers: a 405 must list the allowed methods in `Allow`.
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))
