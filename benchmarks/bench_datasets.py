"""Each lesson's time on ml-latest-small divided by its time on ml-100k, cold and warm, in one run.

    .venv/bin/python benchmarks/bench_datasets.py [--profile smoke|full] [--only 01,02] [--source PATH]

For each dataset the course runs twice through ``run_course`` in its own fresh data folder:
first cold (nothing cached: data, splits, embeddings, indexes, policies are all built), then
warm (the same folder again, every cache filled). ml-100k comes from the recbole wheel in
``data/offline/``, ml-latest-small from ``--source`` (default ``../shared/datasets/ml-latest-small``
beside the repository). ``RECSYS_OFFLINE=1`` is set: nothing is downloaded.

Absolute seconds depend on the machine and its load; the ratios (same run, same machine) are
what to compare with the issue's targets (each lesson within 2x warm; the full profile on
ml-latest-small within 15 minutes cold on 2 cores). A lesson that fails is named with its cell,
and the lessons after it are not timed on that dataset.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recsys_utils.course import LessonFailed, run_course  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "datasets" / "ml-latest-small"


def time_course(dataset: str, source: Path | None, profile: str, only: str | None, data_dir: Path,
                reports: Path) -> tuple[dict[str, float], str | None]:
    """Seconds per lesson for one pass, and the failure (if a lesson stopped the pass)."""
    times: dict[str, float] = {}

    def log(message, **_):
        print(f"    {message}", flush=True)

    start = time.perf_counter()
    try:
        runs = run_course(profile, only=only, reports=reports, build_report=False, log=log, dataset=dataset,
                          source=source, data_dir=data_dir)
    except LessonFailed as failure:
        return times, str(failure).splitlines()[0]
    finally:
        elapsed = time.perf_counter() - start
    times = {r.notebook: r.seconds for r in runs}
    times["(whole pass)"] = elapsed
    return times, None


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def fmt(seconds: float | None) -> str:
    return f"{seconds:.1f}" if seconds is not None else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("smoke", "full"), default="smoke")
    parser.add_argument("--only", help="comma-separated lessons, e.g. 01,02 (the others are not run)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the ml-latest-small folder or zip")
    args = parser.parse_args(argv)
    if not args.source.exists():
        print(f"ml-latest-small is not at {args.source}; pass --source PATH", file=sys.stderr)
        return 2
    os.environ["RECSYS_OFFLINE"] = "1"
    results: dict[tuple[str, str], dict[str, float]] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as tmp:
        for dataset, source in (("ml-100k", None), ("ml-latest-small", args.source)):
            data_dir = Path(tmp) / dataset / "data"
            for state in ("cold", "warm"):
                print(f"{dataset}, {state} ({args.profile} profile):", flush=True)
                times, failure = time_course(dataset, source, args.profile, args.only, data_dir,
                                             Path(tmp) / dataset / f"reports-{state}")
                results[(dataset, state)] = times
                if failure:
                    failures.append(f"{dataset} ({state}): {failure}")
    lessons = list(dict.fromkeys(k for times in results.values() for k in times if k != "(whole pass)"))
    lessons.append("(whole pass)")
    header = f"{'lesson':34} {'100k cold':>10} {'small cold':>11} {'ratio':>7}   {'100k warm':>10} {'small warm':>11} {'ratio':>7}"
    print(f"\nseconds per lesson, {args.profile} profile (ml-latest-small / ml-100k):")
    print(header)
    print("-" * len(header))
    for lesson in lessons:
        row = [results.get((d, s), {}).get(lesson) for s in ("cold", "warm") for d in ("ml-100k", "ml-latest-small")]
        print(f"{lesson:34} {fmt(row[0]):>10} {fmt(row[1]):>11} {ratio(row[1], row[0]):>7}   "
              f"{fmt(row[2]):>10} {fmt(row[3]):>11} {ratio(row[3], row[2]):>7}")
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
