"""Where one online request's CPU goes: the service's pipeline in-process, step by step.

    RECSYS_DATA_DIR=D .venv/bin/python benchmarks/bench_online_path.py [--users 300] [--repeats 5]

``D`` holds a course run (lessons 01-04). The service is built in this process (offline
explainer, fine-tuning off); each of ``--users`` known users likes the first movie recommended to
them (``POST /feedback``), so every request below takes the online path of a user whose feedback
changed them (``for_user_update``, the policy's ``state_for``, its forward pass, explanations).
The candidate table (``service.pool_table``) is off, so each pass computes, as the first request
after an event does.
Then each step is timed on its own over every user, ``--repeats`` passes, in thread CPU time (the
measure the ``Server-Timing`` header uses), after one warm-up pass; the median pass is printed.

``benchmarks/bench_service.py --online`` measures the same path end to end over loopback (its
"first request after a like" header minus this script's pipeline is about the HTTP layer's
share, plus the explanations of movies new to the list); this script says which step to work
on. One run's figures move by about 15% on a shared machine.
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
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch
    from bench_service import like_first_recommendation  # a sibling script: benchmarks/ is on sys.path
    from fastapi.testclient import TestClient

    from recsys_utils.service import ServiceSettings, create_app
    from recsys_utils.service.learning import LearnerConfig

    torch.set_num_threads(1)  # as each serving thread does (service.reranker)
    settings = ServiceSettings.from_env()
    settings.feedback_db = Path(tempfile.mkdtemp()) / "feedback.sqlite3"
    settings.explainer, settings.learner, settings.precompute_users = "offline", LearnerConfig(enabled=False), 0
    settings.table_users = 0  # no candidate table: every pass computes, as a request after new feedback does
    app = create_app(settings)
    with TestClient(app) as client:
        rec = app.state.service.recommender
        users = [int(u) for u in rec.users.user_ids[: args.users]]
        like_first_recommendation(client, users, 10)
        snaps = {u: rec.known_user(u) for u in users}
        contexts = {u: rec.retrieve(snaps[u], None) for u in users}
        policy = getattr(rec.base, "policy", None)
        states = {u: rec.base.state(contexts[u]) for u in users} if policy is not None else {}
        ids = {u: np.asarray(contexts[u].movie_ids, dtype=np.int64)[None] for u in users}
        observations = {u: policy.observations([states[u]], ids[u])[0] for u in users} if policy is not None else {}

        def per_request_ms(step) -> float:
            for user in users:
                step(user)  # warm-up: explanations memoised, caches filled
            passes = []
            for _ in range(args.repeats):
                start = time.thread_time()
                for user in users:
                    step(user)
                passes.append(1000.0 * (time.thread_time() - start) / len(users))
            return float(np.median(passes))  # a pass slowed by other load does not move the median

        rows = [
            ("pipeline (Recommender.recommend)", lambda u: rec.recommend(rec.known_user(u), 10, None, u, True)),
            ("  user state (known_user)", lambda u: rec.known_user(u)),
            ("  candidate generator (for_user_update)", lambda u: rec.search.search(snaps[u]["query"], None,
                                                                                   rec.pool_size)),
            ("  policy scores (state + observations + network)", lambda u: rec.base.score(contexts[u])),
        ]
        if policy is not None:
            rows += [
                ("    policy.state_for", lambda u: rec.base.state(contexts[u])),
                ("    observations", lambda u: policy.observations([states[u]], ids[u])),
                ("    network", lambda u: policy.network_scores(observations[u].reshape(observations[u].shape[1], -1))),
            ]
        rows.append(("  explanations of the top 10 (memoised)",
                     lambda u: [rec.explain(u, snaps[u], int(r)) for r in contexts[u].rows[:10]]))
        figures = {name: per_request_ms(step) for name, step in rows}
        print(f"{len(users)} known users, one like each; thread CPU per request, median of {args.repeats} passes")
        for name, value in figures.items():
            print(f"  {name:<52} {value:6.3f} ms")


if __name__ == "__main__":
    main()
