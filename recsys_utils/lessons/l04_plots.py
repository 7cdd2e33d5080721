"""The lesson's figures (matplotlib); each returns a Figure for ``results.save_figure``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..rl.evaluation import curve_band

COLORS = {"DQN": "tab:blue", "PPO": "tab:orange", "myopic greedy": "tab:green", "myopic oracle": "black",
          "random": "tab:gray", "similarity greedy": "tab:purple", "most popular": "tab:brown",
          "fitted Q": "tab:red", "lookahead oracle": "tab:olive"}


def sanity_figure(table):
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for column in ("click_probability", "watch_fraction", "like_probability"):
        ax.plot(table.index, table[column], marker="o", label=column.replace("_", " "))
    ax.set_xlabel("star rating the user actually gave (held out)")
    ax.set_ylabel("simulated response (fresh user, 0-1)")
    ax.set_title("Simulator response vs held-out ratings")
    ax.legend()
    return fig


def learning_curves(condition, references=("random", "myopic greedy", "fitted Q", "myopic oracle")):
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
    ax.set_ylabel("mean return per session, validation users")
    ax.set_title(f"Learning curves ({condition.name} regime); band = 95% CI over seeds")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def gain_figure(analysis: dict):
    """analysis[regime]["gains"][method] = {"mean", "low", "high"} of return(method) - return(greedy)."""
    methods = ("fitted Q", "DQN", "PPO", "myopic oracle", "lookahead oracle")
    regimes = list(analysis)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(methods)
    for j, m in enumerate(methods):
        x = np.arange(len(regimes)) + (j - (len(methods) - 1) / 2) * width
        cells = [analysis[r]["gains"][m] for r in regimes]
        mid = np.array([c["mean"] for c in cells])
        err = np.array([[c["mean"] - c["low"], c["high"] - c["mean"]] for c in cells]).T
        ax.bar(x, mid, width, yerr=err, color=COLORS[m], capsize=3, label=m)
    ax.axhline(0, color="black", lw=1)
    ax.set_xticks(np.arange(len(regimes)), [f"{r} regime" for r in regimes])
    ax.set_ylabel("return per session minus the greedy's")
    ax.set_title("Gain over the myopic greedy (95% CI, seeds x test users)")
    ax.legend(fontsize=8, ncol=2)
    return fig
