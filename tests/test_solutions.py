"""The worked solutions run and pass their checks, so they never rot."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*_solutions.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_notebook_runs_and_every_check_passes(notebook, tmp_path, lesson_results):
    from recsys_utils.course import run_notebook

    # The lesson runs first (smoke), so artefacts the solutions read exist, as they would for a student.
    lesson_results(notebook.stem.removesuffix("_solutions"))
    run = run_notebook(notebook, tmp_path, {})
    assert run.output.exists()
