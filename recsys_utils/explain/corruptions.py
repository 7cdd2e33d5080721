"""Plant one known error into a grounded explanation, to measure what the check catches.

A faithfulness check that never fires looks the same as one that works. Each function below
adds exactly one unsupported claim of one kind; the lesson runs the check on many such texts
and reports the share it flags (its detection rate), next to the share of clean texts it
flags (its false-alarm rate).
"""

from __future__ import annotations

import random

from . import genres as genre_words
from .facts import MovieFacts, UserContext, fact_sheet
from .faithfulness import TitleCatalog, check_faithfulness

KINDS = ("invented_title", "invented_year", "invented_rating", "invented_genre")


def corrupt(kind: str, text: str, user: UserContext, movie: MovieFacts, catalog_titles: list[str],
            rng: random.Random) -> str:
    sheet = fact_sheet(user, movie)
    if kind == "invented_title":
        given = {t.lower() for t in sheet.titles}
        pool = [t for t in catalog_titles if t.lower() not in given]
        # One template without a cue word: only the catalogue can catch that one, and it skips
        # short one-word titles, so this kind is expected to stay below 100%.
        template = rng.choice(["{text} Fans of {title} will feel at home.", "{text} It feels close to {title}.",
                               "{text} {title} comes to mind as well."])
        return template.format(text=text, title=rng.choice(pool))
    if kind == "invented_year":
        years = [y for y in range(1930, 2000) if y not in sheet.years and y // 10 * 10 not in {
            s // 10 * 10 for s in sheet.years}]
        return f"{text} It was first shown in {rng.choice(years)}."
    if kind == "invented_rating":
        taken = {round(n, 1) for n in sheet.numbers}
        values = [v / 10 for v in range(11, 100) if v / 10 not in taken and not any(
            abs(n - v / 10) <= 0.05 + 1e-9 for n in sheet.numbers)]
        return f"{text} Critics rate it {rng.choice(values):.1f}/10."
    if kind == "invented_genre":
        given = {genre_words.genre_key(g) for g in sheet.genres}
        wished = {key for _, key in genre_words.find_genres(user.wish or "")}
        pool = [g for g in ("Horror", "Western", "Documentary", "Musical", "War", "Film-Noir", "Animation")
                if genre_words.genre_key(g) not in given | wished]
        return f"{text} It also counts among the {genre_words.plural_noun(rng.choice(pool))}."
    raise ValueError(f"unknown corruption {kind!r}; choose one of {', '.join(KINDS)}")


def measure_check(
    samples: list[tuple[str, UserContext, MovieFacts]], catalog_titles: list[str], seed: int = 42
) -> dict:
    """False-alarm rate on the clean texts and detection rate per kind of planted error."""
    if not samples:
        raise ValueError("measure_check needs at least one (text, user, movie) sample")
    rng = random.Random(seed)
    catalog = TitleCatalog(catalog_titles)
    false_alarms = sum(not check_faithfulness(t, u, m, catalog).ok for t, u, m in samples)
    detection = {}
    for kind in KINDS:
        caught = sum(
            not check_faithfulness(corrupt(kind, t, u, m, catalog_titles, rng), u, m, catalog).ok
            for t, u, m in samples
        )
        detection[kind] = caught / len(samples)
    return {"n_samples": len(samples), "false_alarm_rate": false_alarms / len(samples), "detection_rate": detection}
