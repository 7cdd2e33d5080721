"""The catalogue's fast title finder agrees with the plain regex it replaces."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_utils.explain.faithfulness import TitleCatalog, _distinctive

TITLES = ["Blade Runner", "Blade Runner 2049", "Interstellar", "Star Wars", "Star Wars: Episode IV",
          "L'Âge d'or", "Les Misérables", "Heat", "Twelve Monkeys", "12 Angry Men", "Usual Suspects",
          "The Usual Suspects", "M*A*S*H", "Se7en Days", "Amélie", "Casablanca"]


def regex_find(titles, text):
    eligible = sorted({t for t in titles if _distinctive(t)}, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(t) for t in eligible) + r")(?!\w)")
    return [m.group(1) for m in pattern.finditer(text)]


pieces = st.sampled_from(TITLES + [" ", ", ", "x", "é", "_", "2", "-", "like ", "(", ")", "'", ".", "\n"])


@settings(max_examples=600, deadline=None)
@given(st.lists(pieces, max_size=14))
def test_agrees_with_the_alternation_regex(parts):
    text = "".join(parts)
    assert TitleCatalog(TITLES).find(text) == regex_find(TITLES, text)


def test_examples():
    catalog = TitleCatalog(TITLES)
    assert catalog.find("Fans of Blade Runner 2049 and Star Wars: Episode IV.") == ["Blade Runner 2049", "Star Wars: Episode IV"]
    assert catalog.find("Blade Runners and xInterstellar and Interstellar_") == []
    assert catalog.find("Heat, Amélie and Casablanca") == ["Casablanca"]  # short one-word titles do not count
    assert catalog.find("") == []


def test_real_catalogue_agrees_on_real_text():
    from recsys_utils.data import load_movielens

    titles = load_movielens().movies.title.tolist()
    text = ("Based on your interest in Star Wars and The Empire Strikes Back, we recommend Return of the Jedi (1983). "
            "Like Twelve Monkeys and Blade Runner, it is Sci-Fi; fans of Die Hard: With a Vengeance rated it 4 stars.")
    assert TitleCatalog(titles).find(text) == regex_find(titles, text)
    assert "Twelve Monkeys" in TitleCatalog(titles).find(text)
