"""Lesson 02's own pieces: bounded projections, base-vs-tuned tables and findings from intervals."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from ..results import headline

PROTOCOL = ("text-only retrieval for every evaluated user: profile = rating-weighted mean of the liked "
            "training films' vectors, temporal holdout, 95% bootstrap intervals over users")


def projection_rows(n_movies: int, max_points: int, seed: int) -> np.ndarray:
    """Rows to draw in the 2-D picture: all movies, or a seeded sample of ``max_points`` (t-SNE is
    superlinear, so the picture's cost stays bounded on a large catalogue)."""
    if n_movies <= max_points:
        return np.arange(n_movies)
    return np.sort(np.random.default_rng(seed).choice(n_movies, size=max_points, replace=False))


def _rows(matches) -> list[dict]:
    out = []
    for match in matches:
        meta = match.metadata or {}
        out.append({"title": f"{meta.get('title')} ({meta.get('year', '?')})",
                    "genres": ", ".join(meta.get("genres", [])), "ratings": meta.get("rating_count", 0)})
    return out


def base_vs_tuned(base_matches, tuned_matches) -> pd.DataFrame:
    """Two result lists side by side: rank, then title / genres / rating count of each."""
    base, tuned = _rows(base_matches), _rows(tuned_matches)
    n = max(len(base), len(tuned))
    frame = pd.DataFrame(index=pd.RangeIndex(1, n + 1, name="rank"))
    for label, rows in (("base", base), ("tuned", tuned)):
        for column in ("title", "genres", "ratings"):
            frame[f"{label} {column}"] = [r[column] for r in rows] + [None] * (n - len(rows))
    return frame


def genre_share(matches, genre: str) -> float:
    """Share of the matches tagged with ``genre``."""
    matches = list(matches)
    if not matches:
        return float("nan")
    return float(np.mean([genre in (m.metadata or {}).get("genres", []) for m in matches]))


def before_after(report: dict) -> pd.DataFrame:
    """The tuning report's before/after measurements as a small table."""
    names = {
        "spearman": "Spearman, text vs co-rating similarity (all ratings)",
        "spearman_heldout": "Spearman, text vs co-rating similarity (held-out ratings only)",
        "genre_agreement": "neighbours sharing a genre",
        "ndcg@10": "text-only retrieval nDCG@10",
        "recall@10": "text-only retrieval recall@10",
        "popularity@10": "mean popularity of the top 10 (share of users who rated them)",
        "coverage@10": "catalogue coverage of all top-10 lists",
    }
    rows = [{"measure": label, "base MiniLM": report.get(f"{key}_before"), "taste-tuned": report.get(f"{key}_after")}
            for key, label in names.items() if f"{key}_before" in report]
    return pd.DataFrame(rows).set_index("measure")


def _verdict(low: float, high: float, better: str, worse: str, same: str) -> str:
    if low > 0:
        return better
    if high < 0:
        return worse
    return same


def taste_findings(table: pd.DataFrame) -> tuple[list[str], list[dict]]:
    """Sentences and headline findings from ``analysis.retrieval_comparison``'s intervals."""
    sentences, headlines = [], []
    popular = table.loc["most_popular"]
    for name in ("base", "tuned"):
        if name not in table.index:
            continue
        row = table.loc[name]
        label = "Base MiniLM" if name == "base" else "Taste-tuned MiniLM"
        verdict = _verdict(row["diff_ci_low"], row["diff_ci_high"], "above", "below", "not distinguishable from")
        text = (f"{label} text-only retrieval reaches nDCG@10 {row['ndcg@10']:.3f} "
                f"(95% CI {row['ci_low']:.3f}-{row['ci_high']:.3f}), {verdict} most-popular's "
                f"{popular['ndcg@10']:.3f} (difference {row['diff_vs_popular']:+.3f}, "
                f"CI {row['diff_ci_low']:+.3f} to {row['diff_ci_high']:+.3f}).")
        tail = ("fewer" if row["popularity@10"] < popular["popularity@10"] else "more")
        text += (f" Its lists lean on popular films {tail} than most-popular's (mean popularity "
                 f"{row['popularity@10']:.2f} vs {popular['popularity@10']:.2f}) and cover "
                 f"{row['coverage@10']:.1%} of the catalogue vs {popular['coverage@10']:.1%}.")
        sentences.append(text)
        headlines.append(headline(text, row["ndcg@10"], ci=(row["ci_low"], row["ci_high"]), protocol=PROTOCOL))
    return sentences, headlines


def wrap(text: str, width: int = 100) -> str:
    return textwrap.fill(text, width=width)
