import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from recsys_utils import course


def test_only_selects_by_number_or_name(tmp_path):
    names = [tmp_path / f"{n}.ipynb" for n in ("01_data", "02_embed", "03_eval")]
    assert course.select_notebooks(names, "01,03") == [names[0], names[2]]
    assert course.select_notebooks(names, ["02_embed"]) == [names[1]]
    with pytest.raises(SystemExit, match="names no lesson for 07"):
        course.select_notebooks(names, "01,07")


def test_profiles_file_parses_and_unknown_profile_is_refused():
    assert isinstance(course.load_profile("smoke"), dict)
    assert set(course.load_profile("smoke")) <= {nb.stem for nb in course.list_notebooks()}
    with pytest.raises(SystemExit, match="choose one of smoke, full"):
        course.load_profile("fast")


def test_lessons_are_numbered_in_order():
    stems = [nb.stem for nb in course.list_notebooks()]
    assert stems == sorted(stems) and stems[0] == "01_data_preparation"


def test_failing_cell_is_named(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("raise ValueError('bad budget')")])
    nb.metadata["kernelspec"] = {"name": course.KERNEL_NAME, "display_name": "x", "language": "python"}
    path = tmp_path / "09_fails.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(course.LessonFailed) as failure:
        course.run_notebook(path, tmp_path / "out", {})
    message = str(failure.value)
    assert "09_fails failed in cell 1" in message and "ValueError: bad budget" in message
    assert (tmp_path / "out" / "09_fails.ipynb").exists()  # the executed copy keeps the traceback
