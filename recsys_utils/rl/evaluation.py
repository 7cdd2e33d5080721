"""Turn sessions on test users into the lesson's table, intervals and curves.

Statistics follow Agarwal et al. (2021, "Deep RL at the edge of the statistical precipice"),
whose ``rliable`` library supplies the metric definitions used here (``aggregate_iqm``,
``probability_of_improvement``). Its bootstrap helpers (``rliable.library``) are not used:
they import ``arch``, whose 7.x release fails to import under the pinned pandas 3.1 and whose
8.0 release no longer accepts the ``random_state`` argument rliable passes; they also resample
with NumPy's global random state. :func:`stratified_bootstrap` is the same resampling scheme
(runs resampled with replacement independently within each task, percentile interval) in a
few vectorised lines with its own seeded generator.

"Tasks" are groups of test users by activity (quintiles of their number of training ratings):
each cell of a (runs x tasks) score matrix is one seed's mean return over one group, so the
interval reflects seed-to-seed variation, as in rliable.

Every comparison between two methods (a gain over the greedy, the model gap, the planning room)
uses :func:`hierarchical_bootstrap`: seeds are resampled, then test users, so the interval
carries both sources of variation (resampling only the few per-seed means, as the first
version of this lesson did, makes intervals too narrow). Methods evaluated with the same seed
index face the same users with the same random streams, so differences are paired.

Re-checked on 2026-12-01 with the pinned versions (rliable 1.2.0, arch 7.2.0, pandas 3.1.1,
NumPy 2.4.6): ``import rliable.library`` still fails inside ``arch`` with ``TypeError:
deprecate_kwarg() missing 1 required positional argument: 'new_arg_name'`` (arch 7.2 calls a
pandas helper whose signature changed). arch 8.0's refusal of ``random_state`` is from the
earlier check and was not re-run (it would need another arch in the environment).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.stats
from rliable import metrics as rly_metrics

CI_REPS = 2000


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean over the last two axes (runs, tasks); on a single (runs, tasks)
    matrix it equals ``rliable.metrics.aggregate_iqm`` (checked in the tests)."""
    scores = np.asarray(scores, dtype=np.float64)
    flat = scores.reshape(*scores.shape[:-2], -1)
    return scipy.stats.trim_mean(flat, proportiontocut=0.25, axis=-1)


def mean(scores: np.ndarray) -> np.ndarray:
    return np.asarray(scores, dtype=np.float64).mean(axis=(-2, -1))


def stratified_bootstrap(
    scores: np.ndarray, statistic: Callable[[np.ndarray], float], reps: int = CI_REPS, seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(point estimate, low, high): runs are resampled within each task (column).

    ``statistic`` maps (..., runs, tasks) to (...): it is applied to all resamples at once.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] < 1:
        raise ValueError(f"scores must be (runs, tasks); got shape {scores.shape}")
    n_runs, n_tasks = scores.shape
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_runs, size=(reps, n_runs, n_tasks))
    resampled = scores[idx, np.arange(n_tasks)[None, None, :]]
    values = statistic(resampled)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(statistic(scores)), float(lo), float(hi)


