"""A disk cache of LLM answers, so re-running a lesson does not pay for the same prompt twice.

One JSON file per answer under ``cache_dir()/llm/``, named by the SHA-256 of everything that
determines the answer (model, prompt, sampling settings, prompt version). Files hold the
answer text, token usage and model name only: never request headers, so never the API key.
Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..fileio import atomic_write_json
from ..paths import cache_dir


def default_llm_cache_dir() -> Path:
    return cache_dir() / "llm"


def cache_key(request: dict) -> str:
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class LLMCache:
    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else default_llm_cache_dir()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is a miss; the next answer overwrites it

    def put(self, key: str, entry: dict) -> Path:
        return atomic_write_json(self.path(key), entry)
