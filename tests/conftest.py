"""Shared fixtures.

The whole test session works in ``build/test-data`` (downloads are cached there across runs,
so a second ``make test`` is faster) and never touches the reader's ``data/`` or ``reports/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "build" / "test-data"

# Whether this session starts with empty caches, as CI's fresh clone always does: the recorded
# smoke run times are cold-cache times, so only a cold session can be compared with them.
CACHES_WERE_COLD = not TEST_DATA.exists()
os.environ["RECSYS_DATA_DIR"] = str(TEST_DATA)
# Tests that need a key set one that points at a loopback stand-in; nothing reaches a real
# service from the test suite, whatever the developer's shell holds.
for _secret in ("PINECONE_API_KEY", "OPENAI_API_KEY"):
    os.environ.pop(_secret, None)
os.environ.setdefault("MPLBACKEND", "Agg")
# The report's website (a Sphinx build, 15-30 s) is built only by the tests that check it
# (tests/test_site.py, the whole-course report test); others get REPORT.md and environment.json.
os.environ.setdefault("RECSYS_REPORT_SITE", "0")


@pytest.fixture(scope="session")
def smoke_reports_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("smoke-reports")


@pytest.fixture(scope="session")
def caches_were_cold() -> bool:
    """True when this session started with an empty build/test-data (a fresh clone, as in CI)."""
    return CACHES_WERE_COLD


@pytest.fixture(scope="session")
def lesson_seconds() -> dict[str, float]:
    """Seconds each lesson took in this session's smoke run (filled by ``lesson_results``).

    Written to ``build/lesson-seconds.json`` at the end of the session, so the times a fresh
    ``make test`` measured can be recorded as the smoke profile's run times:
    ``python -m recsys_utils.lessons.timings --record build/lesson-seconds.json``.
    """
    seconds: dict[str, float] = {}
    yield seconds
    if seconds:
        import json

        (ROOT / "build").mkdir(exist_ok=True)
        (ROOT / "build" / "lesson-seconds.json").write_text(json.dumps(seconds, indent=1, sort_keys=True))


@pytest.fixture(scope="session")
def lesson_results(smoke_reports_dir, lesson_seconds):
    """``lesson_results("03_retrieval_evaluation")`` runs that lesson once (smoke profile)
    and returns the JSON it recorded."""
    import json

    from recsys_utils.course import run_course

    done: dict[str, dict] = {}

    def run(stem: str) -> dict:
        if stem not in done:
            runs = run_course(profile="smoke", only=stem, reports=smoke_reports_dir, build_report=False)
            lesson_seconds.update({r.notebook: r.seconds for r in runs})
            done[stem] = json.loads((smoke_reports_dir / "results" / f"{stem}.json").read_text())
        return done[stem]

    return run


@pytest.fixture(scope="session")
def executed_lesson(lesson_results, smoke_reports_dir):
    """``executed_lesson("02_embeddings_and_upsert")``: the path of that lesson executed by the smoke run."""

    def path(stem: str):
        lesson_results(stem)
        return smoke_reports_dir / "notebooks" / f"{stem}.ipynb"

    return path


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real ``redis-server`` on a free loopback port, persistence off, for the whole session
    (tests keep apart by namespace). Skipped without the binary, except under ``CI=true``."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install -y redis-server; .ci/run does it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: under CI=true the Redis contract tests must run")
        pytest.skip(message)
    from recsys_utils.service.running import free_loopback_port

    port = free_loopback_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(folder), "--enable-debug-command", "local"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"redis-server did not start: {process.stderr.read().decode()[-500:]}")
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
