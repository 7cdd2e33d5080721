"""Check that an explanation states only facts it was given.

Every title, genre, year and number (ratings, counts, percentages) in the text must be among
the facts of the (user, movie) pair. The check is deliberately strict and rule-based rather
than a second LLM call: it is free, deterministic and testable, and a false alarm only costs a
fallback to the offline explanation, which is always grounded.

How each kind of claim is found:

* titles of the given movies (and simple variants: without the parenthesised alternative
  title, without a leading article) are located first and masked, so the words and digits
  inside them ("Star Wars", "Apollo 13") are not read as genres or ratings;
* invented titles are caught three ways: any quoted or emphasised span that is not a given
  title; a capitalised name right after a cue such as "like", "such as", "fans of",
  "recommend" (and the list that follows it); and, when a catalogue of known titles is
  supplied, any catalogue title in the text;
* genre words come from ``genres.find_genres`` ("romantic comedies" -> Romance, Comedy);
* four-digit years and decades ("1990s", "'90s") must match a given year;
* every other number must equal a given number at the precision it is written (4.2 matches a
  mean of 4.17); the scale after "/" or "out of" (the 5 in "4/5") is not a claim.

Known limits, on purpose: numbers are matched by value, not by meaning ("won 5 Oscars" passes
when some given rating is 5); an invented name is caught only when it is quoted, follows a cue
or is in the catalogue; paraphrased plot claims ("a heist film") are not facts this check can
see; genres are checked against all the given movies together, so "Interstellar is romantic"
passes when a liked movie is a romance. The lesson measures how often the check catches
planted errors.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from . import genres as genre_words
from .facts import MovieFacts, UserContext, fact_sheet

_MASK = "\u27e6\u27e7"  # ⟦⟧: no letters or digits, so no later rule reads it as a claim


@dataclass(frozen=True)
class Violation:
    kind: str  # "title", "genre", "year", "number", "injection" or "empty"
    stated: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.stated!r}: {self.reason}"


@dataclass(frozen=True)
class FaithfulnessResult:
    ok: bool
    violations: tuple[Violation, ...]
    cited: tuple[str, ...]  # facts the text states, as "kind: value"


class TitleCatalog:
    """Known movie titles compiled once, to spot a real title that was not among the facts.

    Only distinctive titles take part (two or more words, or one word of seven or more
    letters, and not a genre word): one-word titles such as "Heat" or "Big" are ordinary
    English words, and "Romance" (a 1999 film) is also the genre.

    ``find`` returns what ``re.finditer(r"(?<!\\w)(title1|title2|...)(?!\\w)")`` would, with
    the titles tried longest first (``tests/test_explain_title_catalog.py`` checks the two
    agree), but without that regex: one alternation of ~1,700 titles was most of the cost of
    checking an explanation (``benchmarks/bench_explain.py``), which the service pays on
    every first request. Titles are bucketed by their first two characters instead, so each
    word start costs one dictionary lookup.
    """

    def __init__(self, titles: Iterable[str]):
        eligible = sorted(
            {t.strip() for t in titles if isinstance(t, str) and _distinctive(t.strip())}, key=len, reverse=True
        )
        self.size = len(eligible)
        self._by_prefix: dict[str, list[str]] = {}
        for title in eligible:  # longest first within each bucket, as in the alternation
            self._by_prefix.setdefault(title[:2], []).append(title)

    def find(self, text: str) -> list[str]:
        found, resume = [], 0
        for start in _WORD_START.finditer(text):
            p = start.start()
            if p < resume:
                continue
            for title in self._by_prefix.get(text[p:p + 2], ()):
                end = p + len(title)
                if text.startswith(title, p) and not (end < len(text) and _is_word_char(text[end])):
                    found.append(title)
                    resume = end
                    break
        return found


# Positions a title may start at: not preceded by a word character (the regex's (?<!\w)).
_WORD_START = re.compile(r"(?<!\w)(?=.)", re.DOTALL)


def _is_word_char(char: str) -> bool:
    return bool(_WORD_CHAR.match(char))


_WORD_CHAR = re.compile(r"\w")


def _distinctive(title: str) -> bool:
    # A title that is a genre word ("Romance", 1999; "Western") reads as the genre in an explanation.
    words = title.split()
    if genre_words.is_genre_word(title):
        return False
    return len(words) >= 2 or (len(words) == 1 and len(re.sub(r"\W", "", title)) >= 7)


_CUE = re.compile(
    r"\b(?:like|such as|including|fans? of|enjoyed|loved|liked|love|enjoy|watched|similar to|"
    r"reminiscent of|in the vein of|as in|recommend|recommending|suggest|rated)\s+",
    re.IGNORECASE,
)
_SMALL = r"(?:of|the|a|an|in|on|to|for|at|de|la|le|and|&)"
_CAP_WORD = r"[A-Z0-9][\w'’.:!?*-]*"
_CAP_RUN = re.compile(rf"{_CAP_WORD}(?:\s+(?:{_SMALL}\s+)*{_CAP_WORD})*")
_LIST_SEP = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*&\s*)")
# Capitalised words that name sources, people addressed or genres, not movies.
_NOT_TITLES = {"imdb", "imdb's", "rotten", "tomatoes", "movielens", "you", "your", "it", "this", "i", "we"}
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|\*([^*]+)\*|_([^_]+)_")
_DECADE = re.compile(r"(?<![\w.])(?:(1[89]\d0|20\d0)|['’]?(\d0))s(?!\w)")
_YEAR = re.compile(r"(?<![\w.,/])(1[89]\d\d|20\d\d)(?!\w|%|[.,]\d)")
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(%?)")
_SCALE_BEFORE = re.compile(r"(?:/|out of)\s*$", re.IGNORECASE)


def check_faithfulness(
    text: str,
    user: UserContext,
    movie: MovieFacts,
    catalog: TitleCatalog | Iterable[str] | None = None,
    require_title: bool = True,
) -> FaithfulnessResult:
    """Every title, genre, year and number stated in ``text`` must be among the facts given.

    With ``require_title`` the text must also name the recommended movie: an answer that
    explains nothing (or obeys an instruction hidden in the data instead) does not pass.
    """
    if not isinstance(text, str) or not text.strip():
        return FaithfulnessResult(False, (Violation("empty", repr(text), "the explanation is empty"),), ())
    sheet = fact_sheet(user, movie)
    violations: list[Violation] = []
    cited: list[str] = []

    masked = text
    # Longest names first: a short given title inside a longer one ("It" in "Dracula: Dead and
    # Loving It") must not cut the longer one into an unknown name.
    named = sorted(((variant, t) for t in sheet.titles for variant in _title_variants(t)), key=lambda p: -len(p[0]))
    for variant, title in named:
        masked, found = _title_pattern(variant).subn(_MASK, masked)
        if found and f"title: {title}" not in cited:
            cited.append(f"title: {title}")
    if require_title and f"title: {movie.title}" not in cited:
        violations.append(Violation("title", movie.title, "the recommended movie is not named"))
    if user.wish and user.wish.strip():
        # Quoting the user's own wish back, attributed to them ("you asked for ..."), is not a
        # claim about movies. The same words stated as facts ("Interstellar won 11 Oscars",
        # copied from the wish) are checked like any other text.
        masked = _attributed_wish(user.wish.strip()).sub(lambda m: m.group("cue") + _MASK, masked)
    violations += _obeyed_injections(masked, [*sheet.titles, user.wish or ""])

    invented = _invented_titles(masked, catalog)
    violations += invented
    for violation in invented:
        # An invented title is one claim: its digits ("2049") are not also reported as years.
        masked = masked.replace(violation.stated, _MASK)
    allowed_genres = {genre_words.genre_key(g) for g in sheet.genres}
    wished = {key for _, key in genre_words.find_genres(user.wish or "")}
    for match in genre_words.genre_matches(masked):
        surface, key = match.group(1), genre_words.genre_key_of(match.group(1))
        if key in allowed_genres:
            _cite(cited, f"genre: {surface.lower()}")
        elif key in wished and _WISH_CUE_BEFORE.search(masked[max(0, match.start() - 60): match.start()]):
            _cite(cited, f"wish: {surface.lower()}")  # "you asked for a western": about the user, and true
        else:
            violations.append(Violation("genre", surface, "no given movie has this genre"))

    def decade(match: re.Match) -> str:
        stated = match.group(0)
        start = int(match.group(1)) if match.group(1) else None
        starts = {start} if start is not None else {1900 + int(match.group(2)), 2000 + int(match.group(2))}
        if any(year - year % 10 in starts for year in sheet.years):
            _cite(cited, f"decade: {stated}")
        else:
            violations.append(Violation("year", stated, "no given movie is from this decade"))
        return _MASK

    masked = _DECADE.sub(decade, masked)

    def year(match: re.Match) -> str:
        value = int(match.group(1))
        if value in sheet.years:
            _cite(cited, f"year: {value}")
        elif _matches_number(match.group(1), sheet.numbers):
            _cite(cited, f"number: {value}")
        else:
            violations.append(Violation("year", match.group(1), "no given movie is from this year"))
        return _MASK

    masked = _YEAR.sub(year, masked)

    for match in _NUMBER.finditer(masked):
        if _SCALE_BEFORE.search(masked[: match.start()]):
            continue  # the 5 in "4/5" or "out of 5" is the scale, not a claim
        stated = match.group(1) + match.group(2)
        if _matches_number(match.group(1).replace(",", ""), sheet.numbers):
            _cite(cited, f"rating: {stated}")
        else:
            violations.append(Violation("number", stated, "not a rating, count or score among the facts"))
    return FaithfulnessResult(not violations, tuple(violations), tuple(cited))


_WISH_CUE = r"(?:you|your)\s+(?:asked\s+for|wish(?:ed)?(?:\s+for)?|wanted|want|said|requested|were\s+looking\s+for)"
_WISH_CUE_BEFORE = re.compile(_WISH_CUE + r"\b[^.!?]*$", re.IGNORECASE)
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|above)\b"
    r"|\b(?:system|assistant)\s*:"
    r"|\b(?:reply|respond|answer|say|print|write|output|start|begin)\b[^.]{0,30}[\"“'‘]",
    re.IGNORECASE | re.DOTALL,
)
_PAYLOAD = re.compile(r"[\"“'‘]([^\"”'’]{2,60})[\"”'’]")
_SHOUT = re.compile(r"(?<![\w-])[A-Z]{4,}(?![\w-])")
_ROMAN = re.compile(r"[IVXLCDM]+")
_ALLOWED_CAPS = {"IMAX", "IMDB"}


def looks_like_instruction(text: str) -> bool:
    """Does user or catalogue text read like an instruction to the model ("ignore ... and reply ...")?"""
    return bool(_INSTRUCTION.search(text or ""))


def quotable_wish(wish: str | None) -> bool:
    """A wish the offline explainer may quote back: short plain text, not an instruction, no shouting."""
    if not wish or not wish.strip() or len(wish) > 120:
        return False
    return not (re.search(r"[\"“”<>\n{}]", wish) or looks_like_instruction(wish) or _SHOUT.search(wish))


@functools.lru_cache(maxsize=1024)
def _attributed_wish(wish: str) -> re.Pattern:
    body = r"\s+".join(map(re.escape, wish.split()))
    return re.compile(rf"(?P<cue>{_WISH_CUE}\s*[:,]?\s*)[\"“‘']?{body}[\"”’']?", re.IGNORECASE)


def _obeyed_injections(masked: str, fact_texts: list[str]) -> list[Violation]:
    """An answer that obeys an instruction planted in the facts ("PWNED. We recommend ...")."""
    found = []
    for word in dict.fromkeys(_SHOUT.findall(masked)):
        if word not in _ALLOWED_CAPS and not _ROMAN.fullmatch(word) and not genre_words.is_genre_word(word):
            found.append(Violation("injection", word, "an all-caps word that no fact holds (an obeyed instruction?)"))
    for text in fact_texts:
        if not looks_like_instruction(text):
            continue
        for payload in _PAYLOAD.findall(text):
            if payload.strip() and re.search(rf"(?<!\w){re.escape(payload.strip())}(?!\w)", masked, re.IGNORECASE) \
                    and not any(v.stated == payload.strip() for v in found):
                found.append(Violation("injection", payload.strip(), "repeats what an instruction in the facts asked for"))
    return found


def _invented_titles(masked: str, catalog: TitleCatalog | Iterable[str] | None) -> list[Violation]:
    found: list[Violation] = []
    for match in _QUOTED.finditer(masked):
        span = next(g for g in match.groups() if g is not None)
        if re.search(r"[A-Za-z0-9]", span.replace(_MASK, "")):
            found.append(Violation("title", span, "quoted or emphasised name that is not a given title"))
    for run in _runs_after_cues(masked):
        found.append(Violation("title", run, "a name after 'like'/'such as'/... that is not a given title"))
    if catalog is not None:
        catalog = catalog if isinstance(catalog, TitleCatalog) else TitleCatalog(catalog)
        for title in catalog.find(masked):
            found.append(Violation("title", title, "a known movie title that is not among the facts"))
    # One invented name can trip several rules ("Blade Runner 2049" after a cue, "Blade Runner"
    # from the catalogue); report it once, under its longest reading.
    unique: dict[str, Violation] = {}
    for violation in sorted(found, key=lambda v: -len(v.stated)):
        if not any(violation.stated in longer for longer in unique):
            unique[violation.stated] = violation
    return sorted(unique.values(), key=lambda v: masked.find(v.stated))


def _runs_after_cues(masked: str) -> list[str]:
    runs = []
    for cue in _CUE.finditer(masked):
        position = cue.end()
        while True:
            if masked.startswith(_MASK, position):
                position += len(_MASK)
            else:
                run = _CAP_RUN.match(masked, position)
                if not run or not _looks_like_title(run.group(0)):
                    break
                runs.append(run.group(0).rstrip(".:!?"))
                position = run.end()
            separator = _LIST_SEP.match(masked, position)
            if not separator or separator.end() == position:
                break
            position = separator.end()
    return runs


def _looks_like_title(run: str) -> bool:
    words = [w.strip(".,:!?*'’").lower() for w in run.split()]
    content = [w for w in words if w and not re.fullmatch(_SMALL, w)]
    if not any(re.search(r"[a-z]", w) for w in content):
        return False  # numbers are judged by the number rule
    return not all(w in _NOT_TITLES or genre_words.is_genre_word(w) for w in content)


@functools.lru_cache(maxsize=8192)
def _title_pattern(variant: str) -> re.Pattern:
    # Cached: a catalogue has a few thousand titles and each is checked again and again.
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, variant.split())) + r"(?!\w)", re.IGNORECASE)


@functools.lru_cache(maxsize=8192)
def _title_variants(title: str) -> tuple[str, ...]:
    # Cached like _title_pattern: the same liked titles are checked in every explanation of a user.
    variants = [title]
    bare = re.sub(r"\s*\([^)]*\)\s*$", "", title).strip()  # "Seven (Se7en)" -> "Seven"
    for candidate in (bare, re.sub(r"^(?:The|A|An)\s+", "", bare)):
        if len(candidate) >= 3 and candidate not in variants:
            variants.append(candidate)
    # Longest first: mask "The Usual Suspects" before "Usual Suspects" can split it.
    return tuple(sorted(variants, key=len, reverse=True))


def _matches_number(stated: str, numbers: tuple[float, ...]) -> bool:
    # Accept any fact that rounds to the stated figure: "4.1" for a mean of 4.05 or 4.14.
    decimals = len(stated.split(".")[1]) if "." in stated else 0
    value = float(stated)
    half_unit = 0.5 * 10.0**-decimals
    return any(abs(n - value) <= half_unit + 1e-9 for n in numbers)


def _cite(cited: list[str], item: str) -> None:
    if item not in cited:
        cited.append(item)
