"""What the shared cache saves a second worker: its first request for a user another worker served.

    RECSYS_DATA_DIR=D .venv/bin/python benchmarks/bench_shared_cache.py [--users 300] [--repeats 3]
    .venv/bin/python benchmarks/bench_shared_cache.py --synthetic      # no artefacts needed

``D`` holds a course run (lessons 01-04). The service is built in this process (offline explainer,
fine-tuning off). Each of ``--users`` known users likes the last movie recommended to them and is
answered once: that answer is computed (pool and explanations) and written to the shared cache
(``service.shared_cache``), as the first worker does. Then, ``--repeats`` times, three ways of
answering the same users are timed on one thread, interleaved so the machine's drift hits all three:

* **second worker, shared cache**: an empty candidate table and explanation memo (what the other
  worker holds for these users) in front of the shared cache;
* **second worker, nothing shared**: the same, without the shared cache: it computes the pool and
  explains the list again;
* **same worker**: the table and memo the first answers filled.

Printed: the median of the per-user thread CPU (the ``Server-Timing`` header's measure) of each,
and the ratio of the first two, measured in the same run. ``bench_service.py --online`` shows the
same effect end to end (its "candidate table, all workers" line counts the shared answers), but on
2 shared cores its throughput moves by ±20% from run to run, more than this saves there.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", action="store_true", help="serve the synthetic world (no artefacts needed)")
    args = parser.parse_args()

    import torch
    from fastapi.testclient import TestClient

    from recsys_utils.service import ServiceSettings, create_app
    from recsys_utils.service.learning import LearnerConfig
    from recsys_utils.service.pipeline import ExplanationCache
    from recsys_utils.service.pool_table import PoolTable

    torch.set_num_threads(1)  # as each serving thread does (service.reranker)
    settings = ServiceSettings.from_env()
    settings.source = "synthetic" if args.synthetic else settings.source
    settings.feedback_db = Path(tempfile.mkdtemp()) / "feedback.sqlite3"
    settings.explainer, settings.learner, settings.precompute_users = "offline", LearnerConfig(enabled=False), 0
    app = create_app(settings)
    with TestClient(app) as client:
        rec = app.state.service.recommender
        if rec.shared is None:
            raise SystemExit("the shared cache is off (RECSYS_SHARED_CACHE=0, or artefacts without a fingerprint)")
        users = [int(u) for u in rec.users.user_ids[: args.users]]
        for user in users:
            items = client.post("/recommend", json={"user_id": user, "k": 10}).json()["items"]
            client.post("/feedback", json={"user_id": user, "movie_id": items[-1]["movie_id"], "event": "like"})
            client.post("/recommend", json={"user_id": user, "k": 10})  # computed, written to the shared cache
        snapshots = {user: rec.known_user(user) for user in users}
        shared = rec.shared

        def answer_all() -> list[float]:
            out = []
            for user in users:
                start = time.thread_time()
                rec.recommend(snapshots[user], 10, None, user, True)
                out.append(1000.0 * (time.thread_time() - start))
            return out

        def second_worker(with_shared: bool) -> list[float]:
            """Answers from an empty table and memo, as the worker that has not served these users."""
            table, memo = rec.pools, rec.explanations
            rec.shared = shared if with_shared else None
            rec.pools, rec.explanations = PoolTable(table.capacity, rec.shared), ExplanationCache()
            try:
                return answer_all()
            finally:
                rec.pools, rec.explanations, rec.shared = table, memo, shared

        ms = {"second worker, shared cache": [], "second worker, nothing shared": [], "same worker": []}
        for _ in range(args.repeats):
            ms["second worker, shared cache"] += second_worker(with_shared=True)
            ms["second worker, nothing shared"] += second_worker(with_shared=False)
            ms["same worker"] += answer_all()
        source = app.state.service.artifacts.source
    print(f"{source}; {len(users)} users x {args.repeats} repeats; shared cache {shared.description}")
    medians = {name: float(np.median(values)) for name, values in ms.items()}
    for name, median in medians.items():
        print(f"  {name:<31} {median:6.3f} ms per request (thread CPU, median)")
    ratio = medians["second worker, nothing shared"] / medians["second worker, shared cache"]
    print(f"second worker's first request: {ratio:.1f}x less CPU with the shared cache")


if __name__ == "__main__":
    main()
