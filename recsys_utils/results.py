"""The one helper every lesson uses to record its figures for the report and the tests.

A lesson calls ``record_results("01_data_preparation", {...})`` in its last cell and
``save_figure(fig, "01_data_preparation", "rating_distribution")`` for each plot. The report
builder reads only these files: it never re-runs code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .fileio import atomic_write_json
from .paths import figures_dir, results_dir


def results_path(notebook: str) -> Path:
    return results_dir() / f"{_stem(notebook)}.json"


def load_results(notebook: str) -> dict[str, Any]:
    path = results_path(notebook)
    if not path.exists():
        raise FileNotFoundError(f"no results recorded for {notebook!r} at {path}; run the notebook first")
    return json.loads(path.read_text())


def record_results(notebook: str, metrics: dict[str, Any], **sections: Any) -> Path:
    """Merge ``metrics`` (and named extra sections such as ``tables=``) into the results file.

    Values must be JSON-friendly; NaN and infinity are refused because JSON has no such
    numbers and a test comparing them would be meaningless.
    """
    _check_finite(metrics, "metrics")
    path = results_path(notebook)
    current = json.loads(path.read_text()) if path.exists() else {"notebook": _stem(notebook)}
    current.setdefault("metrics", {}).update(metrics)
    for name, value in sections.items():
        current[name] = value
    # Insertion order is kept (no key sorting): table columns stay in the order the lesson chose.
    return atomic_write_json(path, current, sort_keys=False)


def save_figure(fig, notebook: str, name: str, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG and list it in the notebook's results file."""
    target = figures_dir() / _stem(notebook) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    from .fileio import atomic_path

    with atomic_path(target) as tmp:
        # metadata=None drops the software/date stamp so identical plots give identical files.
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    path = results_path(notebook)
    current = json.loads(path.read_text()) if path.exists() else {"notebook": _stem(notebook)}
    figures = current.setdefault("figures", {})
    figures[name] = str(target.relative_to(figures_dir().parent))
    atomic_write_json(path, current, sort_keys=False)
    return target


def _stem(notebook: str) -> str:
    return Path(notebook).stem


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value}; record a finite number or None")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_finite(item, f"{where}[{index}]")
