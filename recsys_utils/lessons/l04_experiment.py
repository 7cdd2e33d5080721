"""Lesson 04's experiment: budgets, the per-regime pipeline, the analysis and the guard.

Kept here (tested) so the notebook only calls a handful of functions. Training runs for
different (algorithm, seed) pairs are independent, so they run in ``n_jobs`` worker processes
(spawned, one torch thread each); every run is seeded, so the numbers do not depend on ``n_jobs``.

Fairness rules the pipeline enforces:
- every learned method gets ``Budget.timesteps`` environment steps: DQN and PPO online, the
  greedy reward model and fitted Q-iteration as the same number of logged random-policy steps;
- all of them see the same observation, collaborative features included;
- checkpoints are selected on at least ``Budget.validation_sessions`` validation sessions;
- every method is tested on the same test users with the same random streams per seed index.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..rl import evaluation as ev
from ..rl.baselines import (
    MostPopular,
    RandomPolicy,
    SimilarityGreedy,
    fit_fitted_q,
    fit_myopic_greedy,
    log_random_sessions,
)
from ..rl.oracles import LookaheadOracle, MyopicOracle
from ..rl.rollouts import run_sessions
from ..rl.world import SimulationWorld

VALIDATION_SEED = 7
TEST_SEED_OFFSET = 1000
LEARNERS = ("DQN", "PPO")
GREEDY = "myopic greedy"
FITTED_Q = "fitted Q"


@dataclass
class Budget:
    """How much work the lesson does; the notebook's parameters fill it (smoke shrinks it)."""

    seeds: int = 3
    timesteps: int = 15_000
    n_checkpoints: int = 6
    validation_sessions: int = 300
    test_episodes: int = 2
    lookahead_rollouts: int = 8
    fqi_gamma: float = 0.9
    fqi_iterations: int = 4
    tree_iterations: int = 100  # boosting rounds of the greedy's and fitted Q's regressors
    n_jobs: int = 2
    k: int = 10
    architecture: str = "shared"
    base_seed: int = 0  # run i uses seed base_seed + i (training, logging and evaluation)

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.timesteps < 1 or self.validation_sessions < 1:
            raise ValueError("seeds, timesteps and validation_sessions must be at least 1")

    def validation_episodes(self, n_users: int) -> int:
        return -(-self.validation_sessions // max(n_users, 1))


def prepare_world(data, splits, config, k: int = 10, pool_size: int = 40, taste_dim: int = 16,
                  candidate_budget: str = "full", seed: int = 42):
    """(world, rating_model, item_vectors): pools and collaborative features from the course's
    candidate generator (lesson 03's, built with ``candidate_budget`` when not cached)."""
    from ..rl.experiment import prepare_movielens_world

    return prepare_movielens_world(data, splits, config, k=k, pool_size=pool_size, taste_dim=taste_dim,
                                   candidate_budget=candidate_budget, seed=seed)


def validate(policy, world, config, budget: Budget) -> float:
    n_users = len(world.rows("val"))
    rollouts = run_sessions(policy, world, "val", config, budget.k, seed=VALIDATION_SEED,
                            episodes_per_user=budget.validation_episodes(n_users))
    return rollouts.summary()["mean_return"]


def per_user_returns(rollouts, rows: np.ndarray) -> np.ndarray:
    """Mean return per user (in the order of ``rows``) over that user's sessions."""
    sums = np.zeros(rows.max() + 1)
    counts = np.zeros(rows.max() + 1)
    np.add.at(sums, rollouts.user_rows, rollouts.returns)
    np.add.at(counts, rollouts.user_rows, 1)
    return sums[rows] / np.maximum(counts[rows], 1)


def _test(policy, world, config, budget: Budget, seed_index: int) -> tuple[np.ndarray, dict]:
    rollouts = run_sessions(policy, world, "test", config, budget.k, seed=TEST_SEED_OFFSET + seed_index,
                            episodes_per_user=budget.test_episodes)
    return per_user_returns(rollouts, world.rows("test")), rollouts.summary()


def evaluate_baselines(world: SimulationWorld, config, budget: Budget) -> dict:
    """Every non-RL method and fitted Q on the test users, ``budget.seeds`` seed indices; the
    lookahead oracle once (seed index ``base_seed``: it is a reference, and the costliest one)."""
    names = ("random", "similarity greedy", "most popular", GREEDY, FITTED_Q, "myopic oracle")
    results = {name: {"per_user": [], "summaries": []} for name in names}
    timings = {"log_and_fit_seconds": []}
    layout = None
    for i in range(budget.seeds):
        s = budget.base_seed + i
        start = time.perf_counter()
        logged = log_random_sessions(world, config, budget.k, budget.timesteps, seed=s)
        greedy = fit_myopic_greedy(logged, seed=s, max_iter=budget.tree_iterations)
        fitted_q = fit_fitted_q(logged, budget.fqi_gamma, budget.fqi_iterations, seed=s,
                                max_iter=budget.tree_iterations)
        timings["log_and_fit_seconds"].append(time.perf_counter() - start)
        layout = logged.layout
        policies = [RandomPolicy(s), SimilarityGreedy(layout), MostPopular(layout), greedy, fitted_q, MyopicOracle()]
        for policy in policies:
            per_user, summary = _test(policy, world, config, budget, s)
            results[policy.name]["per_user"].append(per_user)
            results[policy.name]["summaries"].append(summary)
            if i == 0 or policy.name == FITTED_Q:
                results[policy.name].setdefault("validation_returns", []).append(
                    validate(policy, world, config, budget))
                results[policy.name]["validation_return"] = results[policy.name]["validation_returns"][0]
    for res in results.values():
        res["per_user"] = np.stack(res["per_user"])
    start = time.perf_counter()
    oracle = LookaheadOracle(budget.lookahead_rollouts, seed=budget.base_seed)
    per_user, summary = _test(oracle, world, config, budget, budget.base_seed)
    results["lookahead oracle"] = {"per_user": per_user[None], "summaries": [summary]}
    timings["lookahead_seconds"] = time.perf_counter() - start
    results[GREEDY]["timings"] = timings
    return results


def _agent_job(job: dict) -> dict:
    """One (algorithm, seed) training run plus its test evaluation (runs in a worker)."""
    from ..rl.agents import SB3Policy, train_agent
    from ..rl.env import RecommendationEnv

    world, config, budget = job["world"], job["config"], job["budget"]
    run = train_agent(
        job["algorithm"],
        lambda: RecommendationEnv(world, "train", config, budget.k),
        budget.timesteps,
        job["seed"],
        lambda policy: validate(policy, world, config, budget),
        n_checkpoints=budget.n_checkpoints,
        architecture=budget.architecture,
    )
    per_user, summary = _test(SB3Policy(run.model), world, config, budget, job["seed"])
    path = Path(job["save_path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    run.model.save(path)
    return {
        "algorithm": job["algorithm"], "seed": job["seed"], "per_user": per_user, "summary": summary,
        "curve_steps": run.curve_steps, "curve_returns": run.curve_returns,
        "best_validation_return": run.best_validation_return, "best_step": run.best_step,
        "seconds": run.seconds, "path": str(path), "regime": job["regime"],
    }


def train_agents(world, configs: dict, budget: Budget, save_dir: Path, algorithms=LEARNERS) -> dict:
    """Every (regime, algorithm, seed) run in one pool of ``n_jobs`` workers (one start-up cost);
    returns ``{regime: {algorithm: results}}``."""
    jobs = [
        {"world": world, "config": config, "budget": budget, "algorithm": algo, "seed": s, "regime": name,
         "save_path": str(Path(save_dir) / f"{name.replace(' ', '_')}-{algo.lower()}-seed{s}.zip")}
        for name, config in configs.items() for algo in algorithms
        for s in range(budget.base_seed, budget.base_seed + budget.seeds)
    ]
    if budget.n_jobs > 1:
        with ProcessPoolExecutor(max_workers=budget.n_jobs, mp_context=get_context("spawn")) as pool:
            outputs = list(pool.map(_agent_job, jobs))
    else:
        outputs = [_agent_job(job) for job in jobs]
    results = {name: {} for name in configs}
    for name in configs:
        for algo in algorithms:
            runs = sorted((o for o in outputs if o["algorithm"] == algo and o["regime"] == name), key=lambda o: o["seed"])
            results[name][algo] = {
                "per_user": np.stack([r["per_user"] for r in runs]),
                "summaries": [r["summary"] for r in runs],
                "curves": np.array([r["curve_returns"] for r in runs]),
                "curve_steps": runs[0]["curve_steps"],
                "best_validation_return": [r["best_validation_return"] for r in runs],
                "best_step": [r["best_step"] for r in runs],
                "train_seconds": [r["seconds"] for r in runs],
                "paths": [r["path"] for r in runs],
                "seeds": [r["seed"] for r in runs],
            }
    return results


@dataclass
class RegimeResult:
    name: str
    config: object
    results: dict  # method -> {"per_user" (seeds, users), "summaries", ...}
    seconds: float
    timings: dict = field(default_factory=dict)


def run_regimes(world, configs: dict, budget: Budget, save_dir: Path) -> dict[str, RegimeResult]:
    """Baselines and oracles per regime, then every learner of every regime in one worker pool."""
    baselines, seconds = {}, {}
    for name, config in configs.items():
        start = time.perf_counter()
        baselines[name] = evaluate_baselines(world, config, budget)
        seconds[name] = time.perf_counter() - start
    start = time.perf_counter()
    agents = train_agents(world, configs, budget, save_dir)
    agents_seconds = time.perf_counter() - start
    out = {}
    for name, config in configs.items():
        timings = {"baselines_seconds": seconds[name],
                   **{k: float(np.mean(v)) for k, v in baselines[name][GREEDY].pop("timings").items()},
                   "agents_seconds (all regimes)": agents_seconds}
        out[name] = RegimeResult(name, config, {**baselines[name], **agents[name]}, seconds[name] + agents_seconds / 2,
                                 timings)
    return out


def budget_dict(budget: Budget) -> dict:
    return asdict(budget)


def test_user_groups(world: SimulationWorld, history_ratings, n_groups: int = 5) -> np.ndarray:
    """Activity group of every test user (quintiles of their training-period rating counts)."""
    from ..constants import USER_COL

    counts = history_ratings[USER_COL].value_counts()
    test_ids = world.user_ids[world.rows("test")]
    return ev.activity_groups(counts.reindex(test_ids, fill_value=0).to_numpy(), n_groups)


def best_rl(regime: RegimeResult) -> str:
    """The RL method validation prefers (DQN, PPO: best checkpoint of the best seed; fitted Q:
    mean validation return over its seeds): chosen on validation users, never on test users."""
    scores = {algo: float(np.max(regime.results[algo]["best_validation_return"])) for algo in LEARNERS}
    scores[FITTED_Q] = float(np.mean(regime.results[FITTED_Q]["validation_returns"]))
    return max(scores, key=scores.get)


def analyse(regime: RegimeResult, groups: np.ndarray) -> dict:
    """Room, model gap, every method's gain over the greedy (and as a share of the room),
    normalised scores (lookahead = 1), IQM and probabilities of improvement, with intervals."""
    res = regime.results
    look = res["lookahead oracle"]["per_user"]
    myopic = res["myopic oracle"]["per_user"][:1]  # the lookahead's seed index, paired user by user
    greedy = res[GREEDY]["per_user"]
    room = ev.paired_difference(look, myopic)
    out = {
        "room": room,
        # As a share of the myopic oracle's mean return (the interval scaled by that mean).
        "room_share": {k: v / float(myopic.mean()) for k, v in room.items()},
        "model_gap": ev.paired_difference(res["myopic oracle"]["per_user"], greedy),
        # What the simulator's own model buys over random picks from the same pools, user by user.
        "oracle_over_random": ev.paired_difference(res["myopic oracle"]["per_user"], res["random"]["per_user"]),
        "gains": {}, "share_of_room": {}, "poi": {},
    }
    for method in (*LEARNERS, FITTED_Q, "myopic oracle", "lookahead oracle", "similarity greedy", "most popular"):
        out["gains"][method] = ev.paired_difference(res[method]["per_user"], greedy)
        if method in (*LEARNERS, FITTED_Q):
            out["share_of_room"][method] = ev.share_of_room(res[method]["per_user"], greedy, look, myopic)
    # Normalised scores per activity group, lookahead oracle = 1 and random = 0.
    rand = ev.group_scores(res["random"]["per_user"], groups).mean(axis=0)
    ceiling = ev.group_scores(look, groups).mean(axis=0)
    norm = {m: ev.normalised(ev.group_scores(r["per_user"], groups), rand, ceiling) for m, r in res.items()}
    out["normalised_iqm"] = {m: dict(zip(("mean", "low", "high"), ev.stratified_bootstrap(v, ev.iqm), strict=True))
                             for m, v in norm.items()}
    for a, b in ((LEARNERS[0], GREEDY), (LEARNERS[1], GREEDY), (FITTED_Q, GREEDY), ("PPO", "DQN")):
        out["poi"][f"{a} > {b}"] = dict(zip(("mean", "low", "high"), ev.probability_of_improvement(norm[a], norm[b]),
                                            strict=True))
    out["table"] = ev.comparison_table(res, groups, reference=("random", "lookahead oracle"))
    out["best_rl"] = best_rl(regime)
    return out


def has_room(analysis: dict) -> bool:
    """A share of the room is meaningful only when the room's interval is above 0."""
    return analysis["room"]["low"] > 0


def verdict(cell: dict) -> str:
    if cell["low"] > 0:
        return "beats"
    if cell["high"] < 0:
        return "loses to"
    return "is not distinguishable from"


def _ci(cell: dict, digits: int = 2) -> str:
    return f"{cell['mean']:+.{digits}f} (95% CI {cell['low']:+.{digits}f} to {cell['high']:+.{digits}f})"


def findings(analysis: dict, regime: str, long_term: bool) -> list[str]:
    """Plain statements generated from the intervals (so the text can never contradict them)."""
    a = analysis
    lines = [
        f"[{regime}] planning room (lookahead oracle - myopic oracle): {_ci(a['room'])} return per session, "
        f"{a['room_share']['mean']:.0%} of the myopic oracle's return.",
        f"[{regime}] model gap (myopic oracle - myopic greedy): {_ci(a['model_gap'])}.",
    ]
    for method in (*LEARNERS, FITTED_Q):
        gain, share = a["gains"][method], a["share_of_room"][method]
        tail = (f"; as a share of the room {share['mean']:.2f} (95% CI {share['low']:.2f} to {share['high']:.2f})."
                if has_room(a) else " (no planning room to share).")
        lines.append(f"[{regime}] {method} {verdict(gain)} the myopic greedy: {_ci(gain)}" + tail)
    best = a["best_rl"]
    gain, room = a["gains"][best], a["room"]["mean"]
    if long_term:
        met = gain["low"] > 0 and gain["mean"] >= room / 3
        lines.append(
            f"[{regime}] target (best RL agent by validation, {best}, beats the greedy with an interval above 0 "
            f"by at least a third of the room, {room / 3:.2f}): "
            + ("met." if met else f"missed: gain {gain['mean']:+.2f}, interval from {gain['low']:+.2f}; "
               f"short of {room / 3:.2f} by {max(room / 3 - gain['mean'], 0):.2f}"
               + (" and the interval includes 0." if gain["low"] <= 0 else "."))
        )
    else:
        above = [m for m in (*LEARNERS, FITTED_Q) if a["gains"][m]["low"] > 0]
        lines.append(f"[{regime}] target (no agent significantly above the greedy): "
                     + ("met." if not above else f"missed: {', '.join(above)} significantly above."))
    return lines


def headline_gain(analysis: dict) -> tuple[str, dict]:
    best = analysis["best_rl"]
    return best, analysis["gains"][best]


# -- the guard: re-ranking must not spoil the retrieval it starts from ------------------------
def heldout_ndcg_by_weight(policy, world, splits, split: str, weights, k: int = 10) -> dict:
    """Per guard weight (0 = the generator's own order, None = the saved weight), per user of ``split``:
    nDCG@k of the served list against their held-out likes (rating >= 4 in the temporal holdout),
    ranking the user's generator pool with ``rank_candidates``; NaN for users without held-out likes.
    Each user's state and policy scores are computed once (they do not depend on the weight)."""
    from dataclasses import replace as dc_replace

    import torch
    from threadpoolctl import threadpool_limits

    from ..constants import ITEM_COL, LIKE_THRESHOLD, RATING_COL, USER_COL
    from ..metrics import ndcg_at_k
    from ..rl.serving import rank_candidates

    rows = world.rows(split)
    ids = world.catalog.movie_ids
    train = splits.train_ratings
    liked = splits.test_ratings[splits.test_ratings[RATING_COL] >= LIKE_THRESHOLD]
    ranked = {w: [] for w in weights}
    relevant = np.zeros((len(rows), len(ids)), dtype=bool)
    by_user = train.groupby(USER_COL)
    liked_by_user = liked.groupby(USER_COL)[ITEM_COL]
    threads = torch.get_num_threads()
    # One user at a time is a 128-wide solve and a tiny forward pass: multithreaded BLAS and torch
    # spend more waking their threads than computing on a busy machine (measured 2x slower).
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            for i, row in enumerate(rows):
                user = int(world.user_ids[row])
                hist = by_user.get_group(user)
                state = policy.state_for(hist[ITEM_COL].to_numpy(), hist[RATING_COL].to_numpy())
                state = dc_replace(state, recent_movie_ids=list(ids[world.history[row][world.history[row] >= 0]]))
                candidates = ids[world.pool_items[row]].tolist()
                scores = None
                for w in weights:
                    weight = float(policy.info["policy_weight"]) if w is None else float(w)
                    if scores is None and weight > 0:
                        scores = policy.score(state, candidates)
                    scorer = _Scored(scores, {**policy.info, "policy_weight": weight})
                    ranked[w].append(world.catalog.positions(rank_candidates(scorer, state, candidates))[:k])
                if user in liked_by_user.groups:
                    mine = liked_by_user.get_group(user).to_numpy()
                    relevant[i, world.catalog.positions(mine[np.isin(mine, ids)])] = True
    finally:
        torch.set_num_threads(threads)
    return {w: ndcg_at_k(np.asarray(r, dtype=np.int64), relevant, k) for w, r in ranked.items()}


class _Scored:
    """Precomputed policy scores with an ``info`` of its own (to try guard weights without saving)."""

    def __init__(self, scores, info):
        self.scores, self.info = scores, info

    def score(self, *args, **kwargs):
        return self.scores


GUARD_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def choose_guard_weight(policy, world, splits, k: int = 10) -> dict:
    """The policy weight whose served lists score best on validation users' held-out likes;
    ties go to the smaller weight, so the generator's order (0) wins unless the policy helps."""
    by_weight = heldout_ndcg_by_weight(policy, world, splits, "val", GUARD_WEIGHTS, k)
    scores = {w: float(np.nanmean(v)) for w, v in by_weight.items()}
    best = max(GUARD_WEIGHTS, key=lambda w: (round(scores[w], 6), -w))
    return {"policy_weight": best, "validation_ndcg": {str(w): round(v, 4) for w, v in scores.items()}}


def save_served_policy(regime: RegimeResult, analysis: dict, world, item_vectors, splits, budget: Budget,
                       folder=None) -> dict:
    """Save DQN's and PPO's best seeds, serve the one validation prefers, record its test gain over
    the greedy and the guard weight chosen on validation users' held-out likes."""
    from ..rl.env import RecommendationEnv
    from ..rl.serving import load_policy, save_policies

    agents = {a: regime.results[a] for a in LEARNERS}
    winner = max(LEARNERS, key=lambda a: float(np.max(agents[a]["best_validation_return"])))
    gain = analysis["gains"][winner]
    layout = RecommendationEnv(world, "train", regime.config, budget.k).layout
    args = (agents, world, layout, regime.config, item_vectors, budget.architecture)
    comparison = {"value": gain["mean"], "ci": [gain["low"], gain["high"]]}
    save_policies(*args, folder=folder, comparison=comparison)
    guard = choose_guard_weight(load_policy(folder), world, splits, budget.k)
    save_policies(*args, folder=folder, comparison=comparison, serving=guard)
    policy = load_policy(folder)
    test = heldout_ndcg_by_weight(policy, world, splits, "test", (None, 0.0), budget.k)
    served, generator = (float(np.nanmean(test[w])) for w in (None, 0.0))
    return {**guard, "algorithm": winner, "test_ndcg_served": served, "test_ndcg_generator": generator}


# -- tables, headlines and the recorded metrics -----------------------------------------------
SHOWN = ("random", "similarity greedy", "most popular", GREEDY, FITTED_Q, *LEARNERS, "myopic oracle", "lookahead oracle")


def _fmt(cell: dict, digits: int = 2) -> str:
    return f"{cell['mean']:.{digits}f} [{cell['low']:.{digits}f}, {cell['high']:.{digits}f}]"


def summary_frame(analysis: dict):
    """Room, model gap and each learner's gain over the greedy (absolute and as a share of the room)."""
    import pandas as pd

    rows = {}
    for name, a in analysis.items():
        row = {"planning room": _fmt(a["room"]), "room / myopic oracle": f"{a['room_share']['mean']:.0%}",
               "model gap": _fmt(a["model_gap"])}
        for m in (FITTED_Q, *LEARNERS):
            row[f"{m} - greedy"] = _fmt(a["gains"][m])
            row[f"{m}: share of room"] = _fmt(a["share_of_room"][m]) if has_room(a) else "n/a (no room)"
        rows[name] = row
    return pd.DataFrame(rows)


def table_records(analysis: dict) -> list[dict]:
    records = []
    for name, a in analysis.items():
        by_method = {r["method"]: r for r in a["table"]}
        for m in SHOWN:
            r = by_method[m]
            records.append({"regime": name, "method": m, "seeds": r["seeds"], "mean return": _fmt(r["mean_return"]),
                            "normalised IQM": _fmt(r["normalised_iqm"]), "CTR": _fmt(r["ctr"]),
                            "session length": _fmt(r["session_length"], 1), "diversity": _fmt(r["diversity"])})
    return records


def table_frame(analysis: dict):
    import pandas as pd

    return pd.DataFrame(table_records(analysis)).set_index(["regime", "method"])


def headlines(analysis: dict) -> list[dict]:
    """Keyword arguments of ``results.headline`` for the lesson's key findings (from the intervals)."""
    out = []
    lt, ctl = analysis["long-term"], analysis["control"]
    room = lt["room"]
    out.append({"text": f"Planning room in the long-term regime: the lookahead oracle beats the myopic oracle by "
                        f"{lt['room_share']['mean']:.0%}" + (" (interval above 0)." if room["low"] > 0 else
                                                              " (interval includes 0)."),
                "value": room["mean"], "ci": (room["low"], room["high"]),
                "protocol": "test users x 1 seed, hierarchical bootstrap", "unit": "return per session"})
    best = lt["best_rl"]
    gain = lt["gains"][best]
    out.append({"text": f"Long-term regime: {best} (the RL method validation prefers) {verdict(gain)} the myopic greedy.",
                "value": gain["mean"], "ci": (gain["low"], gain["high"]),
                "protocol": "test users x seeds, hierarchical bootstrap", "unit": "return per session"})
    above = [m for m in (*LEARNERS, FITTED_Q) if ctl["gains"][m]["low"] > 0]
    g = ctl["gains"][ctl["best_rl"]]
    out.append({"text": "Control regime (dynamics off): " + (
        "no learner is significantly above the greedy." if not above else f"{', '.join(above)} significantly above the greedy."),
                "value": g["mean"], "ci": (g["low"], g["high"]),
                "protocol": "test users x seeds, hierarchical bootstrap", "unit": "return per session"})
    return out


def _round(obj, digits: int = 4):
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v, digits) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), digits)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def metrics_record(results: dict, analysis: dict, budget: Budget, sanity: dict, sanity_table, served: dict, world,
                   seen: dict, lesson_seconds: float) -> dict:
    metrics = {
        "timing": {"lesson_seconds": round(lesson_seconds, 1),
                   **{f"{n}_seconds": round(r.seconds, 1) for n, r in results.items()}},
        "budget": budget_dict(budget),
        "simulator_sanity": _round(sanity),
        "sanity_watch_by_star": {str(k): round(float(v), 4) for k, v in sanity_table["watch_fraction"].items()},
        "coverage": {**{k: int(v) for k, v in seen.items()}, **world.coverage},
        "served": _round(served),
    }
    for name, a in analysis.items():
        key = name.replace("-", "_")
        metrics[key] = _round({
            "room": a["room"], "room_share": a["room_share"], "model_gap": a["model_gap"],
            "oracle_over_random": a["oracle_over_random"], "gains": a["gains"],
            "share_of_room": a["share_of_room"], "normalised_iqm": a["normalised_iqm"],
            "probability_of_improvement": a["poi"], "best_rl": a["best_rl"],
            "methods": {r["method"]: {m: r[m] for m in ("mean_return", "ctr", "session_length", "diversity")}
                        for r in a["table"]},
            "validation_return": {m: float(np.max(results[name].results[m]["best_validation_return"]))
                                  for m in LEARNERS},
        })
    return metrics
