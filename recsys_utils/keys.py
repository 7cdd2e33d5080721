"""API keys come from the environment only; in an interactive session the reader may type one.

A key is never a notebook parameter (papermill writes parameters into the executed copy), never
printed and never logged: callers learn only whether it is set.
"""

from __future__ import annotations

import getpass
import os
import sys


def running_interactively() -> bool:
    """True in a terminal or a Jupyter kernel a person drives; False under papermill or CI."""
    if os.environ.get("CI") or os.environ.get("PAPERMILL_EXECUTION"):
        return False
    return bool(getattr(sys.stdin, "isatty", lambda: False)()) or "ipykernel" in sys.modules


def ensure_key(name: str, ask: bool = False, purpose: str = "") -> bool:
    """Is the key ``name`` set? With ``ask=True`` in an interactive session, prompt for it once
    (hidden input) and keep it in this process's environment only. Returns whether it is set."""
    if os.environ.get(name):
        return True
    if not ask or not running_interactively():
        return False
    hint = f" for {purpose}" if purpose else ""
    try:
        value = getpass.getpass(f"{name}{hint} (leave empty to stay offline): ").strip()
    except Exception:  # a front end without input support (ipykernel's StdinNotImplementedError)
        return False
    if value:
        os.environ[name] = value
    return bool(value)
