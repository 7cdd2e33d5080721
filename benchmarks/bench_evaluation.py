"""Time lesson 03's evaluation for all ml-100k users, and the speed-up of batching it.

    .venv/bin/python benchmarks/bench_evaluation.py [--repeats 3]

Prints, for every baseline and retrieval strategy, the seconds to produce top-20 lists for every
evaluated user and to compute every metric at K = 5, 10, 20; then RATIOS measured in the same
run: the batched top-K and metrics against a per-user Python loop doing the same work (the loop
is checked to give identical results). Retrieval strategies need the MiniLM movie index
(built on first use). Numbers depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from recsys_utils import baselines, evaluation, metrics, retrieval
from recsys_utils.candidates import ensure_candidate_generator, ranked_columns
from recsys_utils.constants import EVAL_KS
from recsys_utils.data import load_movielens
from recsys_utils.embeddings import movie_embeddings, user_embeddings
from recsys_utils.movie_index import ensure_movie_index
from recsys_utils.splits import load_splits


def best_of(repeats, function):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def loop_top_k(scores, exclude, k):
    out = np.full((scores.shape[0], k), -1, dtype=np.int64)
    for u in range(scores.shape[0]):  # the per-user loop the batched version replaces
        row = scores[u].astype(np.float64).copy()
        row[exclude[u].indices] = -np.inf
        order = sorted(range(row.size), key=lambda j: (-row[j], j))[:k]
        out[u] = order
    return out


def loop_ndcg(ranked, relevant, k):
    values = []
    for u in range(ranked.shape[0]):
        rel = set(relevant[u].indices.tolist())
        if not rel:
            values.append(np.nan)
            continue
        dcg = sum(1 / np.log2(i + 2) for i, j in enumerate(ranked[u, :k]) if j in rel)
        idcg = sum(1 / np.log2(i + 2) for i in range(min(k, len(rel))))
        values.append(dcg / idcg)
    return np.array(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    data = load_movielens("ml-100k")
    splits = load_splits(data)
    eval_data = evaluation.build_eval_data(splits.train_ratings, splits.test_ratings, data.movies.movie_id)
    rows = eval_data.eval_rows
    k = max(EVAL_KS)
    print(f"{rows.size} users x {eval_data.n_items} movies, K = {EVAL_KS}, best of {args.repeats}")

    models = {
        "random": baselines.RandomRecommender(),
        "most_popular": baselines.MostPopular(),
        "item_knn": baselines.ItemKNN(),
        "ease": baselines.EASE(),
        "als": baselines.ImplicitMF("als", regularization=10.0),
        "bpr": baselines.ImplicitMF("bpr", iterations=50),
    }
    store = ensure_movie_index(data)
    item_vectors = movie_embeddings(data.movies)
    _, profiles = user_embeddings(splits.train_ratings, data.movies, item_vectors)
    gen = ensure_candidate_generator(data, splits, backend="local")

    print(f"\n{'system':14s} {'fit (s)':>8s} {'rank (s)':>9s} {'metrics (s)':>12s}")
    total = 0.0
    ranked = {}
    for name, model in models.items():
        fit_s, _ = best_of(args.repeats, lambda m=model: m.fit(eval_data.train))
        rank_s, ranked[name] = best_of(
            args.repeats, lambda m=model: evaluation.rank_with_model(m, eval_data, rows, k)
        )
        eval_s, _ = best_of(
            args.repeats,
            lambda r=ranked[name]: evaluation.evaluate_ranked(r, eval_data, rows, EVAL_KS, item_vectors),
        )
        total += fit_s + rank_s + eval_s
        print(f"{name:14s} {fit_s:8.3f} {rank_s:9.3f} {eval_s:12.3f}")
    strategies = {
        "profile": lambda: retrieval.profile_query(store, profiles, eval_data, rows, k),
        "rrf": lambda: retrieval.per_movie_rrf(store, item_vectors, eval_data, rows, k),
        "generator": lambda: ranked_columns(gen.for_users(eval_data.user_ids[rows], k), eval_data.item_ids, k),
    }
    for name, run in strategies.items():
        rank_s, ranked[name] = best_of(args.repeats, run)
        eval_s, _ = best_of(
            args.repeats,
            lambda r=ranked[name]: evaluation.evaluate_ranked(r, eval_data, rows, EVAL_KS, item_vectors),
        )
        total += rank_s + eval_s
        print(f"{name:14s} {'-':>8s} {rank_s:9.3f} {eval_s:12.3f}")
    print(
        f"{'total':14s} {total:8.2f} s for {len(ranked)} systems (the 'titles' strategy adds one MiniLM encode per user)"
    )

    scores = models["ease"].score(rows)
    exclude = eval_data.train[rows]
    batched_s, batched = best_of(args.repeats, lambda: evaluation.top_k_from_scores(scores, exclude, k))
    loop_s, looped = best_of(1, lambda: loop_top_k(scores, exclude, k))
    assert np.array_equal(batched, looped), "batched and looped top-K disagree"
    relevant = eval_data.relevant[rows]
    m_batched_s, m_batched = best_of(args.repeats, lambda: metrics.ndcg_at_k(batched, relevant, 10))
    m_loop_s, m_loop = best_of(args.repeats, lambda: loop_ndcg(batched, relevant, 10))
    np.testing.assert_allclose(m_batched, m_loop, equal_nan=True)
    print("\nratios (same run, same inputs, identical results):")
    print(f"  top-{k} selection: per-user loop / batched argpartition = {loop_s / batched_s:8.1f}x")
    print(f"  nDCG@10:          per-user loop / batched arrays      = {m_loop_s / m_batched_s:8.1f}x")


if __name__ == "__main__":
    main()
