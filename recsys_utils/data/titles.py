"""MovieLens title conventions: ``Usual Suspects, The (1995)`` -> ``The Usual Suspects``, 1995.

Also the one way the course matches a typed title to a movie (``TitleIndex``): the service's
``/movies/search``, cold-start profiles and the candidate generator all call it. A title matches
when it contains every word of the query, compared case- and accent-blind (Unicode NFKD folded to
ASCII, punctuation turned into spaces); the exact title comes first, then the most rated, then the
lower movie id.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

import numpy as np

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

def fold_title(text: str) -> str:
    """Lower case ASCII letters, digits and single spaces: "Amélie (2001)" -> "amelie 2001"."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


class TitleIndex:
    """``movie_ids`` and ``titles`` row-aligned; ``rating_counts`` orders equally good hits."""

    def __init__(self, movie_ids: Iterable[int], titles: Iterable[str], rating_counts: Iterable[float] | None = None):
        self.movie_ids = np.asarray(list(movie_ids), dtype=np.int64)
        self.titles = [str(t) for t in titles]
        if len(self.titles) != self.movie_ids.size:
            raise ValueError(f"{self.movie_ids.size} movie ids but {len(self.titles)} titles; they must be row-aligned")
        counts = np.zeros(self.movie_ids.size) if rating_counts is None else np.asarray(list(rating_counts), dtype=np.float64)
        if counts.shape != self.movie_ids.shape:
            raise ValueError(f"rating_counts has {counts.size} values for {self.movie_ids.size} movies")
        self.rating_counts = counts
        self._folded = [fold_title(t) for t in self.titles]

    def search_rows(self, query: str, limit: int = 10) -> list[int]:
        """Rows whose title contains every word of ``query``: exact title, then most rated, then id."""
        wanted = fold_title(query)
        words = wanted.split()
        if not words:
            return []
        hits = [i for i, title in enumerate(self._folded) if all(w in title for w in words)]
        hits.sort(key=lambda i: (self._folded[i] != wanted, -self.rating_counts[i], int(self.movie_ids[i])))
        return hits[:limit]

    def search(self, query: str, limit: int = 10) -> list[int]:
        """Movie ids matching ``query`` (see ``search_rows``), best first."""
        return [int(self.movie_ids[i]) for i in self.search_rows(query, limit)]

    def close_titles(self, query: str, n: int = 5) -> list[str]:
        """Titles that look like ``query`` (for error messages)."""
        wanted = fold_title(query)
        close = difflib.get_close_matches(wanted, self._folded, n=n, cutoff=0.5)
        if not close and wanted:
            first = wanted.split()[0]
            close = [t for t in self._folded if first in t][:n]
        by_folded = {f: t for f, t in zip(self._folded, self.titles, strict=True)}
        return [by_folded[c] for c in close]

    def match(self, titles: Iterable[str]) -> list[int]:
        """The best-matching movie id of each title; ``LookupError`` naming close titles otherwise."""
        if isinstance(titles, str):
            titles = [titles]
        found: list[int] = []
        for title in titles:
            rows = self.search_rows(title, limit=1)
            if not rows:
                close = self.close_titles(title)
                hint = f"close titles: {'; '.join(close)}" if close else "no close title either"
                raise LookupError(f"no movie title contains every word of {title!r} ({hint}); "
                                  "check the spelling or search with GET /movies/search?q=...")
            found.append(int(self.movie_ids[rows[0]]))
        return found
