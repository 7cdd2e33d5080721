"""Explainer speed, measured in one run and printed as ratios.

    .venv/bin/python benchmarks/bench_explain.py [--pairs 300]

* offline explanations per second, and the faithfulness check's share of that time;
* the check with and without the title catalogue (titles bucketed by their first two characters);
* the OpenAI explainer against the loopback stand-in (tests/openai_standin.py): a fresh call
  through the real client versus an answer from the disk cache. Loopback latency is far below a
  real provider's, so the real cache speed-up is larger than the one printed here;
* with ``--llm``: the local SmolLM2 model, loaded from the GGUF (de-quantising) versus from the
  safetensors cache, and its generation speed on ``--llm-pairs`` grounded prompts
  (``max_tokens`` as in lesson 05).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--llm", action="store_true", help="also time the local SmolLM2 model")
    parser.add_argument("--llm-pairs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    from recsys_utils.data import load_movielens
    from recsys_utils.enrich import enriched_movies
    from recsys_utils.explain import (
        OfflineExplainer,
        TitleCatalog,
        check_faithfulness,
        facts_from_data,
        make_explainer,
    )
    from recsys_utils.explain.llm_cache import LLMCache

    data = load_movielens()
    movies, _ = enriched_movies(data)
    rng = random.Random(args.seed)
    users, movie_ids = data.ratings["user_id"].unique().tolist(), movies["movie_id"].tolist()
    pairs = [
        facts_from_data(data, rng.choice(users), rng.choice(movie_ids), movies=movies)
        for _ in range(args.pairs)
    ]
    offline = OfflineExplainer(seed=args.seed)
    texts = [offline.compose(u, m) for u, m in pairs]
    catalog = TitleCatalog(movies["title"])

    explain_s = timed(lambda p: offline.explain(*p), pairs)
    compose_s = timed(lambda p: offline.compose(*p), pairs)
    check_s = timed(lambda i: check_faithfulness(texts[i], *pairs[i]), range(len(pairs)))
    check_catalog_s = timed(lambda i: check_faithfulness(texts[i], *pairs[i], catalog), range(len(pairs)))
    print(f"pairs: {len(pairs)}")
    print(f"offline explain (compose + check): {len(pairs) / explain_s:,.0f} explanations/s")
    print(f"check share of offline explain time: {(explain_s - compose_s) / explain_s:.2f}")
    print(f"check with catalogue / without: {check_catalog_s / check_s:.2f}x time")

    sys.path.insert(0, str(ROOT / "tests"))
    from openai_standin import OpenAIStandIn

    key = "sk-bench-not-a-real-key"
    n = min(len(pairs), 60)
    with OpenAIStandIn(api_key=key) as server, tempfile.TemporaryDirectory() as cache_dir:
        os.environ.update(OPENAI_API_KEY=key, OPENAI_BASE_URL=server.base_url, OPENAI_MODEL="bench")
        llm = make_explainer("openai", seed=args.seed, cache=LLMCache(Path(cache_dir)), max_retries=0)
        fresh_s = timed(lambda p: llm.explain(*p), pairs[:n])
        cached_s = timed(lambda p: llm.explain(*p), pairs[:n])
    print(
        f"openai explainer via loopback stand-in, fresh call / cached answer: {fresh_s / cached_s:.1f}x time"
    )
    print(
        f"openai explainer via loopback stand-in (fresh) / offline: {(fresh_s / n) / (explain_s / len(pairs)):.1f}x time"
    )

    if args.llm:
        bench_local_model(pairs[: args.llm_pairs], args.max_tokens)


def bench_local_model(pairs, max_tokens: int) -> None:
    from recsys_utils.explain import build_messages
    from recsys_utils.llm.model import load_local_model

    start = time.perf_counter()
    fresh = load_local_model(use_cache=True)  # de-quantises (and writes the cache) only when it is missing
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    gguf = load_local_model(use_cache=False)
    gguf_s = time.perf_counter() - start
    start = time.perf_counter()
    cached = load_local_model(use_cache=True)
    cached_s = time.perf_counter() - start
    print(f"local model load: GGUF (de-quantise) {gguf_s:.1f} s, safetensors cache {cached_s:.1f} s "
          f"({gguf_s / cached_s:.0f}x faster from the cache); first load this run: {first_s:.1f} s ({fresh.source})")
    del gguf, fresh
    tokens = prompt_tokens = 0
    start = time.perf_counter()
    for user, movie in pairs:
        completion = cached.complete(build_messages(user, movie), max_tokens=max_tokens)
        tokens += completion.completion_tokens
        prompt_tokens += completion.prompt_tokens
    seconds = time.perf_counter() - start
    print(f"local model generation: {len(pairs)} grounded prompts ({prompt_tokens / len(pairs):.0f} prompt tokens each), "
          f"{tokens} tokens in {seconds:.1f} s = {tokens / seconds:.1f} tokens/s (prompt reading included), "
          f"{seconds / len(pairs):.1f} s per explanation")


if __name__ == "__main__":
    main()
