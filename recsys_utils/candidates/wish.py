"""Query understanding for a free-text wish (a "self-query" step before the vector search).

"a sci-fi thriller like Inception" carries two things an embedding blurs:

- **genre words** ("sci-fi", "thriller"): the index's metadata holds each movie's genres, so they
  become a store *filter* (Pinecone syntax, applied before ranking) rather than a hope that the
  text vector leans that way. Measured on ml-latest-small: the tuned text index alone answers that
  request with 38% sci-fi films (3 of 8); filtered, every answer is tagged Sci-Fi. A filter and not a
  score boost because the genre words are exact metadata: a boost would need a weight, and there
  are no wishes with known answers to choose it on.
- **titles** after "like" / "similar to" ("like Inception"): matched with the catalogue's title
  matcher (``TitleIndex``, the ``/movies/search`` one, kept to exact titles) and treated as liked movies, so the ALS
  fold-in and the title neighbours carry the taste of the named film. A phrase that matches no
  title stays in the text only.

The whole wish is still embedded as the text query (its words help the text neighbours).

Filter semantics: a movie must carry *every* named genre ("sci-fi thriller" = Sci-Fi and Thriller);
``relaxed_filter`` (any named genre) is what ``CandidateGenerator.for_profile`` falls back to when
the strict filter leaves fewer than ``k`` movies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..data.titles import TitleIndex, fold_title

__all__ = ["GENRE_WORDS", "Wish", "understand_wish"]

# Folded words and phrases -> MovieLens genre names (ml-100k spells "Children's", later sets "Children").
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "sci fi": ("Sci-Fi",), "scifi": ("Sci-Fi",), "science fiction": ("Sci-Fi",),
    "thriller": ("Thriller",), "thrillers": ("Thriller",),
    "action": ("Action",), "adventure": ("Adventure",), "adventures": ("Adventure",),
    "animated": ("Animation",), "animation": ("Animation",), "cartoon": ("Animation",),
    "children": ("Children", "Children's"), "childrens": ("Children", "Children's"), "kids": ("Children", "Children's"),
    "family": ("Children", "Children's"),
    "comedy": ("Comedy",), "comedies": ("Comedy",), "funny": ("Comedy",),
    "crime": ("Crime",), "documentary": ("Documentary",), "documentaries": ("Documentary",),
    "drama": ("Drama",), "dramas": ("Drama",), "fantasy": ("Fantasy",),
    "noir": ("Film-Noir",), "film noir": ("Film-Noir",),
    "horror": ("Horror",), "scary": ("Horror",), "musical": ("Musical",), "musicals": ("Musical",),
    "mystery": ("Mystery",), "mysteries": ("Mystery",),
    "romance": ("Romance",), "romantic": ("Romance",), "romcom": ("Comedy", "Romance"),
    "war": ("War",), "western": ("Western",), "westerns": ("Western",),
}
_TITLE_CUES = re.compile(r"\b(?:like|similar to|such as|in the vein of)\s+(.+?)(?=$|\s+(?:but|and|or|with)\s|[,;.!?])",
                         re.IGNORECASE)


@dataclass(frozen=True)
class Wish:
    """What ``understand_wish`` read from a wish."""

    text: str
    genres: tuple[str, ...] = ()
    liked_movie_ids: tuple[int, ...] = ()
    matched_titles: dict = field(default_factory=dict)  # phrase -> movie id

    @property
    def filter(self) -> dict | None:
        """Every named genre (Pinecone syntax), or None."""
        if not self.genres:
            return None
        clauses = [{"genres": {"$in": [g]}} for g in self.genres]
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    @property
    def relaxed_filter(self) -> dict | None:
        """Any named genre, or None."""
        return {"genres": {"$in": list(self.genres)}} if self.genres else None


def _genres_in(folded: str, catalogue_genres: set[str]) -> tuple[str, ...]:
    """Named genres in the order the wish names them; longer phrases first ("science fiction")."""
    found: list[tuple[int, str]] = []
    padded = f" {folded} "
    for phrase in sorted(GENRE_WORDS, key=len, reverse=True):
        at = padded.find(f" {phrase} ")
        while at >= 0:
            found += [(at, genre) for genre in GENRE_WORDS[phrase] if genre in catalogue_genres]
            padded = padded[:at + 1] + "#" * len(phrase) + padded[at + 1 + len(phrase):]  # keep positions
            at = padded.find(f" {phrase} ")
    return tuple(dict.fromkeys(genre for _, genre in sorted(found)))


def understand_wish(wish: str, titles: TitleIndex | None, catalogue_genres) -> Wish:
    """Genre filter and named titles of ``wish`` (see the module docstring)."""
    text = " ".join(str(wish).split())
    genres = _genres_in(fold_title(text), set(catalogue_genres))
    matched: dict[str, int] = {}
    if titles is not None:
        for phrase in _TITLE_CUES.findall(text):
            phrase = phrase.strip()
            if not fold_title(phrase):
                continue
            # exact titles only (folded): the /movies/search rule "every word in the title" would
            # read "like movie 8" as "Movie 18"; most-rated first among equal titles
            rows = [r for r in titles.search_rows(phrase, limit=20) if titles._folded[r] == fold_title(phrase)]
            if rows:
                matched[phrase] = int(titles.movie_ids[rows[0]])
    return Wish(text, genres, tuple(dict.fromkeys(matched.values())), matched)
