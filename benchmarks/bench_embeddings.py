"""Embedding throughput on this machine, as ratios measured in one run.

    .venv/bin/python benchmarks/bench_embeddings.py [--texts 1682] [--repeats 3]

Three ways to embed the same movie texts (ml-100k's ``text`` column when the data layer can
load it, otherwise generated sentences of the same shape), each timed ``--repeats`` times
(median reported), in alternation so machine noise hits all alike:

- ``plain``: ``SentenceTransformer(...).encode(texts)`` with default settings (batch 32);
- ``cold``: ``Embedder(use_cache=False).encode(texts)`` (batch 64, normalised);
- ``warm``: ``Embedder().encode(texts)`` when every text is already in the disk cache.
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
