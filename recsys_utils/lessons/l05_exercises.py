"""Checks for lesson 05's exercises (``check("05.k", answer, ...)``)."""

from __future__ import annotations

from ..explain import SYSTEM_PROMPT, build_messages, check_faithfulness, context_for_profile
from .exercises import exercise


@exercise("05.1", hint="Start from the offline explainer's wording: 'Since you liked <a liked title>, we recommend "
                       "<the recommended title>.' and state nothing else.")
def _faithful_sentence(answer, user, movie, catalog=None):
    if not isinstance(answer, str):
        return f"the answer is a {type(answer).__name__}; write one sentence as a string"
    result = check_faithfulness(answer, user, movie, catalog)
    if not result.ok:
        return "the check rejects it: " + "; ".join(map(str, result.violations))
    if not any(f"title: {liked.facts.title}" in result.cited for liked in user.liked):
        return "it passes, but names none of the user's liked movies: say what the person liked"
    return None


@exercise("05.2", hint="p = k/n; centre = (p + z²/2n) / (1 + z²/n); half-width = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n), "
                       "z = 1.96 (or scipy.stats.binomtest(k, n).proportion_ci(method='wilson')).")
def _wilson(answer, k, n):
    from scipy.stats import binomtest

    low, high = (float(v) for v in answer)
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    if abs(low - ci.low) > 0.005 or abs(high - ci.high) > 0.005:
        return f"({low:.3f}, {high:.3f}) is not the Wilson interval; the normal approximation gives a different pair"
    return None


@exercise("05.3", hint="context_for_profile(liked, movie, wish=wish) gives the UserContext; build_messages(context, "
                       "movie) the two messages.")
def _profile_messages(answer, liked, movie, wish):
    if not isinstance(answer, list) or len(answer) != 2:
        return "build_messages returns a list of two messages (system, user)"
    if answer[0].get("content") != SYSTEM_PROMPT:
        return "the first message must be the fixed system prompt, unchanged"
    expected = build_messages(context_for_profile(liked, movie, wish=wish), movie)
    if answer != expected:
        if "user_rating" in answer[1].get("content", ""):
            return "a new visitor rated nothing: the liked movies must carry no user_rating (use context_for_profile)"
        if wish not in answer[1].get("content", ""):
            return "the wish is missing from the facts"
        return "the user message differs from build_messages(context_for_profile(...), movie)"
    return None


@exercise("05.4", hint="The check sees titles, genres, years and numbers; try a claim about a person or the plot.")
def _blind_spot(answer, user, movie, catalog=None):
    if not isinstance(answer, str) or movie.title not in answer:
        return "write a sentence (a string) that names the recommended movie"
    result = check_faithfulness(answer, user, movie, catalog)
    if not result.ok:
        return "the check catches this one: " + "; ".join(map(str, result.violations))
    if answer in (f"{movie.title} stars Tom Hanks at his best.",) or "sequels" in answer:
        return "that is one of the blind spots already shown; find another"
    if len(answer.replace(movie.title, "").split()) < 3:
        return "say something about the movie beyond its title"
    return None
