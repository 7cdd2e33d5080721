"""Each lesson's run time (measured by the runner) and reading time (counted from its prose).

The runner writes what it measured into ``notebooks/timings.json`` (committed), keyed by profile
and lesson, so a lesson's header never carries a typed-in time. ``show_times(NOTEBOOK)`` is the
second cell of every lesson.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..paths import notebooks_dir

WORDS_PER_MINUTE = 200  # prose; each code cell adds half a minute to read and run by hand
CODE_CELL_MINUTES = 0.5


def timings_path() -> Path:
    return notebooks_dir() / "timings.json"


def load_timings(path: Path | None = None) -> dict[str, Any]:
    path = path or timings_path()
    return json.loads(path.read_text()) if path.exists() else {}


def reading_minutes(notebook: Path) -> int:
    """Minutes to read the lesson's markdown and step through its code cells, rounded up to 5."""
    cells = json.loads(notebook.read_text())["cells"]
    words = sum(len("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")
    code = sum(1 for c in cells if c["cell_type"] == "code")
    minutes = words / WORDS_PER_MINUTE + code * CODE_CELL_MINUTES
    return max(5, int(math.ceil(minutes / 5) * 5))


def _format_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def lesson_times(stem: str, timings: dict[str, Any] | None = None) -> dict[str, Any]:
    timings = load_timings() if timings is None else timings
    runs = {profile: table[stem] for profile, table in timings.get("profiles", {}).items() if stem in table}
    notebook = notebooks_dir() / f"{stem}.ipynb"
    return {"run_s": runs, "reading_min": reading_minutes(notebook) if notebook.exists() else None}


def show_times(stem: str) -> None:
    """Print the lesson's measured run time per profile and its reading time."""
    times = lesson_times(Path(stem).stem)
    runs = times["run_s"]
    if runs:
        measured = ", ".join(f"{_format_seconds(v['seconds'])} ({p} profile)" for p, v in sorted(runs.items()))
        run_text = f"Run time, measured by the course runner on 2 cores: {measured}."
    else:
        run_text = "Run time: not measured yet (the course runner records it in notebooks/timings.json)."
    print(run_text)
    if times["reading_min"]:
        print(f"Reading time: about {times['reading_min']} minutes.")
