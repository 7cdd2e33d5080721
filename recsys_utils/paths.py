"""Where the course keeps data, artefacts and reports.

Every location can be moved with an environment variable so tests and CI can work in a
temporary folder without touching the reader's checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """Downloads, caches and processed files (``RECSYS_DATA_DIR``, default ``data/``)."""
    return _env_path("RECSYS_DATA_DIR", PROJECT_ROOT / "data")


def raw_dir() -> Path:
    return data_dir() / "raw"


def processed_dir() -> Path:
    return data_dir() / "processed"


def cache_dir() -> Path:
    """Caches that only save time (embeddings, LLM answers); safe to delete."""
    return data_dir() / "cache"


def artifacts_dir() -> Path:
    """What one lesson makes and a later one (or the service) reads: index, policies."""
    return data_dir() / "artifacts"


def reports_dir() -> Path:
    """Executed notebooks, results JSON, figures and the report (``RECSYS_REPORTS_DIR``)."""
    return _env_path("RECSYS_REPORTS_DIR", PROJECT_ROOT / "reports")


def results_dir() -> Path:
    return reports_dir() / "results"


def figures_dir() -> Path:
    return reports_dir() / "figures"


def notebooks_dir() -> Path:
    return PROJECT_ROOT / "notebooks"
