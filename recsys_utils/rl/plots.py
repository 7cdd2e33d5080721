"""The lesson's figures (matplotlib); each returns a Figure for ``results.save_figure``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .evaluation import curve_band

COLORS = {"DQN": "tab:blue", "PPO": "tab:orange", "myopic greedy": "tab:green", "myopic oracle": "black",
          "random": "tab:gray", "similarity greedy": "tab:purple", "most popular": "tab:brown"}


def sanity_figure(table):
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for column in ("click_probability", "watch_fraction", "like_probability"):
        ax.plot(table.index, table[column], marker="o", label=column.replace("_", " "))
    ax.set_xlabel("star rating the user actually gave (held out)")
    ax.set_ylabel("simulated response (fresh user)")
    ax.set_title("Simulator response vs held-out ratings")
    ax.legend()
    return fig


def learning_curves(condition, references=("random", "myopic greedy", "myopic oracle")):
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for algo in ("DQN", "PPO"):
        res = condition.results[algo]
        mean, lo, hi = curve_band(res["curves"])
        steps = np.asarray(res["curve_steps"])
        ax.plot(steps, mean, color=COLORS[algo], label=f"{algo} (mean of {len(res['curves'])} seeds)")
        ax.fill_between(steps, lo, hi, color=COLORS[algo], alpha=0.2)
    for name in references:
        ax.axhline(condition.results[name]["validation_return"], color=COLORS[name], ls="--", lw=1, label=name)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean return, validation users")
    ax.set_title(f"Learning curves ({condition.name}); band = 95% bootstrap CI over seeds")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def interval_bars(rows, metric: str = "normalised_iqm", title: str = ""):
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    names = [r["method"] for r in rows]
    mid = np.array([r[metric]["mean"] for r in rows])
    err = np.array([[r[metric]["mean"] - r[metric]["low"], r[metric]["high"] - r[metric]["mean"]] for r in rows]).T
    ax.barh(names, mid, xerr=err, color=[COLORS.get(n, "tab:gray") for n in names], alpha=0.8, capsize=3)
    ax.invert_yaxis()
    ax.set_xlabel(metric.replace("_", " ") + " (95% CI)")
    ax.set_title(title)
    return fig


def ablation_figure(gaps: dict):
    """gaps[condition][algo] = {"mean", "low", "high"} of return(algo) - return(myopic greedy)."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    conditions = list(gaps)
    width = 0.35
    for j, algo in enumerate(("DQN", "PPO")):
        x = np.arange(len(conditions)) + (j - 0.5) * width
        mid = np.array([gaps[c][algo]["mean"] for c in conditions])
        err = np.array([[gaps[c][algo]["mean"] - gaps[c][algo]["low"], gaps[c][algo]["high"] - gaps[c][algo]["mean"]]
                        for c in conditions]).T
        ax.bar(x, mid, width, yerr=err, color=COLORS[algo], capsize=3, label=algo)
    ax.axhline(0, color="black", lw=1)
    ax.set_xticks(np.arange(len(conditions)), conditions)
    ax.set_ylabel("return minus myopic greedy's")
    ax.set_title("Does RL beat the one-step greedy model? (95% CI)")
    ax.legend()
    return fig
