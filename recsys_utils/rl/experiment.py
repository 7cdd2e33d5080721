"""The lesson's pipeline: build the world, train DQN and PPO over seeds, evaluate everything.

Kept here (tested) so the notebook only calls a handful of functions. Training runs for
different (algorithm, seed) pairs are independent, so they run in ``n_jobs`` worker processes
(spawned, one torch thread each); every run is seeded, so the numbers do not depend on
``n_jobs``.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .baselines import MostPopular, RandomPolicy, SimilarityGreedy, fit_myopic_greedy
from .env import RecommendationEnv
from .oracles import MyopicOracle
from .rollouts import run_sessions
from .simulator import SimulatorConfig
from .world import SimulationWorld

BASELINES = ("random", "similarity greedy", "most popular", "myopic greedy", "myopic oracle")
VALIDATION_SEED = 7
TEST_SEED_OFFSET = 1000


@dataclass
class Budget:
    """How much work the lesson does; the notebook's parameters fill it (smoke shrinks it)."""

    seeds: int = 5
    ablation_seeds: int = 5
    timesteps: int = 15_000
    n_checkpoints: int = 6
    checkpoint_users: int = 64
    test_episodes: int = 2
    greedy_episodes: int = 1500
    n_jobs: int = 2
    k: int = 10
    architecture: str = "shared"
    base_seed: int = 0  # run i uses seed base_seed + i (training, logging and evaluation)

    def __post_init__(self) -> None:
        if self.seeds < 1 or self.ablation_seeds < 1 or self.timesteps < 1:
            raise ValueError("seeds, ablation_seeds and timesteps must be at least 1")


def prepare_movielens_world(data, splits, config: SimulatorConfig, k: int = 10, pool_size: int = 40,
                            taste_dim: int = 16, store=None, cf_rank: int = 8):
    """(world, rating_model, item_vectors) for MovieLens from the data layer and lesson 02's index.

    Two rating models: the ground truth (all ratings, simulator side) and the agents' own
    collaborative model (training-period ratings only, rank ``cf_rank``), whose score and item
    factors are per-candidate features for every learner and the greedy alike."""
    from ..embeddings import movie_embeddings
    from ..embeddings.users import user_embeddings
    from .ground_truth import fit_rating_model
    from .world import build_world

    if pool_size < k + config.max_steps - 1:
        raise ValueError(f"pool_size={pool_size} < K + max_steps - 1 = {k + config.max_steps - 1}")
    if store is None:
        from ..movie_index import ensure_movie_index

        store = ensure_movie_index(data)
    item_vectors = movie_embeddings(data.movies)
    user_ids, taste = user_embeddings(splits.train_ratings, data.movies, item_vectors)
    rating_model = fit_rating_model(data.ratings)  # all ratings: see ground_truth's docstring
    agent_model = fit_rating_model(splits.train_ratings, rank=cf_rank) if cf_rank else None
    world = build_world(
        data.movies, splits.train_ratings, item_vectors, taste, user_ids, store,
        {"train": splits.train_users, "val": splits.val_users, "test": splits.test_users},
        rating_model, taste_dim=taste_dim, pool_size=pool_size, window=config.boredom_window,
        agent_model=agent_model,
    )
    return world, rating_model, item_vectors


def per_user_returns(rollouts, rows: np.ndarray) -> np.ndarray:
    """Mean return per user (in the order of ``rows``) over that user's episodes."""
    sums = np.zeros(rows.max() + 1)
    counts = np.zeros(rows.max() + 1)
    np.add.at(sums, rollouts.user_rows, rollouts.returns)
    np.add.at(counts, rollouts.user_rows, 1)
    return sums[rows] / np.maximum(counts[rows], 1)


def _test(policy, world, config, budget: Budget, seed_index: int) -> tuple[np.ndarray, dict]:
    rollouts = run_sessions(policy, world, "test", config, budget.k, seed=TEST_SEED_OFFSET + seed_index,
                            episodes_per_user=budget.test_episodes)
    return per_user_returns(rollouts, world.rows("test")), rollouts.summary()


