"""Every lesson follows the course template: objectives, prerequisites, measured times, by-hand cells,
equations, glossary links that resolve, and exercises whose checks and solutions exist."""

import json
import re
from pathlib import Path

import pytest

from recsys_utils.course import list_notebooks
from recsys_utils.lessons.exercises import registered

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "GLOSSARY.md"
LESSONS = [nb for nb in list_notebooks() if not nb.stem.startswith("00_")]
# Lessons whose topic has a key equation (issue 16: nDCG, EASE, RRF, Bellman, PPO, bootstrap, MNRL...).
WITH_EQUATIONS = {"02", "03", "04", "05", "06"}


def _cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def _text(notebook: Path, kind: str) -> str:
    return "\n".join("".join(c["source"]) for c in _cells(notebook) if c["cell_type"] == kind)


def github_anchor(heading: str) -> str:
    anchor = heading.strip().lower()
    anchor = re.sub(r"[^\w\- ]", "", anchor)
    return anchor.replace(" ", "-")


def glossary_anchors() -> set[str]:
    return {github_anchor(line[3:]) for line in GLOSSARY.read_text().splitlines() if line.startswith("## ")}


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_header_objectives_prerequisites_and_measured_times(notebook):
    prose, code = _text(notebook, "markdown"), _text(notebook, "code")
    assert re.search(r"what you will learn|objectives", prose, re.I), "no objectives ('What you will learn')"
    assert re.search(r"prerequisites", prose, re.I), "no prerequisites"
    assert re.search(r"(setup_lesson|show_times)\(NOTEBOOK\)", code), (
        "the lesson does not call setup_lesson(NOTEBOOK) (the runner-measured run time)")


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_by_hand_before_the_package(notebook):
    assert re.search(r"by hand", _text(notebook, "markdown"), re.I), "no 'by hand' step before the package's version"


@pytest.mark.parametrize("notebook", [nb for nb in LESSONS if nb.stem[:2] in WITH_EQUATIONS], ids=lambda p: p.stem)
def test_key_equations_are_written_out(notebook):
    prose = _text(notebook, "markdown")
    assert re.search(r"\$\$.+?\$\$|\$[^$\n]+\$", prose, re.S), "no equation in the lesson"


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_glossary_links_resolve(notebook):
    links = re.findall(r"GLOSSARY\.md#([\w\-]+)", _text(notebook, "markdown"))
    assert links, "the lesson links no term to the glossary"
    missing = sorted(set(links) - glossary_anchors())
    assert not missing, f"glossary has no entry for {missing}"


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_exercises_have_checks_and_solutions(notebook):
    number = notebook.stem[:2]
    asked = set(re.findall(r"check\(\s*[\"'](\d\d\.\d+)[\"']", _text(notebook, "code")))
    assert asked, "the lesson's exercises call no check(...)"
    known = set(registered(number))
    assert asked <= known, f"exercises without a registered check: {sorted(asked - known)}"
    solutions = ROOT / "solutions" / f"{notebook.stem}_solutions.ipynb"
    assert solutions.exists(), f"no worked solutions at solutions/{solutions.name}"
    solved = set(re.findall(r"check\(\s*[\"'](\d\d\.\d+)[\"']", _text(solutions, "code")))
    assert known <= solved, f"exercises without a worked solution: {sorted(known - solved)}"
    # check() returns a bool: left as a cell's last expression it prints a bare "False" in the
    # executed lesson, under the hint it has already printed.
    bare = [line for line in _text(notebook, "code").splitlines() if re.match(r"\s*check\(", line)]
    assert not bare, f"assign check(...)'s result (passed = check(...)): {bare}"


def test_glossary_entries_are_unique_and_defined():
    headings = [line[3:] for line in GLOSSARY.read_text().splitlines() if line.startswith("## ")]
    assert len(headings) == len(set(headings))
    body = GLOSSARY.read_text().split("\n## ")[1:]
    assert all(len(entry.split()) >= 12 for entry in body), "a glossary entry is too short to define its term"
