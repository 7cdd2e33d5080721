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


def record_results(notebook: str, metrics: dict[str, Any], **sections: Any) -> None:
    """Merge ``metrics`` (and named extra sections such as ``tables=``) into the results file.

    Returns nothing, so the last cell of a lesson echoes no path (``results_path`` says where it went).

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
    atomic_write_json(path, current, sort_keys=False)


def headline(
    text: str,
    value: float,
    ci: tuple[float, float] | None = None,
    protocol: str = "",
    unit: str = "",
) -> dict[str, Any]:
    """One headline finding for the report's front page: a sentence, its number, interval and protocol.

    ``text`` is the sentence a reader sees (decided by the interval, never typed as a number);
    lessons pass a list of these as ``record_results(..., headlines=[...])``.
    """
    item: dict[str, Any] = {"text": text, "value": float(value), "protocol": protocol, "unit": unit}
    if ci is not None:
        item["ci"] = [float(ci[0]), float(ci[1])]
    _check_finite(item, "headline")
    return item


def save_figure(fig, notebook: str, name: str, caption: str | None = None, dpi: int = 110) -> None:
    """Save a matplotlib figure as PNG and list it (with its caption) in the notebook's results file.

    Returns nothing, so a notebook cell ending in ``save_figure(...)`` echoes no path.
    """
    target = figure_path(notebook, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    from .fileio import atomic_path

    with atomic_path(target) as tmp:
        # metadata=None drops the software/date stamp so identical plots give identical files.
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    path = results_path(notebook)
    current = json.loads(path.read_text()) if path.exists() else {"notebook": _stem(notebook)}
    figures = current.setdefault("figures", {})
    figures[name] = str(target.relative_to(figures_dir().parent))
    if caption:
        current.setdefault("captions", {})[name] = caption
    atomic_write_json(path, current, sort_keys=False)


def figure_path(notebook: str, name: str) -> Path:
    """Where ``save_figure`` wrote ``name`` for ``notebook``."""
    return figures_dir() / _stem(notebook) / f"{name}.png"


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
