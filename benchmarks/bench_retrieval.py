"""Issue 11's target figures for the candidate generator, on lesson 03's protocol.

    .venv/bin/python benchmarks/bench_retrieval.py [--dataset ml-latest-small --source PATH] [--pool-size 40]

Prints, with paired bootstrap intervals over users: the generator's pool recall at the RL pool
size and at 100 against the best CF model's full-catalogue ranking (target >= 0.95 of it), its
nDCG@10 minus the best CF's (target: not significantly below), the cold-start ratio to
most-popular for 3-5 liked titles (target >= 1.5; the same for one liked title is printed beside
it), and text-only retrieval against most-popular (target >= 0, with more long tail). The CF baselines are tuned on validation data carved out of
training, as in lesson 03; the best is the one with the highest test nDCG@10.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from recsys_utils import baselines, evaluation, metrics
from recsys_utils.candidates import ensure_candidate_generator
from recsys_utils.candidates.evaluate import cold_start_profiles, most_popular_for_profiles, ranked_columns
from recsys_utils.candidates.targets import generator_targets, paired_ratio
from recsys_utils.data import load_movielens
from recsys_utils.data.examples import inception_example
from recsys_utils.splits import load_splits

GRIDS = {
    "ease": {f"l2={v}": (lambda v=v: baselines.EASE(l2=v, max_items=4000)) for v in (200.0, 500.0, 1000.0)},
    "als": {f"factors={f}, reg={r}": (lambda f=f, r=r: baselines.ImplicitMF("als", factors=f, regularization=r))
            for f in (64, 128) for r in (1.0, 10.0)},
    "item_knn": {f"neighbours={n}": (lambda n=n: baselines.ItemKNN(n_neighbours=n)) for n in (50, 200)},
}


def best_cf(splits, data, eval_data, rows):
    """Each family tuned on validation; the best family by test nDCG@10 (the lesson's choice)."""
    results = {}
    for family, grid in GRIDS.items():
        choice, _ = evaluation.select_on_validation(splits.train_ratings, grid, data.movies.movie_id)
        model = grid[choice]().fit(eval_data.train)
        ranked = evaluation.rank_with_model(model, eval_data, rows, k=100)
        ndcg = evaluation.evaluate_ranked(ranked[:, :10], eval_data, rows, ks=(10,))["ndcg@10"].mean()
        results[family] = (float(ndcg), choice, ranked)
    name = max(results, key=lambda n: results[n][0])
    return name, results


def single_title(gen, eval_data, train_ratings, rows, n_resamples, seed) -> dict:
    """The cold-start protocol with a profile of one title (each user's favourite): the design's
    "loved Inception" case over all users. Reported beside the 3-5-title target, not a target."""
    users = eval_data.user_ids[rows]
    profiles = cold_start_profiles(train_ratings, users, sizes=(1,), seed=seed)
    keep = np.isin(users, np.fromiter(profiles, dtype=np.int64))
    liked = [profiles[int(u)] for u in users[keep]]
    ranked = ranked_columns([gen.for_profile(films, k=10) for films in liked], eval_data.item_ids, 10)
    counts = np.asarray((eval_data.train != 0).sum(axis=0)).ravel()
    popular = most_popular_for_profiles(counts, eval_data.item_ids, liked, 10)
    relevant = eval_data.relevant[rows[keep]]
    return paired_ratio(metrics.ndcg_at_k(ranked, relevant, 10), metrics.ndcg_at_k(popular, relevant, 10),
                        n_resamples, seed)


def design_examples(gen, data) -> dict:
    """The design's two examples where the catalogue holds Inception and Interstellar."""
    pair = inception_example(data)
    if pair is None:
        return {"lines": [f"{data.name} lacks Inception or Interstellar: design examples skipped"]}
    inception, interstellar = pair
    loved = gen.for_profile(liked_movie_ids=[inception.movie_id], k=50)
    ids = loved.movie_ids.tolist()
    rank = ids.index(interstellar.movie_id) + 1 if interstellar.movie_id in ids else None
    wish = "a sci-fi thriller like Inception"
    answer = gen.for_profile(wish=wish, k=10)
    genres = data.movies.set_index("movie_id").genres
    share = float(sum("Sci-Fi" in genres.loc[m] for m in answer.movie_ids) / max(len(answer), 1))
    return {"interstellar_rank_for_inception_fan": rank, "wish": wish, "wish_sci_fi_share": share,
            "lines": [f"loved Inception: Interstellar at rank {rank} (target top 10: "
                      f"{'met' if rank is not None and rank <= 10 else 'MISSED'})",
                      f"{wish!r}: {share:.0%} of the top 10 tagged Sci-Fi (target: sci-fi films: "
                      f"{'met' if share == 1.0 else 'MISSED'})"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--source", default=None, help="folder holding the dataset's files (ml-latest-small)")
    parser.add_argument("--pool-size", type=int, default=40, help="the RL lesson's candidate pool size")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--budget", default="full", choices=("full", "smoke"))
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.source:
        os.environ["RECSYS_MOVIELENS_SOURCE"] = args.source

    start = time.perf_counter()
    data = load_movielens(args.dataset)
    splits = load_splits(data, seed=args.seed)
    eval_data = evaluation.build_eval_data(splits.train_ratings, splits.test_ratings, data.movies.movie_id)
    rows = eval_data.eval_rows
    gen = ensure_candidate_generator(data, splits, seed=args.seed, backend="local", budget=args.budget)
    gen_seconds = time.perf_counter() - start
    name, cf = best_cf(splits, data, eval_data, rows)
    popular = evaluation.rank_with_model(baselines.MostPopular().fit(eval_data.train), eval_data, rows, k=10)
    figures = generator_targets(gen, eval_data, splits.train_ratings, cf[name][2], popular, args.pool_size, rows,
                                n_resamples=args.resamples, seed=args.seed)

    print(f"{args.dataset}: {rows.size} evaluated users, {eval_data.n_items} movies; generator ready in "
          f"{gen_seconds:.1f} s (cache {gen.report['cache']}); ALS {gen.report['als_choice']}, "
          f"text weight {gen.text_weight} (pool text weight {gen.pool_text_weight}), "
          f"cold-start text weight {gen.cold_text_weight}, cold-start popularity prior "
          f"{gen.cold_popularity_weight}, cold-start neighbour share {gen.cold_neighbour_share}, single-title text weight "
          f"{gen.single_text_weight} and neighbour share {gen.single_neighbour_share}, text-only popularity prior "
          f"{gen.text_popularity_weight}")
    print("CF baselines (test nDCG@10): " + ", ".join(f"{n} {v[0]:.4f} ({v[1]})" for n, v in cf.items())
          + f"; best: {name}")
    for p in sorted({args.pool_size, 100}):
        r = figures[f"pool_recall@{p}"]
        print(f"pool recall@{p}: generator {r['mean_a']:.4f} vs {name} {r['mean_b']:.4f}, ratio {r['ratio']:.3f} "
              f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]  target >= 0.95: {'met' if figures['met'][f'pool_recall@{p}'] else 'MISSED'}")
    c = figures["ndcg@10_vs_best_cf"]
    print(f"nDCG@10: generator {c['mean_a']:.4f} vs {name} {c['mean_b']:.4f}, difference {c['mean_diff']:+.4f} "
          f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]  target not significantly below: "
          f"{'met' if figures['met']['ndcg@10_not_below_best_cf'] else 'MISSED'}")
    r = figures["cold_start_ndcg@10_ratio_to_most_popular"]
    print(f"cold start (3-5 liked titles, {figures['cold_start_users']} users): nDCG@10 {r['mean_a']:.4f} vs "
          f"most-popular {r['mean_b']:.4f}, ratio {r['ratio']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]  "
          f"target >= 1.5: {'met' if figures['met']['cold_start_1.5x_most_popular'] else 'MISSED'}")
    r = single_title(gen, eval_data, splits.train_ratings, rows, args.resamples, args.seed)
    figures["single_title_ndcg@10_ratio_to_most_popular"] = r
    print(f"cold start, one liked title ({r['n_users']} users, not a target): nDCG@10 {r['mean_a']:.4f} vs "
          f"most-popular {r['mean_b']:.4f}, ratio {r['ratio']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]")
    t = figures["text_only_ndcg@10_vs_most_popular"]
    tail = figures["long_tail_share@10"]
    print(f"text only: nDCG@10 {t['mean_a']:.4f} vs most-popular {t['mean_b']:.4f}, difference {t['mean_diff']:+.4f} "
          f"[{t['ci_low']:+.4f}, {t['ci_high']:+.4f}]  target >= 0: "
          f"{'met' if figures['met']['text_only_at_least_most_popular'] else 'MISSED'}; long-tail share of the top 10 "
          f"{tail['text_only']:.3f} vs most-popular {tail['most_popular']:.3f}")
    examples = design_examples(gen, data)
    for line in examples.get("lines", []):
        print(line)
    figures["design_examples"] = {k: v for k, v in examples.items() if k != "lines"}
    print(f"total {time.perf_counter() - start:.1f} s")
    if args.json:
        keep = {k: v for k, v in figures.items() if k not in ("ranked", "per_user", "cold_start_per_user")}
        with open(args.json, "w") as handle:
            json.dump({"dataset": args.dataset, "best_cf": name, **keep}, handle, indent=2, default=float)


if __name__ == "__main__":
    main()