def _validate(policy, world, config, budget: Budget) -> float:
    rollouts = run_sessions(policy, world, "val", config, budget.k, seed=VALIDATION_SEED,
                            max_users=budget.checkpoint_users)
    return rollouts.summary()["mean_return"]


def evaluate_baselines(world: SimulationWorld, config: SimulatorConfig, budget: Budget, n_seeds: int) -> dict:
    """Every baseline on the test users for ``n_seeds`` evaluation seeds (and on the
    validation users once, for the learning-curve reference lines)."""
    layout = RecommendationEnv(world, "train", config, budget.k).layout
    results = {name: {"per_user": [], "summaries": []} for name in BASELINES}
    greedy_seconds = []
    for i in range(n_seeds):
        s = budget.base_seed + i
        start = time.perf_counter()
        greedy = fit_myopic_greedy(lambda: RecommendationEnv(world, "train", config, budget.k),
                                   n_episodes=budget.greedy_episodes, seed=s)
        greedy_seconds.append(time.perf_counter() - start)
        policies = [RandomPolicy(s), SimilarityGreedy(layout), MostPopular(layout), greedy, MyopicOracle()]
        for policy in policies:
            per_user, summary = _test(policy, world, config, budget, s)
            results[policy.name]["per_user"].append(per_user)
            results[policy.name]["summaries"].append(summary)
            if i == 0:
                results[policy.name]["validation_return"] = _validate(policy, world, config, budget)
    for res in results.values():
        res["per_user"] = np.stack(res["per_user"])
    results["myopic greedy"]["fit_seconds"] = float(np.mean(greedy_seconds))
    return results


def _agent_job(job: dict) -> dict:
    """One (algorithm, seed) training run plus its test evaluation (runs in a worker)."""
    from .agents import SB3Policy, train_agent

    world, config, budget = job["world"], job["config"], job["budget"]
    run = train_agent(
        job["algorithm"],
        lambda: RecommendationEnv(world, "train", config, budget.k),
        budget.timesteps,
        job["seed"],
        lambda policy: _validate(policy, world, config, budget),
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
        "seconds": run.seconds, "path": str(path),
    }


