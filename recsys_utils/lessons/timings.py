"""Each lesson's run time (measured by the runner) and reading time (counted from its prose).

The course runner writes what it measured into ``notebooks/timings.json`` (committed), keyed by
dataset, profile and lesson, so a lesson's header never carries a typed-in time::

    {"machine": "2 cores", "datasets": {"ml-100k": {"full": {"01_data_preparation": 4.7, ...},
                                                    "smoke": {...}}}}

``python -m recsys_utils.course run --record-timings`` updates it; ``tests/test_timings.py`` fails
when a fresh smoke run drifts more than 50% from what is recorded. ``setup_lesson(NOTEBOOK)`` (see
``lessons/setup.py``) prints these times in every lesson's second cell.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..constants import DEFAULT_DATASET
from ..fileio import atomic_write_json
from ..paths import notebooks_dir

WORDS_PER_MINUTE = 200  # prose; each code cell adds half a minute to read and run by hand
CODE_CELL_MINUTES = 0.5
# A fresh run may differ from the recorded one by this share (and always by this many seconds, so a
# 3-second lesson does not fail on a kernel's start-up jitter).
DRIFT_TOLERANCE = 0.5
DRIFT_FLOOR_S = 5.0


def timings_path() -> Path:
    return notebooks_dir() / "timings.json"


def load_timings(path: Path | None = None) -> dict[str, Any]:
    path = path or timings_path()
    return json.loads(path.read_text()) if path.exists() else {"datasets": {}}


def record_timings(profile: str, dataset: str, seconds: dict[str, float], path: Path | None = None,
                   machine: str | None = None) -> Path:
    """Merge one run's per-lesson seconds into the timings file (atomically)."""
    path = path or timings_path()
    table = load_timings(path)
    runs = table.setdefault("datasets", {}).setdefault(dataset, {}).setdefault(profile, {})
    runs.update({stem: round(float(s), 1) for stem, s in seconds.items()})
    table["datasets"][dataset][profile] = dict(sorted(runs.items()))
    if machine:
        table["machine"] = machine
    atomic_write_json(path, table, sort_keys=False)
    return path


def recorded_seconds(stem: str, profile: str, dataset: str = DEFAULT_DATASET,
                     timings: dict[str, Any] | None = None) -> float | None:
    timings = load_timings() if timings is None else timings
    return timings.get("datasets", {}).get(dataset, {}).get(profile, {}).get(stem)


def drift(recorded: float, fresh: float) -> str | None:
    """None when ``fresh`` is within tolerance of ``recorded``, else a sentence saying by how much."""
    allowed = max(DRIFT_TOLERANCE * recorded, DRIFT_FLOOR_S)
    if abs(fresh - recorded) <= allowed:
        return None
    return (f"recorded {recorded:.1f} s, measured {fresh:.1f} s ({fresh / recorded:.2f}x); "
            "re-record with `python -m recsys_utils.course run --profile smoke --record-timings`")


def reading_minutes(notebook: Path) -> int:
    """Minutes to read the lesson's markdown and step through its code cells, rounded up to 5."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    words = sum(len("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")
    code = sum(1 for c in cells if c["cell_type"] == "code")
    minutes = words / WORDS_PER_MINUTE + code * CODE_CELL_MINUTES
    return max(5, int(math.ceil(minutes / 5) * 5))


def format_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def lesson_times(stem: str, dataset: str = DEFAULT_DATASET, timings: dict[str, Any] | None = None) -> dict[str, Any]:
    timings = load_timings() if timings is None else timings
    profiles = timings.get("datasets", {}).get(dataset, {})
    runs = {profile: table[stem] for profile, table in profiles.items() if stem in table}
    notebook = notebooks_dir() / f"{stem}.ipynb"
    return {"run_s": runs, "reading_min": reading_minutes(notebook) if notebook.exists() else None}


def show_times(stem: str, dataset: str = DEFAULT_DATASET) -> None:
    """Print the lesson's measured run time per profile and its reading time."""
    times = lesson_times(Path(stem).stem, dataset)
    runs = times["run_s"]
    if runs:
        measured = ", ".join(f"{format_seconds(s)} ({p} profile)" for p, s in sorted(runs.items()))
        print(f"Run time on {dataset}, measured by the course runner on 2 cores: {measured}.")
    else:
        print("Run time: not measured yet (the course runner records it in notebooks/timings.json).")
    if times["reading_min"]:
        print(f"Reading time: about {times['reading_min']} minutes.")


# --- the instructor guide's agenda tables, generated from the measured times --------------------------

