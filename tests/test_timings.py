"""Lesson times come from the runner, never typed; a fresh smoke run stays close to what is recorded."""

import json
import re

import pytest

from recsys_utils.course import list_notebooks
from recsys_utils.lessons import timings

LESSONS = [nb.stem for nb in list_notebooks()]


def test_record_and_read_back(tmp_path):
    path = tmp_path / "timings.json"
    timings.record_timings("smoke", "ml-100k", {"01_a": 3.14159}, path=path)
    timings.record_timings("full", "ml-100k", {"01_a": 12.0}, path=path)
    table = json.loads(path.read_text())
    assert table["datasets"]["ml-100k"] == {"smoke": {"01_a": 3.1}, "full": {"01_a": 12.0}}
    assert timings.recorded_seconds("01_a", "full", timings=table) == 12.0


def test_drift_tolerance():
    assert timings.drift(100.0, 149.0) is None
    assert "1.60x" in timings.drift(100.0, 160.0)
    assert timings.drift(2.0, 6.5) is None  # within the 5-second floor
    assert timings.drift(2.0, 8.0) is not None


def test_every_lesson_has_recorded_times_and_no_typed_ones():
    table = timings.load_timings()
    for stem in LESSONS:
        assert timings.recorded_seconds(stem, "smoke", timings=table), f"{stem}: no smoke time in notebooks/timings.json"
        full = timings.recorded_seconds(stem, "full", timings=table)
        assert full is None or full > 0, f"{stem}: a full-profile time must be a measured, positive number"
        cells = json.loads((timings.notebooks_dir() / f"{stem}.ipynb").read_text())["cells"]
        prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        typed = re.findall(r"(?:about|measured|takes?)\s+~?\d+(?:\.\d+)?\s*(?:s\b|sec|seconds|minutes?\s+to\s+run)", prose)
        assert not typed, f"{stem} types a run time into its prose: {typed}; the runner measures it"


@pytest.mark.notebook
@pytest.mark.parametrize("stem", LESSONS)
def test_fresh_smoke_run_matches_recorded_time(stem, lesson_results, lesson_seconds, caches_were_cold):
    if not caches_were_cold:  # a second `make test` reuses embeddings and model weights: not comparable
        pytest.skip("build/test-data held caches at the start of this session; the recorded smoke times are "
                    "a fresh clone's (cold caches), as CI measures them")
    lesson_results(stem)
    recorded = timings.recorded_seconds(stem, "smoke")
    assert recorded, f"{stem}: no recorded smoke time"
    problem = timings.drift(recorded, lesson_seconds[stem])
    assert problem is None, f"{stem}: {problem}"


def test_instructor_agenda_is_generated_from_the_recorded_times():
    guide = (timings.notebooks_dir().parent / "docs" / "INSTRUCTOR.md").read_text()
    block = guide.split(timings.START, 1)[1].split(timings.END, 1)[0]
    assert timings.START + block + timings.END == timings.agenda_markdown(), (
        "docs/INSTRUCTOR.md's agenda is stale: run `python -m recsys_utils.lessons.timings`")
