"""Lesson 05's exercise checks accept the right answers and refuse near misses (no model, no data, < 1 s)."""

from __future__ import annotations

from test_explain import AMELIE, INCEPTION, INTERSTELLAR, MATRIX, USER

from recsys_utils.explain import TitleCatalog, build_messages, context_for_profile
from recsys_utils.lessons.exercises import check

CATALOG = TitleCatalog(["Inception", "The Matrix", "Interstellar", "Amelie", "Blade Runner"])


def test_faithful_sentence_must_pass_the_check_and_name_a_liked_movie():
    assert check("05.1", "Since you liked Inception, we recommend Interstellar.", user=USER, movie=INTERSTELLAR,
                 catalog=CATALOG)
    assert not check("05.1", "We recommend Interstellar.", user=USER, movie=INTERSTELLAR, catalog=CATALOG)
    assert not check("05.1", "Like Blade Runner, Interstellar grips.", user=USER, movie=INTERSTELLAR, catalog=CATALOG)


def test_wilson_interval_check_refuses_the_normal_approximation():
    assert check("05.2", (0.0524, 0.3604), k=3, n=20)
    p, half = 0.15, 1.96 * (0.15 * 0.85 / 20) ** 0.5
    assert not check("05.2", (p - half, p + half), k=3, n=20)


def test_profile_messages_carry_no_rating_and_the_wish():
    liked = [AMELIE, MATRIX, INCEPTION]
    right = build_messages(context_for_profile(liked, INTERSTELLAR, wish="something thoughtful"), INTERSTELLAR)
    assert check("05.3", right, liked=liked, movie=INTERSTELLAR, wish="something thoughtful")
    assert not check("05.3", build_messages(USER, INTERSTELLAR), liked=liked, movie=INTERSTELLAR,
                     wish="something thoughtful")


def test_blind_spot_must_pass_the_check_and_be_new():
    kwargs = {"user": USER, "movie": INTERSTELLAR, "catalog": CATALOG}
    assert check("05.4", "Interstellar follows a submarine crew under the Arctic ice.", **kwargs)
    assert not check("05.4", "Interstellar stars Tom Hanks at his best.", **kwargs)  # shown in the lesson
    assert not check("05.4", "Interstellar came out in 1950.", **kwargs)  # the check catches it
