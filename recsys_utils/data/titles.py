"""MovieLens title conventions: ``Usual Suspects, The (1995)`` -> ``The Usual Suspects``, 1995."""

from __future__ import annotations

import re
import unicodedata

# Articles GroupLens moves to the end of a title, in the languages that occur in MovieLens.
ARTICLES = (
    "The", "A", "An", "Les", "La", "Le", "L'", "Il", "Lo", "I", "Gli", "Das", "Der", "Die",
    "Den", "Det", "El", "Los", "Las", "Une", "Un", "O", "Os", "As", "Ein", "Eine", "De", "Het",
)
_ARTICLE_ALT = "|".join(re.escape(a) for a in sorted(ARTICLES, key=len, reverse=True))
_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")
# "Postman, The (Postino, Il)": the article sits before an alternative title in brackets.
_TRAILING_ARTICLE = re.compile(rf"^(?P<main>.+?), (?P<article>{_ARTICLE_ALT})(?P<rest>\s*\(.*\))?$")


def split_title_year(raw: str) -> tuple[str, int | None]:
    """Remove the trailing ``(YYYY)`` (or ``(YYYY-YYYY)`` for series) and return both parts."""
    raw = raw.strip()
    match = _YEAR.search(raw)
    if not match:
        return raw, None
    return raw[: match.start()].strip(), int(match.group(1))


def move_article_to_front(title: str) -> str:
    """``Usual Suspects, The`` -> ``The Usual Suspects``; ``Cité des enfants perdus, La`` -> ``La Cité ...``."""
    match = _TRAILING_ARTICLE.match(title.strip())
    if not match:
        return title.strip()
    article = match.group("article")
    joiner = "" if article.endswith("'") else " "
    rest = match.group("rest") or ""
    return f"{article}{joiner}{match.group('main')}{rest}"


def parse_title(raw: str) -> tuple[str, int | None]:
    title, year = split_title_year(raw)
    return move_article_to_front(title), year


def normalise_title(title: str) -> str:
    """A join key robust to case, accents, punctuation and article placement.

    Used to match MovieLens titles with outside sources (IMDb, Rotten Tomatoes).
    """
    if not isinstance(title, str):
        # Outside tables hold missing titles (NaN) and bare numbers ("1776" read as an int).
        title = "" if title is None or title != title else str(title)
    title = move_article_to_front(split_title_year(title)[0])
    # Drop an alternative title in brackets: "Shanghai Triad (Yao a yao ...)".
    title = re.sub(r"\s*\(.*?\)", "", title)
    title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    title = title.lower().replace("&", " and ")
    title = re.sub(r"^(the|a|an) ", "", title)
    title = re.sub(r"[^a-z0-9]+", " ", title)
    return " ".join(title.split())
