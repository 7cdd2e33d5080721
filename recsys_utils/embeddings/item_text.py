"""Richer movie texts where the data has them: user tags and outside facts (issue 11, 1c).

``movie_texts(data, variant, splits)`` returns one text per row of ``data.movies``:

- ``"plain"``: lesson 01's ``text`` (title, genres, year);
- ``"tags"``: plus the movie's most used user tags (ml-latest-small's ``tags.csv``), "Tags: a, b.";
- ``"facts"``: plus IMDb / Rotten Tomatoes facts joined by ``recsys_utils.enrich`` (director,
  IMDb rating, MPAA rating), "Directed by X. IMDb 7.9/10. Rated R.";
- ``"tags+facts"``: both.

A tag written by a user about a movie whose rating by that same user is held out would tell the
text that this user met this film, so such tags are left out when ``splits`` is given.
Movies with no tags or facts keep their plain text (and so their cached vector).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..constants import ITEM_COL, TEXT_COL, USER_COL

logger = logging.getLogger(__name__)

TEXT_VARIANTS = ("plain", "tags", "facts", "tags+facts")
MAX_TAGS = 8


def _check_variant(variant: str) -> None:
    if variant not in TEXT_VARIANTS:
        raise ValueError(f"text variant must be one of {', '.join(TEXT_VARIANTS)}; got {variant!r}")


def top_tags(tags: pd.DataFrame | None, test_ratings: pd.DataFrame | None = None,
             max_tags: int = MAX_TAGS) -> pd.Series:
    """Each tagged movie's most used tags (lower-cased, most users first, then alphabetical)."""
    if tags is None or tags.empty:
        return pd.Series(dtype=object)
    frame = tags[[USER_COL, ITEM_COL, "tag"]].dropna().copy()
    if test_ratings is not None and len(test_ratings):
        held = pd.MultiIndex.from_frame(test_ratings[[USER_COL, ITEM_COL]])
        frame = frame[~pd.MultiIndex.from_frame(frame[[USER_COL, ITEM_COL]]).isin(held)]
    frame["tag"] = frame["tag"].astype(str).str.strip().str.lower()
    frame = frame[frame["tag"] != ""].drop_duplicates([USER_COL, ITEM_COL, "tag"])
    counts = frame.groupby([ITEM_COL, "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values([ITEM_COL, "n", "tag"], ascending=[True, False, True], kind="stable")
    return counts.groupby(ITEM_COL).head(max_tags).groupby(ITEM_COL)["tag"].agg(list)


def _facts_sentence(row) -> str:
    parts = []
    director = row.get("director")
    if director is not None and not pd.isna(director):
        parts.append(f"Directed by {director}.")
    rating = row.get("imdb_rating")
    if rating is not None and not pd.isna(rating):
        parts.append(f"IMDb {float(rating):.1f}/10.")
    mpaa = row.get("mpaa")
    if mpaa is not None and not pd.isna(mpaa) and str(mpaa).strip():
        parts.append(f"Rated {str(mpaa).strip()}.")
    return " ".join(parts)


def movie_facts(data) -> list[str]:
    """One facts sentence per row of ``data.movies`` ("" where no outside source matched)."""
    try:
        from ..enrich import enriched_movies

        movies, _ = enriched_movies(data)
    except Exception as error:  # outside facts are optional
        logger.warning("outside facts unavailable (%s: %s); texts without them", type(error).__name__, error)
        return [""] * len(data.movies)
    movies = movies.set_index(ITEM_COL).reindex(data.movies[ITEM_COL])
    return [_facts_sentence(row) for row in movies.to_dict("records")]


def movie_texts(data, variant: str = "plain", splits=None) -> list[str]:
    """The text embedded for each row of ``data.movies`` under ``variant`` (see the module docstring)."""
    _check_variant(variant)
    texts = data.movies[TEXT_COL].astype(str).tolist()
    if variant == "plain":
        return texts
    extra = [[] for _ in texts]
    if "tags" in variant:
        test = getattr(splits, "test_ratings", None)
        tagged = top_tags(getattr(data, "tags", None), test)
        if tagged.empty:
            logger.info("%s has no user tags; the 'tags' texts equal the plain ones", getattr(data, "name", "data"))
        lookup = tagged.to_dict()
        for row, movie_id in enumerate(data.movies[ITEM_COL].to_numpy()):
            if int(movie_id) in lookup:
                extra[row].append("Tags: " + ", ".join(lookup[int(movie_id)]) + ".")
    if "facts" in variant:
        for row, sentence in enumerate(movie_facts(data)):
            if sentence:
                extra[row].append(sentence)
    return [" ".join([t, *e]) if e else t for t, e in zip(texts, extra, strict=True)]


def text_coverage(data, texts: list[str]) -> dict[str, int]:
    """How many movies got more than their plain text."""
    plain = data.movies[TEXT_COL].astype(str).to_numpy()
    return {"movies": int(len(texts)), "richer": int(np.sum(np.asarray(texts) != plain))}
