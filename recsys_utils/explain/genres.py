"""How MovieLens genres are written in English, for phrasing them and for spotting them.

The offline explainer turns ``("Sci-Fi", "Thriller")`` into "sci-fi thrillers"; the
faithfulness check reads "romantic comedies" back as Romance + Comedy. Keeping both directions
in one table means every phrase the explainer writes is one the check recognises.
"""

from __future__ import annotations

import re


def genre_key(genre: str) -> str:
    """``"Children's"`` and ``"Children"`` (ml-100k vs newer sets) are the same genre."""
    return re.sub(r"[^a-z]", "", genre.lower()).removesuffix("s") if genre else ""


# key -> (adjective used before a noun, plural noun, extra surface forms the check accepts)
_FORMS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "action": ("action", "action films", ("action",)),
    "adventure": ("adventure", "adventures", ("adventure", "adventures")),
    "animation": ("animated", "animated films", ("animation", "animated", "cartoon", "cartoons")),
    "children": ("children's", "children's films", ("children's", "childrens", "kids", "family film", "family films")),
    "comedy": ("comedy", "comedies", ("comedy", "comedies", "comedic")),
    "crime": ("crime", "crime films", ("crime",)),
    "documentary": ("documentary", "documentaries", ("documentary", "documentaries")),
    "drama": ("drama", "dramas", ("drama", "dramas")),
    "fantasy": ("fantasy", "fantasy films", ("fantasy", "fantasies")),
    "filmnoir": ("noir", "films noirs", ("film-noir", "film noir", "films noirs", "noir")),
    "horror": ("horror", "horror films", ("horror",)),
    "imax": ("IMAX", "IMAX films", ("imax",)),
    "musical": ("musical", "musicals", ("musical", "musicals")),
    "mystery": ("mystery", "mysteries", ("mystery", "mysteries")),
    "romance": ("romantic", "romances", ("romance", "romances", "romantic")),
    "scifi": ("sci-fi", "sci-fi films", ("sci-fi", "scifi", "science fiction", "science-fiction")),
    "thriller": ("thriller", "thrillers", ("thriller", "thrillers")),
    "war": ("war", "war films", ("war",)),
    "western": ("western", "westerns", ("western", "westerns")),
}


def adjective(genre: str) -> str:
    return _FORMS.get(genre_key(genre), (genre.lower(), "", ()))[0]


def plural_noun(genre: str) -> str:
    form = _FORMS.get(genre_key(genre))
    return form[1] if form else f"{genre.lower()} films"


def phrase(genres: list[str] | tuple[str, ...]) -> str:
    """One or two genres as a noun phrase: "thrillers", "sci-fi thrillers"."""
    known = [g for g in genres if genre_key(g) in _FORMS]
    if not known:
        return "films"
    if len(known) == 1:
        return plural_noun(known[0])
    return f"{adjective(known[0])} {plural_noun(known[1])}"


# Longest forms first so "science fiction" is read before anything shorter inside it.
_SURFACE = sorted(((form, key) for key, (_, _, forms) in _FORMS.items() for form in forms), key=lambda p: -len(p[0]))
_SURFACE_PATTERN = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(form) for form, _ in _SURFACE) + r")(?![\w-])", re.IGNORECASE
)
_SURFACE_KEY = {form.lower(): key for form, key in _SURFACE}


def find_genres(text: str) -> list[tuple[str, str]]:
    """``(surface form, genre key)`` for every genre word in ``text``."""
    return [(m.group(1), _SURFACE_KEY[m.group(1).lower()]) for m in _SURFACE_PATTERN.finditer(text)]


def genre_matches(text: str) -> list[re.Match]:
    """The genre words of ``text`` as matches (``group(1)`` the surface form), for their positions."""
    return list(_SURFACE_PATTERN.finditer(text))


def genre_key_of(surface: str) -> str:
    return _SURFACE_KEY[surface.lower()]


def is_genre_word(word: str) -> bool:
    return word.lower() in _SURFACE_KEY
