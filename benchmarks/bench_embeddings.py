"""Embedding throughput on this machine, as ratios measured in one run.

    .venv/bin/python benchmarks/bench_embeddings.py [--texts 1682] [--repeats 3]

Three ways to embed the same movie texts (ml-100k's ``text`` column when the data layer can
load it, otherwise generated sentences of the same shape), each timed ``--repeats`` times
(median reported), in alternation so machine noise hits all alike:

- ``plain``: ``SentenceTransformer(...).encode(texts)`` with default settings (batch 32);
- ``cold``: ``Embedder(use_cache=False).encode(texts)`` (batch 64, normalised);
- ``warm``: ``Embedder().encode(texts)`` when every text is already in the disk cache.

    .venv/bin/python benchmarks/bench_embeddings.py --tuning [--dataset ml-latest-small --source PATH]
        [--budget full] [--variants plain,tags,facts,tags+facts]

retrains the taste-tuned projection (``ensure_taste_text(..., force=True)``) for each text variant
and prints pairs and steps trained, seconds, pairs/s, the Spearman of text vs co-rating similarity
(all ratings and held-out only), neighbour genre agreement, and text-only retrieval nDCG@10 beside
most-popular with paired bootstrap intervals over users: the ablation table of issue 11, 1c.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np


def _texts(n: int) -> tuple[list[str], str]:
    try:
        from recsys_utils.data import load_movielens

        texts = load_movielens("ml-100k").movies["text"].tolist()
        source = "ml-100k movie texts"
    except Exception as error:  # no data: sentences of the same length and form
        rng = np.random.default_rng(0)
        words = ["Star", "Night", "Love", "Return", "City", "Dark", "Last", "Summer", "War", "Story"]
        genres = ["Action", "Comedy", "Drama", "Sci-Fi", "Thriller", "Romance"]
        texts = [
            f"Title: {' '.join(rng.choice(words, 2))}. Genres: {', '.join(rng.choice(genres, 2))}. Year: {rng.integers(1930, 1999)}."
            for _ in range(n)
        ]
        source = f"generated sentences (data unavailable: {type(error).__name__})"
    while len(texts) < n:
        texts = texts + texts
    return texts[:n], source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1682)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tuning", action="store_true", help="benchmark the taste-tuning step instead")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--source", default=None, help="folder of the dataset (e.g. ml-latest-small)")
    parser.add_argument("--budget", default="full", choices=["full", "smoke"])
    parser.add_argument("--variants", default="plain")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    if args.tuning:
        tuning(args.dataset, args.source, args.budget, args.variants.split(","), args.resamples)
        return

    from sentence_transformers import SentenceTransformer

    from recsys_utils.embeddings import Embedder

    texts, source = _texts(args.texts)
    cold = Embedder(use_cache=False, show_progress_bar=False)
    plain = SentenceTransformer(str(cold.resolved.path), device="cpu")
    with tempfile.TemporaryDirectory() as cache:
        warm = Embedder(cache_dir=cache, show_progress_bar=False)
        warm.encode(texts)  # fill the cache
        plain.encode(texts[:64])  # warm-up both models
        cold.encode(texts[:64])
        timings: dict[str, list[float]] = {"plain": [], "cold": [], "warm": []}
        runs = {
            "plain": lambda: plain.encode(texts),
            "cold": lambda: cold.encode(texts),
            "warm": lambda: warm.encode(texts),
        }
        for _ in range(args.repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - start)
        assert warm.last_stats["encoded"] == 0
    rate = {name: len(texts) / statistics.median(times) for name, times in timings.items()}
    print(
        f"{len(texts)} texts ({source}), model {cold.model_name} from {cold.source}, median of {args.repeats}"
    )
    print(f"plain SentenceTransformer.encode (defaults): {rate['plain']:9.0f} sentences/s  1.00x")
    print(
        f"Embedder, cache off (batch 64, normalised):  {rate['cold']:9.0f} sentences/s  {rate['cold'] / rate['plain']:.2f}x"
    )
    print(
        f"Embedder, all texts cached:                  {rate['warm']:9.0f} sentences/s  {rate['warm'] / rate['plain']:.0f}x"
    )



def tuning(dataset: str, source: str | None, budget: str, variants: list[str], n_resamples: int) -> None:
    """The taste-tuning step: pairs/s, seconds, and the before/after figures per text variant."""
    import pandas as pd

    from recsys_utils.data import load_movielens
    from recsys_utils.embeddings import Embedder, ensure_taste_text
    from recsys_utils.embeddings.analysis import retrieval_comparison
    from recsys_utils.embeddings.taste import measure
    from recsys_utils.splits import load_splits

    data = load_movielens(dataset, source=source)
    splits = load_splits(data)
    embedder = Embedder(show_progress_bar=False)
    rows, vectors = [], {}
    for variant in variants:
        tuned = ensure_taste_text(data, splits, budget=budget, text=variant, embedder=embedder, force=True)
        base = embedder.encode(tuned.texts)
        before = measure(base, data, splits)
        r = tuned.report
        rows.append({"text": variant, "richer_texts": r["richer"], "pairs": r["pairs"], "steps": r["steps"],
                     "tune_s": r["seconds"], "pairs/s": r["pairs_per_second"],
                     **{f"{k} base": v for k, v in before.items() if k in ("spearman", "spearman_heldout", "ndcg@10")},
                     **{f"{k} tuned": r[f"{k}_after"] for k in ("spearman", "spearman_heldout", "genre_agreement", "ndcg@10")}})
        vectors[f"base {variant}"] = base
        vectors[f"tuned {variant}"] = tuned.movie_vectors
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(f"\n{dataset}, budget {budget!r} (tuning step = pair sampling + training + projection)")
        print(pd.DataFrame(rows).set_index("text").round(4).to_string())
        print("\ntext-only retrieval for every evaluated user (temporal holdout), 95% bootstrap intervals over users")
        print(retrieval_comparison(vectors, data.movies, splits, n_resamples=n_resamples).round(4).to_string())


if __name__ == "__main__":
    main()
