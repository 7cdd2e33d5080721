"""Executed lessons read cleanly: no warnings, tracebacks, progress bars, duplicated logs, reprs or paths."""

import json

import pytest

from recsys_utils.course import list_notebooks
from recsys_utils.lessons.output_check import check_notebook

LESSONS = [nb.stem for nb in list_notebooks()]


def _cell(outputs):
    return {"cell_type": "code", "source": "", "outputs": outputs, "metadata": {}, "execution_count": 1}


def _write(tmp_path, outputs):
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps({"cells": [_cell(outputs)], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.mark.parametrize("text, rule", [
    ("/x/tqdm/auto.py:21: TqdmWarning: IProgress not found.\n", "warning"),
    ("Batches:  42%|████▏     | 11/26 [00:02<00:02,  5.36it/s]\n", "progress bar"),
    ("PosixPath('reports/figures/a.png')\n", "object repr"),
    ("model from /work/main/.venv/lib/x\n", "machine path"),
    ("count    100000.000000\n", "unformatted number"),
    ("Title: Toy Story. Genres: Animation, Children's, Comedy....\n", "cut-off text"),
    ("INFO x: loaded\nINFO x: loaded\n", "duplicated log line"),
])
def test_scanner_catches_each_kind_of_noise(tmp_path, text, rule):
    problems = check_notebook(_write(tmp_path, [{"output_type": "stream", "name": "stdout", "text": text}]))
    assert rule in {p.rule for p in problems}


def test_scanner_passes_clean_output(tmp_path):
    clean = "nDCG@10 0.165 [0.152, 0.178] over 908 users.\nThe lesson took 12 s.\n"
    assert check_notebook(_write(tmp_path, [{"output_type": "stream", "name": "stdout", "text": clean}])) == []


def test_errors_are_reported(tmp_path):
    error = {"output_type": "error", "ename": "KeyError", "evalue": "x", "traceback": ["KeyError: 'x'"]}
    assert "traceback" in {p.rule for p in check_notebook(_write(tmp_path, [error]))}


@pytest.mark.notebook
@pytest.mark.parametrize("stem", LESSONS)
def test_executed_lesson_output_is_clean(stem, executed_lesson):
    problems = check_notebook(executed_lesson(stem))
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(str(p) for p in problems[:15])
