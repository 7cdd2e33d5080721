"""Every lesson present runs top to bottom under the smoke profile and records its results;
committed notebooks follow the template and carry no outputs."""

import json
import re

import nbformat
import pytest

from recsys_utils.course import KERNEL_NAME, list_notebooks

NOTEBOOKS = list_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_following_the_template(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name} has outputs in cells {dirty}; strip them with nbstripout"
    assert nb.metadata["kernelspec"]["name"] == KERNEL_NAME
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters'"
    if not path.stem.startswith("00_"):  # the setup check learns nothing and draws nothing at random
        assert "SEED" in tagged[0].source, "the parameters cell sets SEED"
        assert nb.cells[0].cell_type == "markdown" and re.search(
            r"what you will learn|objectives", nb.cells[0].source, re.I), "the first cell states the lesson's objectives"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "record_results(" in code[-1].source, "the last cell records the lesson's results"
    # papermill writes parameters into the executed copy, so a key must never be one.
    assert not re.search(r"^\s*\w*(API_KEY|TOKEN|SECRET)\w*\s*=", tagged[0].source, re.M | re.I)


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_runs_in_smoke_profile_and_records_results(path, lesson_results, smoke_reports_dir):
    recorded = lesson_results(path.stem)
    assert recorded["notebook"] == path.stem
    assert recorded["metrics"], "the lesson recorded no metrics"
    # Every lesson records its seed (the setup check draws nothing at random).
    assert path.stem.startswith("00_") or "SEED" in recorded.get("parameters", {})
    for relative in recorded.get("figures", {}).values():
        assert (smoke_reports_dir / relative).stat().st_size > 1000
    executed = (smoke_reports_dir / "notebooks" / path.name).read_text()
    assert '"ename"' not in executed and "Traceback" not in executed


@pytest.mark.notebook
def test_report_is_built_from_the_smoke_results(lesson_results, smoke_reports_dir, monkeypatch):
    from recsys_utils.report import build_report

    monkeypatch.setenv("RECSYS_REPORTS_DIR", str(smoke_reports_dir))
    for path in NOTEBOOKS:
        lesson_results(path.stem)
    paths = build_report(profile="smoke", site=True)
    markdown = paths["markdown"].read_text()
    for path in NOTEBOOKS:
        assert f"(notebooks/{path.stem}.ipynb)" in markdown
        assert (paths["site"].parent / "lessons" / f"{path.stem}.html").exists()
    from recsys_utils.site.check import check_site

    assert check_site(paths["site"].parent).problems == []
    env = json.loads((smoke_reports_dir / "environment.json").read_text())
    assert env["dataset_checksums"], "lesson 01 records the dataset checksums"
