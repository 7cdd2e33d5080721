"""The offline explainer: grounded template sentences, no network, deterministic under a seed.

It is the default when no OpenAI key is set and the fallback when an LLM answer fails. Each
sentence is filled only from the facts (shared genres, years, the liked movies it relates to,
outside ratings), so its output passes the faithfulness check by construction; the tests check
that claim on the real catalogue rather than trusting it.
"""

from __future__ import annotations

import random
import time

from . import genres as genre_words
from .explanation import Explanation
from .facts import LikedMovie, MovieFacts, UserContext
from .faithfulness import check_faithfulness, quotable_wish


class OfflineExplainer:
    name = "offline"

    def __init__(self, seed: int = 42):
        self.seed = seed

    def __repr__(self) -> str:
        return f"OfflineExplainer(seed={self.seed})"

    def compose(self, user: UserContext, movie: MovieFacts) -> str:
        # A string seed is hashed with SHA-512 by `random`, so the choice is the same in every
        # process (unlike hash(), which Python salts per run).
        rng = random.Random(f"{self.seed}:{user.user_id}:{movie.movie_id}")
        ranked = _rank_liked(user.liked, movie)
        anchor = ranked[0] if ranked else None
        sentences = [_opening(rng, anchor, movie)]
        middle = [s for s in (_shared_genres(rng, anchor, movie), _years(anchor, movie), _second(ranked, movie)) if s]
        rng.shuffle(middle)
        sentences += middle[: rng.choice((1, 2))]
        ratings = _ratings(rng, movie)
        if ratings:
            sentences.append(ratings)
        wish = _wish(user, movie)
        if wish:
            sentences.append(wish)
        return " ".join(sentences)

    def explain(self, user: UserContext, movie: MovieFacts) -> Explanation:
        start = time.perf_counter()
        text = self.compose(user, movie)
        check = check_faithfulness(text, user, movie)
        return Explanation(
            text=text,
            cited_facts=check.cited,
            explainer=self.name,
            faithful=check.ok,
            latency_s=time.perf_counter() - start,
        )


def _rank_liked(liked: tuple[LikedMovie, ...], movie: MovieFacts) -> list[LikedMovie]:
    """Most shared genres first, then the user's rating; ties keep the given order."""
    target = set(movie.genres)
    order = sorted(enumerate(liked), key=lambda p: (-len(target & set(p[1].facts.genres)), -(p[1].rating or 0), p[0]))
    return [item for _, item in order]


def _shared(anchor: LikedMovie | None, movie: MovieFacts) -> list[str]:
    return [g for g in movie.genres if anchor and g in anchor.facts.genres]


def _opening(rng: random.Random, anchor: LikedMovie | None, movie: MovieFacts) -> str:
    if anchor is None:
        return f"We recommend {movie.title}, one of the {genre_words.phrase(movie.genres)} in the catalogue."
    phrase = genre_words.phrase(_shared(anchor, movie) or anchor.facts.genres)
    liked = anchor.facts.title
    rated = f"Since you rated {liked} {anchor.rating:g} out of 5, we think you will enjoy {movie.title}." \
        if anchor.rating is not None else f"Since you liked {liked}, we think you will enjoy {movie.title}."
    options = [
        f"Based on your interest in {phrase} like {liked}, we recommend {movie.title}.",
        rated,
        f"You enjoyed {liked}, so we recommend {movie.title}, another pick for fans of {phrase}.",
    ]
    return rng.choice(options)


def _shared_genres(rng: random.Random, anchor: LikedMovie | None, movie: MovieFacts) -> str | None:
    shared = _shared(anchor, movie)
    if not shared:
        return None
    names = _join(shared[:3])
    noun = "genre" if len(shared[:3]) == 1 else "genres"
    return rng.choice(
        [
            f"It shares the {names} {noun} with {anchor.facts.title}.",
            f"Like {anchor.facts.title}, it belongs to the {names} {noun}.",
        ]
    )


def _years(anchor: LikedMovie | None, movie: MovieFacts) -> str | None:
    if anchor is None or movie.year is None or anchor.facts.year is None:
        return None
    if movie.year // 10 == anchor.facts.year // 10:
        return f"Both films come from the {movie.year // 10 * 10}s."
    return f"It came out in {movie.year}, while {anchor.facts.title} is from {anchor.facts.year}."


def _second(ranked: list[LikedMovie], movie: MovieFacts) -> str | None:
    for other in ranked[1:]:
        if set(other.facts.genres) & set(movie.genres):
            if other.rating is None:
                return f"It also connects to {other.facts.title}, another film you liked."
            return f"It also connects to {other.facts.title}, which you rated {other.rating:g} out of 5."
    return None


def _ratings(rng: random.Random, movie: MovieFacts) -> str | None:
    options = []
    if movie.imdb_rating is not None and movie.rotten_tomatoes is not None:
        options.append(
            f"It holds {movie.imdb_rating:.1f}/10 on IMDb and {movie.rotten_tomatoes:.0f}% on Rotten Tomatoes."
        )
    elif movie.imdb_rating is not None:
        options.append(f"IMDb users rate it {movie.imdb_rating:.1f}/10.")
    elif movie.rotten_tomatoes is not None:
        options.append(f"Critics give it {movie.rotten_tomatoes:.0f}% on Rotten Tomatoes.")
    if movie.mean_rating is not None:
        count = f" across {movie.n_ratings} rating{'s' if movie.n_ratings != 1 else ''}" if movie.n_ratings else ""
        options.append(f"MovieLens viewers give it {movie.mean_rating:.1f} out of 5 on average{count}.")
    return rng.choice(options) if options else None


def _wish(user: UserContext, movie: MovieFacts) -> str | None:
    """Name the wish: quoted when it is short plain text, and say which of its genres the movie has."""
    if not user.wish:
        return None
    movie_keys = {genre_words.genre_key(g) for g in movie.genres}
    fits = next((surface.lower() for surface, key in genre_words.find_genres(user.wish) if key in movie_keys), None)
    if not quotable_wish(user.wish):
        return f"It also fits your wish for {fits}." if fits else None
    if fits:
        return f"You asked for \u201c{user.wish.strip()}\u201d, and it fits your wish for {fits}."
    return f"You asked for \u201c{user.wish.strip()}\u201d; this is the closest match among the movies we found."


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
