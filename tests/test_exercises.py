import pytest

from recsys_utils.lessons import exercises
from recsys_utils.lessons.exercises import check, exercise


@exercise("99.1", hint="the answer is the number of lessons")
def _six(answer):
    return None if answer == 6 else f"{answer} is not the number of lessons"


def test_check_passes_right_answer_and_hints_on_wrong(capsys):
    assert check("99.1", 6) is True
    assert "correct" in capsys.readouterr().out
    assert check("99.1", 5) is False
    out = capsys.readouterr().out
    assert "5 is not the number of lessons" in out and "Hint: the answer is the number" in out


def test_unanswered_and_malformed_answers_fail_with_hint(capsys):
    assert check("99.1", None) is False
    assert "not answered" in capsys.readouterr().out

    @exercise("99.2", hint="a list of ids")
    def _len(answer):
        return None if len(answer) == 3 else "three ids"

    assert check("99.2", 7) is False
    assert "could not use this answer" in capsys.readouterr().out


def test_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="99.1"):
        check("98.7", 1)


def test_registering_twice_is_refused():
    with pytest.raises(ValueError):
        exercise("99.1", hint="x")(lambda a: None)
    assert "99.1" in exercises.registered("99")