def train_agents(world, config, budget: Budget, n_seeds: int, save_dir: Path, tag: str,
                 algorithms=("DQN", "PPO")) -> dict:
    jobs = [
        {"world": world, "config": config, "budget": budget, "algorithm": algo, "seed": s,
         "save_path": str(Path(save_dir) / f"{tag.replace(' ', '_')}-{algo.lower()}-seed{s}.zip")}
        for algo in algorithms for s in range(budget.base_seed, budget.base_seed + n_seeds)
    ]
    if budget.n_jobs > 1:
        with ProcessPoolExecutor(max_workers=budget.n_jobs, mp_context=get_context("spawn")) as pool:
            outputs = list(pool.map(_agent_job, jobs))
    else:
        outputs = [_agent_job(job) for job in jobs]
    results = {}
    for algo in algorithms:
        runs = sorted((o for o in outputs if o["algorithm"] == algo), key=lambda o: o["seed"])
        results[algo] = {
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
class ConditionResult:
    name: str
    config: SimulatorConfig
    results: dict  # method -> {"per_user", "summaries", ...}
    seconds: float
    timings: dict = field(default_factory=dict)

    def methods(self) -> list[str]:
        return list(self.results)


def run_condition(world, config: SimulatorConfig, budget: Budget, n_seeds: int, save_dir: Path,
                  name: str) -> ConditionResult:
    start = time.perf_counter()
    baselines = evaluate_baselines(world, config, budget, n_seeds)
    after_baselines = time.perf_counter()
    agents = train_agents(world, config, budget, n_seeds, save_dir, name)
    end = time.perf_counter()
    return ConditionResult(name, config, {**baselines, **agents}, end - start,
                           {"baselines_seconds": after_baselines - start, "agents_seconds": end - after_baselines})


def budget_dict(budget: Budget) -> dict:
    return asdict(budget)


def test_user_groups(world: SimulationWorld, history_ratings, n_groups: int = 5) -> np.ndarray:
    """Activity group of every test user (quintiles of their training-period rating counts)."""
    from ..constants import USER_COL
    from .evaluation import activity_groups

    counts = history_ratings[USER_COL].value_counts()
    test_ids = world.user_ids[world.rows("test")]
    return activity_groups(counts.reindex(test_ids, fill_value=0).to_numpy(), n_groups)


def analyse(main: ConditionResult, ablation: ConditionResult, groups: np.ndarray) -> dict:
    """Tables, probabilities of improvement and RL-minus-greedy gaps for both conditions."""
    from . import evaluation as ev

    out = {"tables": {}, "poi": {}, "gaps": {}, "normalised": {}, "gap_shift": {}}
    per_seed_gap = {}
    for cond in (main, ablation):
        rows = ev.comparison_table(cond.results, groups)
        out["tables"][cond.name] = rows
        norm = ev.normalised_group_scores(cond.results, groups)
        out["normalised"][cond.name] = {k: v.tolist() for k, v in norm.items()}
        pairs = [("PPO", "DQN"), ("PPO", "myopic greedy"), ("DQN", "myopic greedy")]
        out["poi"][cond.name] = {
            f"{a} > {b}": dict(zip(("mean", "low", "high"), ev.probability_of_improvement(norm[a], norm[b]), strict=True))
            for a, b in pairs
        }
        greedy = cond.results["myopic greedy"]["per_user"]
        out["gaps"][cond.name] = {
            algo: ev.return_gap(cond.results[algo]["per_user"], greedy[: len(cond.results[algo]["per_user"])])
            for algo in ("DQN", "PPO")
        }
        per_seed_gap[cond.name] = {
            algo: cond.results[algo]["per_user"].mean(axis=1) - greedy[: len(cond.results[algo]["per_user"])].mean(axis=1)
            for algo in ("DQN", "PPO")
        }
    # How much the long-term dynamics move RL's standing against the greedy model.
    out["gap_shift"] = {
        algo: ev.difference_of_gaps(per_seed_gap[main.name][algo], per_seed_gap[ablation.name][algo])
        for algo in ("DQN", "PPO")
    }
    return out


def table_records(rows: list[dict], condition: str) -> list[dict]:
    """Flat, printable rows (``mean [low, high]``) for the report and the notebook."""
    from .evaluation import format_interval

    records = []
    for r in rows:
        records.append({
            "condition": condition,
            "method": r["method"],
            "seeds": r["seeds"],
            "mean return": format_interval(r["mean_return"]),
            "normalised IQM": format_interval(r["normalised_iqm"]),
            "CTR": format_interval(r["ctr"]),
            "watch time": format_interval(r["watch_time"]),
            "session length": format_interval(r["session_length"]),
            "diversity": format_interval(r["diversity"]),
        })
    return records


def findings(analysis: dict, main: str, ablation: str) -> list[str]:
    """Plain statements generated from the numbers (so the text can never contradict them)."""

    def verdict(cell: dict) -> str:
        if cell["low"] > 0:
            return "beats"
        if cell["high"] < 0:
            return "loses to"
        return "is not distinguishable from"

    lines = []
    for cond in (main, ablation):
        for algo in ("DQN", "PPO"):
            gap = analysis["gaps"][cond][algo]
            lines.append(
                f"[{cond}] {algo} {verdict(gap)} the myopic greedy model: return difference "
                f"{gap['mean']:+.2f} (95% CI {gap['low']:+.2f} to {gap['high']:+.2f})."
            )
        poi = analysis["poi"][cond]["PPO > DQN"]
        lines.append(
            f"[{cond}] P(PPO > DQN) = {poi['mean']:.2f} (95% CI {poi['low']:.2f}-{poi['high']:.2f}); "
            "0.5 means no difference."
        )
    for algo, shift in analysis["gap_shift"].items():
        change = "improves" if shift["low"] > 0 else "worsens" if shift["high"] < 0 else "does not measurably change"
        lines.append(
            f"Switching the long-term dynamics on {change} {algo}'s standing against the greedy model: "
            f"its return difference moves by {shift['mean']:+.2f} (95% CI {shift['low']:+.2f} to {shift['high']:+.2f})."
        )
    return lines
