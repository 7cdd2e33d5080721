"""benchmarks/bench_shared_cache.py runs end to end on the synthetic world and prints its three
timings and their ratio; the figures themselves are the benchmark's, not a test's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_shared_cache_benchmark_times_the_second_workers_first_request_three_ways():
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_shared_cache.py", "--synthetic", "--users", "20", "--repeats", "1"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "20 users x 1 repeats; shared cache SQLite feedback.cache.sqlite3" in out, out
    for way in ("second worker, shared cache", "second worker, nothing shared", "same worker"):
        assert re.search(rf"{way}\s+\d+\.\d{{3}} ms per request", out), out
    assert re.search(r"second worker's first request: \d+\.\dx less CPU with the shared cache", out), out
