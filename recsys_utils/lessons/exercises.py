"""``check("02.1", answer)``: the check a student runs on an exercise, with a hint when it fails.

Each lesson keeps its checks in ``recsys_utils/lessons/lNN_exercises.py`` and registers them with
``@exercise("NN.k", hint=...)``. A check receives the student's answer (and any keyword context
the exercise cell passes, such as the loaded data) and returns ``None`` when the answer is right,
or a short message saying what is wrong. Worked solutions live in ``solutions/`` and the tests
execute them, so a check and its solution cannot drift apart.

Why not nbgrader or otter-grader (both looked at, 2026-12): they are built to release, collect and grade
assignments, not for a student's instant self-check. nbgrader 0.9.6 needs a course database
(sqlalchemy, alembic), jupyter-server and notebook 7 beside the lab; otter-grader 7.0.0 pulls
nbconvert[webpdf] (whose PDF export downloads its own browser, which fails offline) and python-on-whales
for Docker grading, and keeps each question's tests in separate files of doctest-style cases. A check
here needs the lesson's live objects (the loaded data, a fitted model) and a hint, and must run offline in
a papermill test: this module does that in under 100 lines.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Validator = Callable[..., str | None]


@dataclass(frozen=True)
class Exercise:
    exercise_id: str
    hint: str
    validate: Validator


_REGISTRY: dict[str, Exercise] = {}


def exercise(exercise_id: str, hint: str) -> Callable[[Validator], Validator]:
    """Register ``validate(answer, **context) -> None | message`` as the check of ``exercise_id``."""

    def register(validate: Validator) -> Validator:
        if exercise_id in _REGISTRY and _REGISTRY[exercise_id].validate is not validate:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        _REGISTRY[exercise_id] = Exercise(exercise_id, hint, validate)
        return validate

    return register


def _load_lesson(exercise_id: str) -> None:
    lesson = exercise_id.split(".", 1)[0]
    from . import __path__ as lessons_path

    for module in pkgutil.iter_modules(lessons_path):
        if module.name.startswith(f"l{lesson}_") and module.name.endswith("exercises"):
            importlib.import_module(f"{__package__}.{module.name}")


def registered(lesson: str | None = None) -> list[str]:
    """Exercise ids with a check (of one lesson, e.g. ``"02"``), loading every lesson's checks."""
    from . import __path__ as lessons_path

    for module in pkgutil.iter_modules(lessons_path):
        if module.name.startswith("l") and module.name.endswith("exercises"):
            importlib.import_module(f"{__package__}.{module.name}")
    ids = sorted(_REGISTRY)
    return [i for i in ids if lesson is None or i.startswith(f"{lesson}.")]


def check(exercise_id: str, answer: Any, **context: Any) -> bool:
    """Print whether ``answer`` solves ``exercise_id`` (with a hint when not) and return that as a bool."""
    if exercise_id not in _REGISTRY:
        _load_lesson(exercise_id)
    if exercise_id not in _REGISTRY:
        raise KeyError(f"no exercise {exercise_id!r}; exercises with checks: {', '.join(registered())}")
    item = _REGISTRY[exercise_id]
    if answer is None or answer is Ellipsis:
        print(f"Exercise {exercise_id}: not answered yet. Hint: {item.hint}")
        return False
    try:
        problem = item.validate(answer, **context)
    except Exception as error:  # a malformed answer is a wrong answer, said plainly
        problem = f"the check could not use this answer ({type(error).__name__}: {error})"
    if problem is None:
        print(f"Exercise {exercise_id}: correct.")
        return True
    print(f"Exercise {exercise_id}: not yet. {problem}\nHint: {item.hint}")
    return False
