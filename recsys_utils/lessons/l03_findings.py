"""Lesson 03's prose generated from its numbers: verdict sentences, the targets table, wrapping."""

from __future__ import annotations

import textwrap

import pandas as pd

__all__ = ["comparison_sentence", "findings", "print_wrapped", "targets_table"]


def _fmt(x: float) -> str:
    return f"{x:+.3f}" if abs(x) >= 0.001 else f"{x:+.4f}"


def comparison_sentence(system: str, row, metric: str = "nDCG@10") -> str:
    """One sentence from a ``compare_to_reference`` row: the interval and adjusted p decide the verb."""
    reference = row["reference"]
    detail = (f"difference {_fmt(row['mean_diff'])}, 95% CI {_fmt(row['ci_low'])} to {_fmt(row['ci_high'])}, "
              f"Holm-adjusted p = {row['p_holm']:.3g}")
    if row["significant"] and row["mean_diff"] > 0:
        return f"{system} beats {reference} on {metric} ({detail})."
    if row["significant"] and row["mean_diff"] < 0:
        return f"{system} falls below {reference} on {metric} ({detail})."
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        # The interval is this comparison's alone; the verdict corrects for all of the lesson's
        # comparisons. Say both, so the sentence never contradicts the interval it prints.
        side = "ahead of" if row["ci_low"] > 0 else "behind"
        return (f"{system} is {side} {reference} on {metric} by its own interval, but not once corrected for the "
                f"lesson's other comparisons, so we do not call it ({detail}).")
    return f"{system} and {reference} are not distinguishable on {metric} ({detail})."


def findings(comparisons: pd.DataFrame, text_strategies, generator: str, best_cf: str) -> list[str]:
    """The summary's sentences: each text strategy against random, most-popular and the best CF;
    the generator against the best CF. ``comparisons`` is indexed by system with a ``reference`` column."""
    out = []
    for ref in ("random", "most_popular", best_cf):
        part = comparisons[comparisons["reference"] == ref]
        for system in text_strategies:
            if system in part.index:
                out.append(comparison_sentence(system, part.loc[system]))
    part = comparisons[comparisons["reference"] == best_cf]
    if generator in part.index:
        out.append(comparison_sentence(generator, part.loc[generator]))
    return out


def targets_table(figures: dict, best_cf: str) -> pd.DataFrame:
    """Issue 11's targets, measured value, interval, goal and status (met, or the gap)."""
    rows = []
    for key in [k for k in figures if k.startswith("pool_recall@")]:
        r = figures[key]
        rows.append({"target": f"generator {key.replace('_', ' ')} / {best_cf} full ranking", "measured": r["ratio"],
                     "ci_low": r["ci_low"], "ci_high": r["ci_high"], "goal": ">= 0.95", "gap": min(0.0, r["ratio"] - 0.95)})
    c = figures["ndcg@10_vs_best_cf"]
    rows.append({"target": f"generator nDCG@10 - {best_cf}", "measured": c["mean_diff"], "ci_low": c["ci_low"],
                 "ci_high": c["ci_high"], "goal": "CI upper end >= 0", "gap": min(0.0, c["ci_high"])})
    r = figures["cold_start_ndcg@10_ratio_to_most_popular"]
    rows.append({"target": "cold start (3-5 liked titles) nDCG@10 / most-popular", "measured": r["ratio"],
                 "ci_low": r["ci_low"], "ci_high": r["ci_high"], "goal": ">= 1.5", "gap": min(0.0, r["ratio"] - 1.5)})
    t = figures["text_only_ndcg@10_vs_most_popular"]
    rows.append({"target": "text-only nDCG@10 - most-popular", "measured": t["mean_diff"], "ci_low": t["ci_low"],
                 "ci_high": t["ci_high"], "goal": ">= 0", "gap": min(0.0, t["mean_diff"])})
    tail = figures["long_tail_share@10"]
    diff = tail["text_only"] - tail["most_popular"]
    rows.append({"target": "text-only long-tail share@10 - most-popular's", "measured": diff, "ci_low": float("nan"),
                 "ci_high": float("nan"), "goal": "> 0", "gap": min(0.0, diff)})
    table = pd.DataFrame(rows).set_index("target")
    table["status"] = [_status(*r) for r in zip(table["gap"], table["goal"], table["measured"], table["ci_low"],
                                                 strict=True)]
    return table.drop(columns="gap")


def _status(gap: float, goal: str, measured: float, ci_low: float) -> str:
    """"met", "met on the point estimate only (...)" when the interval reaches below the goal, or the gap."""
    if gap != 0 or (goal == "> 0" and measured <= 0):
        return f"missed by {abs(gap):.3g}"
    if goal.startswith(">= ") and not pd.isna(ci_low) and ci_low < float(goal[3:]):
        return f"met on the point estimate; the 95% CI reaches {ci_low:.3g}, below {goal[3:]}"
    return "met"


def print_wrapped(sentences, width: int = 100) -> None:
    for sentence in sentences:
        print(textwrap.fill(sentence, width=width, initial_indent="- ", subsequent_indent="  "))
