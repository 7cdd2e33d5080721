"""FastAPI dependencies shared by the routers (``ServiceDep``: the app's live ``Service``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .runtime import Service


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