def probability_of_improvement(
    x: np.ndarray, y: np.ndarray, reps: int = CI_REPS, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """P(X > Y) averaged over tasks (rliable's metric), with a bootstrap that resamples the
    runs of X and of Y independently within each task."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must cover the same tasks; got {x.shape} and {y.shape}")
    rng = np.random.default_rng(seed)
    tasks = np.arange(x.shape[1])[None, None, :]
    xb = x[rng.integers(0, len(x), size=(reps, *x.shape)), tasks]
    yb = y[rng.integers(0, len(y), size=(reps, *y.shape)), tasks]
    values = _pairwise_improvement(xb, yb)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(rly_metrics.probability_of_improvement(x, y)), float(lo), float(hi)


def _pairwise_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vectorised rliable metric on (..., runs, tasks): the Mann-Whitney U / (nx * ny) per task,
    i.e. P(x > y) + 0.5 P(x = y), averaged over tasks."""
    diff = x[..., :, None, :] - y[..., None, :, :]
    per_task = ((diff > 0) + 0.5 * (diff == 0)).mean(axis=(-3, -2))
    return per_task.mean(axis=-1)


def activity_groups(train_counts: np.ndarray, n_groups: int = 5) -> np.ndarray:
    """Group label (0 = lightest raters) for each test user, by quantiles of rating counts."""
    n_groups = max(1, min(n_groups, len(train_counts)))
    order = np.argsort(train_counts, kind="stable")
    labels = np.empty(len(train_counts), dtype=int)
    for g, chunk in enumerate(np.array_split(order, n_groups)):
        labels[chunk] = g
    return labels


def group_scores(per_user: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(runs, users) -> (runs, groups) means."""
    per_user = np.atleast_2d(per_user)
    return np.stack([per_user[:, groups == g].mean(axis=1) for g in np.unique(groups)], axis=1)


def normalised(scores: np.ndarray, random_ref: np.ndarray, oracle_ref: np.ndarray) -> np.ndarray:
    """(R - random) / (oracle - random), per task; references are per-task means over runs."""
    span = np.where(np.abs(oracle_ref - random_ref) < 1e-9, np.nan, oracle_ref - random_ref)
    out = (scores - random_ref) / span
    if np.isnan(out).any():
        raise ValueError("the myopic oracle and random tie on a user group; the normalised score is undefined")
    return out


def comparison_table(results: dict[str, dict], groups: np.ndarray, reference=("random", "myopic oracle"),
                     seed: int = 0) -> list[dict]:
    """One row per method: the mean return with a hierarchical (seeds x users) interval, the other
    summary metrics as means over seeds with a 95% interval over seeds, plus the normalised
    score's IQM with a stratified-bootstrap interval.

    ``results[name]`` holds ``per_user`` (seeds, users) mean returns and ``summaries`` (a list
    of ``Rollouts.summary()`` dicts, one per seed).
    """
    rand = group_scores(results[reference[0]]["per_user"], groups).mean(axis=0)
    orac = group_scores(results[reference[1]]["per_user"], groups).mean(axis=0)
    rows = []
    for name, res in results.items():
        row = {"method": name, "seeds": len(res["summaries"])}
        row["mean_return"] = hierarchical_bootstrap(res["per_user"], seed=seed)
        for metric in ("ctr", "watch_time", "session_length", "diversity"):
            values = np.array([[s[metric]] for s in res["summaries"]])
            point, lo, hi = stratified_bootstrap(values, mean, seed=seed)
            row[metric] = {"mean": point, "low": lo, "high": hi}
        norm = normalised(group_scores(res["per_user"], groups), rand, orac)
        point, lo, hi = stratified_bootstrap(norm, iqm, seed=seed)
        row["normalised_iqm"] = {"mean": point, "low": lo, "high": hi}
        rows.append(row)
    return rows


def normalised_group_scores(results: dict[str, dict], groups: np.ndarray,
                            reference=("random", "myopic oracle")) -> dict[str, np.ndarray]:
    rand = group_scores(results[reference[0]]["per_user"], groups).mean(axis=0)
    orac = group_scores(results[reference[1]]["per_user"], groups).mean(axis=0)
    return {name: normalised(group_scores(res["per_user"], groups), rand, orac) for name, res in results.items()}


def return_gap(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean-return difference a - b (seeds paired by index: same evaluation seed, common random
    numbers) with a 95% bootstrap interval over seeds."""
    diff = (np.asarray(a).mean(axis=1) - np.asarray(b).mean(axis=1))[:, None]
    point, lo, hi = stratified_bootstrap(diff, mean, seed=seed)
    return {"mean": point, "low": lo, "high": hi}


def difference_of_gaps(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean of per-seed values ``a`` minus mean of ``b`` (independent seeds, e.g. two simulator
    conditions), with a 95% interval from resampling each side's seeds independently."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boot = a[rng.integers(0, len(a), (CI_REPS, len(a)))].mean(1) - b[rng.integers(0, len(b), (CI_REPS, len(b)))].mean(1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return {"mean": float(a.mean() - b.mean()), "low": float(lo), "high": float(hi)}


def curve_band(curves: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% bootstrap interval over seeds at each checkpoint; curves is (seeds, points)."""
    curves = np.asarray(curves, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(curves), size=(CI_REPS, len(curves)))
    boot = curves[idx].mean(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975], axis=0)
    return curves.mean(axis=0), lo, hi


def format_interval(cell: dict, digits: int = 2) -> str:
    return f"{cell['mean']:.{digits}f} [{cell['low']:.{digits}f}, {cell['high']:.{digits}f}]"


def hierarchical_bootstrap(values: np.ndarray, reps: int = CI_REPS, seed: int = 0,
                           confidence: float = 0.95) -> dict[str, float]:
    """Mean of a (seeds, users) matrix with a two-level bootstrap interval: resample seeds, then
    users (the same users for every resampled seed, so per-user pairing is kept)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n_seeds, n_users = values.shape
    if n_users < 2:
        raise ValueError(f"need at least 2 users to resample; got shape {values.shape}")
    rng = np.random.default_rng(seed)
    seed_idx = rng.integers(0, n_seeds, size=(reps, n_seeds))
    user_idx = rng.integers(0, n_users, size=(reps, n_users))
    # Mean over resampled seeds of the mean over resampled users, without a (reps, S, U) cube.
    per_seed = np.stack([values[:, u].mean(axis=1) for u in user_idx])  # (reps, seeds)
    boot = np.take_along_axis(per_seed, seed_idx, axis=1).mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    return {"mean": float(values.mean()), "low": float(lo), "high": float(hi)}


def paired_difference(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """a - b for (seeds, users) matrices paired by seed index (the shorter one sets the seeds)."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    n = min(len(a), len(b))
    return hierarchical_bootstrap(a[:n] - b[:n], seed=seed)


def share_of_room(method: np.ndarray, greedy: np.ndarray, lookahead: np.ndarray, myopic: np.ndarray,
                  reps: int = CI_REPS, seed: int = 0) -> dict[str, float]:
    """(method - greedy) / (lookahead - myopic oracle) with users and seeds resampled jointly.

    ``method`` and ``greedy`` are (seeds, users); ``lookahead`` and ``myopic`` (oracle seeds,
    users), paired by user. The ratio of means is recomputed on each resample."""
    method, greedy = np.atleast_2d(method), np.atleast_2d(greedy)
    lookahead, myopic = np.atleast_2d(lookahead), np.atleast_2d(myopic)
    n = min(len(method), len(greedy))
    gain = method[:n] - greedy[:n]
    room = lookahead[: len(myopic)] - myopic[: len(lookahead)]
    rng = np.random.default_rng(seed)
    users = gain.shape[1]
    values = np.empty(reps)
    for i in range(reps):
        u = rng.integers(0, users, users)
        g = gain[rng.integers(0, len(gain), len(gain))][:, u].mean()
        r = room[rng.integers(0, len(room), len(room))][:, u].mean()
        values[i] = g / r if abs(r) > 1e-9 else np.nan
    point_room = room.mean()
    point = gain.mean() / point_room if abs(point_room) > 1e-9 else float("nan")
    lo, hi = np.nanquantile(values, [0.025, 0.975]) if np.isfinite(values).any() else (np.nan, np.nan)
    return {"mean": float(point), "low": float(lo), "high": float(hi)}