START, END = "<!-- timings:start -->", "<!-- timings:end -->"
# What an instructor does with each lesson in a 3-hour workshop: demo (instructor runs, students watch),
# run (students run it), or skim (read together, results from the report).
THREE_HOUR_PLAN = {
    "00": "run", "01": "skim", "02": "run", "03": "demo", "04": "demo", "05": "run", "06": "demo",
}


def _title(stem: str) -> str:
    notebook = notebooks_dir() / f"{stem}.ipynb"
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).splitlines()[0]
            return first.lstrip("# ").strip()
    return stem


def agenda_markdown(dataset: str = DEFAULT_DATASET, timings: dict[str, Any] | None = None) -> str:
    """The measured-time table and both agendas, as Markdown (INSTRUCTOR.md embeds it between markers)."""
    timings = load_timings() if timings is None else timings
    stems = sorted(p.stem for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    rows = ["| lesson | run, full profile | run, smoke profile | reading |", "| --- | --- | --- | --- |"]
    for stem in stems:
        times = lesson_times(stem, dataset, timings)
        full, smoke = times["run_s"].get("full"), times["run_s"].get("smoke")
        rows.append(f"| {_title(stem)} | {format_seconds(full) if full else 'not measured'} | "
                    f"{format_seconds(smoke) if smoke else 'not measured'} | {times['reading_min']} min |")
    reading = {stem: lesson_times(stem, dataset, timings)["reading_min"] for stem in stems}
    full_runs = {stem: lesson_times(stem, dataset, timings)["run_s"].get("full") or 0 for stem in stems}
    total_run = sum(full_runs.values()) / 60
    three = ["| block | lesson | how | minutes |", "| --- | --- | --- | --- |"]
    minutes = 0
    for stem in stems:
        how = THREE_HOUR_PLAN.get(stem[:2], "skim")
        # Students running a lesson need its reading time plus its run time (smoke profile on laptops);
        # a demo or a skim takes about two thirds of the reading time.
        smoke = (lesson_times(stem, dataset, timings)["run_s"].get("smoke") or 0) / 60
        spent = reading[stem] + smoke if how == "run" else max(10, round(reading[stem] * 2 / 3))
        spent = int(math.ceil(spent / 5) * 5)
        minutes += spent
        three.append(f"| {len(three) - 1} | {_title(stem)} | {how} | {spent} |")
    three.append(f"| | breaks (2 x 10 min) and questions | | {180 - minutes} |")
    day = ["| time | what |", "| --- | --- |",
           "| 09:00 | setup check (00) and lesson 01, students run both |",
           "| 10:00 | lesson 02, students run it; exercise 02 in pairs |",
           "| 11:00 | lesson 03, students run it (smoke profile on laptops); exercises |",
           "| 12:30 | lunch; the instructor starts the full course run for the afternoon's results |",
           "| 13:30 | lesson 04, demo of the full run, students run smoke; exercises |",
           "| 15:00 | lesson 05 with the offline model, students run it |",
           "| 16:00 | lesson 06, students call the service; exercises |",
           "| 17:00 | the report site, discussion, what to try next |"]
    return "\n".join([
        START,
        f"Measured by the course runner on {timings.get('machine', '2 cores')} ({dataset}); "
        + (f"the whole full profile runs in about {total_run:.0f} minutes. " if total_run else
           "the full profile's run times are not recorded yet (`course run --record-timings`). ")
        + "Reading time is counted from each lesson's prose and code cells.",
        "", *rows, "", "**3-hour workshop** (minutes per block; students run the smoke profile):", "", *three,
        "", f"{minutes} minutes of lessons in all.", "", "**Full day:**", "", *day, END,
    ])


def update_instructor_guide(path: Path | None = None) -> Path:
    path = path or notebooks_dir().parent / "docs" / "INSTRUCTOR.md"
    text = path.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + agenda_markdown() + tail)
    return path


def main(argv: list[str] | None = None) -> int:
    """Refresh docs/INSTRUCTOR.md's tables; with ``--record FILE``, first record a smoke run's seconds
    (the ``build/lesson-seconds.json`` a fresh ``make test`` writes)."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m recsys_utils.lessons.timings", description=main.__doc__)
    parser.add_argument("--record", type=Path, help="JSON of {lesson: seconds} measured by a smoke run")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    args = parser.parse_args(argv)
    if args.record:
        record_timings(args.profile, args.dataset, json.loads(args.record.read_text()),
                       machine=f"{os.cpu_count()} cores")
    print(update_instructor_guide())
    return 0


if __name__ == "__main__":  # python -m recsys_utils.lessons.timings [--record build/lesson-seconds.json]
    raise SystemExit(main())
