"""Environment and training throughput of lesson 04, as figures and ratios measured in one run.

    .venv/bin/python benchmarks/bench_rl.py [--steps 4000] [--world synthetic|movielens] [--parallel]

Measures, on the same world and the long-term regime:

- the gymnasium environment's steps per second (random actions, one session at a time);
- the batched NumPy environment's session-steps per second (300 sessions in lockstep, as in
  checkpoint selection), and its ratio to the gymnasium env;
- the lookahead oracle's decisions per second;
- the myopic greedy baseline's decision throughput (batched, as in evaluation);
- training steps per second for DQN and PPO with the lesson's hyperparameters, with torch
  limited to 1 thread and with torch's default thread count, alternated so machine noise hits
  both alike;
- with ``--parallel``, the lesson's actual setting: a DQN and a PPO run trained at once in two worker processes
  with one torch thread each (``N_JOBS=2``), against the same two runs one after the other
  with torch's default threads. This ratio is what justifies ``torch.set_num_threads(1)``
  in ``agents.make_agent`` together with parallel runs.

``--world movielens`` uses ml-100k and the lesson's vector store (needs lesson 01-02's data);
the default synthetic world needs nothing and has the same code path and a similar size.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def regime(world):
    from dataclasses import replace

    from recsys_utils.rl.regimes import load_regimes

    sims = world.pool_similarity
    return replace(load_regimes()["long-term"], similarity_center=float(sims.mean()),
                   similarity_scale=float(sims.std()))


def build_world(kind: str):
    from recsys_utils.rl.simulator import SimulatorConfig

    if kind == "movielens":
        from recsys_utils.data import load_movielens
        from recsys_utils.rl.experiment import prepare_movielens_world
        from recsys_utils.splits import load_splits

        data = load_movielens("ml-100k")
        return prepare_movielens_world(data, load_splits(data), SimulatorConfig())[0]
    from recsys_utils.rl.synthetic import synthetic_world

    return synthetic_world(seed=0, n_users=300, n_movies=600, pool_size=40, taste_dim=16)


def measure_batched(world, sessions: int = 300, repeats: int = 3) -> float:
    from recsys_utils.rl.batched import BatchedSessions

    rows = np.resize(world.rows("train"), sessions)
    rng = np.random.default_rng(0)
    rates = []
    for r in range(repeats):
        batch = BatchedSessions.start(world, regime(world), 10, rows, range(r * sessions, (r + 1) * sessions))
        steps, start = 0, time.perf_counter()
        while not batch.done.all():
            active = int((~batch.done).sum())
            batch.observations()
            batch.step_all(rng.integers(0, 10, batch.n))
            steps += active
        rates.append(steps / (time.perf_counter() - start))
    return float(np.median(rates))


def measure_lookahead(world, sessions: int = 30) -> float:
    from recsys_utils.rl.oracles import LookaheadOracle
    from recsys_utils.rl.rollouts import run_sessions

    start = time.perf_counter()
    rollouts = run_sessions(LookaheadOracle(8), world, "val", regime(world), 10, seed=0, max_users=sessions)
    return float(rollouts.lengths.sum()) / (time.perf_counter() - start)


def measure_env(world, steps: int) -> float:
    from recsys_utils.rl.env import RecommendationEnv

    env = RecommendationEnv(world, "train", regime(world))
    rng = np.random.default_rng(0)
    taken, episode = 0, 0
    env.reset(seed=episode)
    start = time.perf_counter()
    while taken < steps:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.k)))
        taken += 1
        if terminated or truncated:
            episode += 1
            env.reset(seed=episode)
    return taken / (time.perf_counter() - start)


def measure_training(world, algorithm: str, steps: int, threads: int | None) -> float:
    import torch

    from recsys_utils.rl.agents import make_agent
    from recsys_utils.rl.env import RecommendationEnv

    model = make_agent(algorithm, lambda: RecommendationEnv(world, "train", regime(world)), seed=0)
    if threads is not None:
        torch.set_num_threads(threads)
    # Warm-up past DQN's learning_starts so the timed part includes gradient steps.
    model.learn(total_timesteps=1_200)
    start = time.perf_counter()
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def measure_greedy(world, sessions: int) -> float:
    from recsys_utils.rl.baselines import fit_myopic_greedy, log_random_sessions
    from recsys_utils.rl.rollouts import run_sessions

    greedy = fit_myopic_greedy(log_random_sessions(world, regime(world), 10, 3000, seed=0), seed=0)
    start = time.perf_counter()
    rollouts = run_sessions(greedy, world, "test", regime(world), 10, seed=0, episodes_per_user=sessions)
    return float(rollouts.lengths.sum()) / (time.perf_counter() - start)


def _timed_run(job: tuple) -> tuple[float, float]:
    kind, algorithm, steps, threads = job
    import torch

    from recsys_utils.rl.agents import make_agent
    from recsys_utils.rl.env import RecommendationEnv

    world = build_world(kind)
    model = make_agent(algorithm, lambda: RecommendationEnv(world, "train", regime(world)), seed=0)
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.time()
    model.learn(total_timesteps=steps)
    return start, time.time()


def parallel_versus_sequential(kind: str, steps: int, default_threads: int) -> tuple[float, float]:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    jobs = [(kind, "DQN", steps, 1), (kind, "PPO", steps, 1)]
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        spans = list(pool.map(_timed_run, jobs))
    parallel = max(end for _, end in spans) - min(start for start, _ in spans)
    sequential = sum(end - start for start, end in (_timed_run((kind, a, steps, default_threads)) for a in ("DQN", "PPO")))
    return parallel, sequential


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="timed training steps per measurement")
    parser.add_argument("--world", choices=("synthetic", "movielens"), default="synthetic")
    parser.add_argument("--parallel", action="store_true", help="also time 2 worker processes against sequential runs")
    args = parser.parse_args()
    import torch

    default_threads = torch.get_num_threads()
    world = build_world(args.world)
    print(f"world: {args.world}, {len(world.user_ids)} users, pool {world.pool_size}; cores: {os.cpu_count()}; "
          f"torch default threads: {default_threads}")
    env_rate = measure_env(world, 20_000)
    print(f"gymnasium environment: {env_rate:,.0f} steps/s (random actions, one session at a time, no agent)")
    batched_rate = measure_batched(world)
    print(f"batched environment: {batched_rate:,.0f} session-steps/s (300 sessions in lockstep, observations "
          f"built): {batched_rate / env_rate:.1f}x the gymnasium env")
    look_rate = measure_lookahead(world)
    print(f"lookahead oracle: {look_rate:,.1f} decisions/s (8 rollouts x 10 candidates each): the batched env is "
          f"{batched_rate / look_rate:,.0f}x faster per step than planning one")
    print(f"myopic greedy evaluation: {measure_greedy(world, 2):,.0f} steps/s (batched reward model + env)")
    rates = {}
    for algorithm in ("DQN", "PPO"):
        one, default = [], []
        for _ in range(2):  # alternate so background load hits both settings alike
            one.append(measure_training(world, algorithm, args.steps, 1))
            default.append(measure_training(world, algorithm, args.steps, default_threads))
        rates[algorithm] = (float(np.median(one)), float(np.median(default)))
        print(f"{algorithm} training: {rates[algorithm][0]:,.0f} steps/s with 1 torch thread, "
              f"{rates[algorithm][1]:,.0f} with {default_threads}: 1 thread is "
              f"{rates[algorithm][0] / rates[algorithm][1]:.2f}x the default")
    if args.parallel:
        parallel, sequential = parallel_versus_sequential(args.world, 2 * args.steps, default_threads)
        print(f"one DQN + one PPO run of {2 * args.steps} steps: {parallel:.1f} s in 2 processes x 1 thread, "
              f"{sequential:.1f} s one after the other with {default_threads} threads: parallel is "
              f"{sequential / parallel:.2f}x faster")
    print(f"ratios: batched env / gymnasium env = {batched_rate / env_rate:.1f}x; gymnasium env / DQN training = "
          f"{env_rate / rates['DQN'][0]:.1f}x, / PPO training = {env_rate / rates['PPO'][0]:.1f}x; batched env / DQN "
          f"training = {batched_rate / rates['DQN'][0]:.0f}x, / PPO training = {batched_rate / rates['PPO'][0]:.0f}x; "
          f"PPO / DQN training speed = {rates['PPO'][0] / rates['DQN'][0]:.2f}x")


if __name__ == "__main__":
    main()
