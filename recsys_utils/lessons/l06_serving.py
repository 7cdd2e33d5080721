"""The steps of lesson 06 that are more than one call: preparing artefacts, running the
closed loop for several service configurations ("arms"), and plotting the rounds."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..service import ServiceSettings, create_app
from ..service.learning import LearnerConfig
from ..service.running import serve_in_thread
from .l06_simulated_users import ClosedLoop, LoopResult

logger = logging.getLogger(__name__)


def prepare_course_artifacts(data, splits, explainer: str = "auto", seed: int = 42, budget: str = "full"):
    """The lessons' artefacts for the service, building what is missing so the lesson runs alone:
    the movie index (lesson 02's ``ensure_movie_index``) and the candidate generator (lesson 03's
    ``ensure_candidate_generator``, cached). Without a trained RL policy the service serves the
    generator's order, and says so (``artifacts.policy_problem``)."""
    from ..candidates import ensure_candidate_generator
    from ..movie_index import ensure_movie_index
    from ..service.artifacts import load_course_artifacts

    ensure_movie_index(data)
    ensure_candidate_generator(data, splits, seed=seed, budget=budget)
    return load_course_artifacts(data.name, explainer=explainer, require_policy=False, seed=seed,
                                 generator_budget=budget)


def heldout_quality(base_url: str, generator, splits, users, k: int = 10, n_resamples: int = 2000,
                    seed: int = 42) -> dict:
    """nDCG@k on held-out likes (test ratings >= 4) of ``users``: the service's lists (over HTTP,
    before any feedback) against the generator's own order, paired over users.

    Returns ``served`` and ``generator`` (mean with a bootstrap interval over users) and
    ``difference`` (``evaluation.paired_comparison``: served - generator)."""
    import httpx

    from .. import metrics
    from ..constants import ITEM_COL, LIKE_THRESHOLD, RATING_COL, USER_COL
    from ..evaluation import bootstrap_mean_ci, paired_comparison

    test = splits.test_ratings
    liked = test[test[RATING_COL] >= LIKE_THRESHOLD]
    users = sorted({int(u) for u in users} & set(liked[USER_COL].astype(int)))
    if not users:
        raise ValueError("none of these users has a held-out like; give test users of the splits")
    columns = generator.movie_ids
    relevant = np.zeros((len(users), columns.size), dtype=bool)
    for i, (_, group) in enumerate(liked[liked[USER_COL].isin(users)].groupby(USER_COL)):
        relevant[i, np.searchsorted(columns, group[ITEM_COL].to_numpy(np.int64))] = True
    served = np.zeros((len(users), k), dtype=np.int64)
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for i, user in enumerate(users):
            reply = http.post("/recommend", json={"user_id": user, "k": k, "explain": False})
            reply.raise_for_status()
            served[i] = np.searchsorted(columns, [m["movie_id"] for m in reply.json()["items"]])
    own = np.stack([np.searchsorted(columns, c.movie_ids[:k]) for c in generator.for_users(users, k)])
    ndcg_served, ndcg_own = metrics.ndcg_at_k(served, relevant, k), metrics.ndcg_at_k(own, relevant, k)

    def mean_ci(values):
        mean, low, high = bootstrap_mean_ci(values, n_resamples=n_resamples, seed=seed)
        return {"mean": float(mean), "ci_low": float(low), "ci_high": float(high)}

    return {"k": k, "n_users": len(users), "served": mean_ci(ndcg_served), "generator": mean_ci(ndcg_own),
            "difference": {key: float(v) for key, v in
                           paired_comparison(ndcg_served, ndcg_own, n_resamples=n_resamples, seed=seed).items()},
            "identical_lists": int((served == own).all(axis=1).sum())}


def quality_sentence(quality: dict) -> str:
    """The held-out comparison in words, decided by the interval."""
    d, k = quality["difference"], quality["k"]
    low, high = d["ci_low"], d["ci_high"]
    if low > 0:
        verdict = "better than"
    elif high < 0:
        verdict = "worse than"
    else:
        verdict = "not significantly different from"
    served, own = quality["served"]["mean"], quality["generator"]["mean"]
    return (f"On held-out likes of {quality['n_users']} test users, the served lists (nDCG@{k} {served:.4f}) are "
            f"{verdict} the candidate generator's own order ({own:.4f}): {d['mean_diff']:+.4f} "
            f"(95% CI {low:+.4f} to {high:+.4f}); {quality['identical_lists']} of {quality['n_users']} lists identical.")


def simulated_population(data, splits, n_users: int, seed: int = 42, rank: int = 16):
    """``n_users`` test users (never used to train the policy) and the simulator's ground truth
    (``rl.ground_truth``, fitted on all ratings, as lesson 04 does)."""
    from ..rl.ground_truth import fit_rating_model

    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(splits.test_users, size=min(n_users, len(splits.test_users)), replace=False))
    return users, fit_rating_model(data.ratings, rank=rank, seed=seed)


def cold_start_profiles(data, users, seed: int = 42, liked_threshold: float = 4.0) -> dict[int, list[int]]:
    """1-3 movies each user rated ``liked_threshold`` or more (drawn per user): what a new
    visitor might type in. Users without such a rating get their best-rated movie."""
    from ..constants import ITEM_COL, RATING_COL, USER_COL

    profiles = {}
    ratings = data.ratings[data.ratings[USER_COL].isin(users)]
    for user, group in ratings.groupby(USER_COL):
        rng = np.random.default_rng([seed, int(user)])
        liked = group.loc[group[RATING_COL] >= liked_threshold, ITEM_COL].to_numpy()
        if len(liked) == 0:
            liked = group.sort_values(RATING_COL, ascending=False)[ITEM_COL].to_numpy()[:1]
        size = int(rng.integers(1, 4))
        profiles[int(user)] = sorted(int(m) for m in rng.choice(liked, size=min(size, len(liked)), replace=False))
    return profiles


COLD_START_ARMS = {
    # The visitor's profile moves with every click, watch and like (the online update).
    "online updates": dict(enabled=False, update_embeddings=True),
    # The same service with the profile frozen at the liked titles.
    "frozen": dict(enabled=False, update_embeddings=False),
}

ARMS = {
    # Everything on: embeddings move at once, the head is fine-tuned in the background.
    "learning": dict(enabled=True, update_embeddings=True),
    # Immediate embedding updates only; the policy stays as deployed.
    "embeddings only": dict(enabled=False, update_embeddings=True),
    # The frozen service: feedback is logged (and watched movies are not shown again) but
    # neither the user embeddings nor the policy change.
    "frozen": dict(enabled=False, update_embeddings=False),
}


@dataclass
class ArmRun:
    name: str
    result: LoopResult
    fine_tunes: list[dict]
    health: dict


def run_arms(artifacts, users, rating_model, rounds: int, slate: int, fine_tune_every: int, work_dir: Path,
             seed: int = 42, arms: dict | None = None, profiles: dict[int, list[int]] | None = None) -> dict[str, ArmRun]:
    """One fresh service per arm (own feedback log, same artefacts), the same simulated users."""
    import httpx

    runs = {}
    work_dir = Path(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    for name, flags in (arms or ARMS).items():
        # The service would wake its learner by itself every `fine_tune_every` events, i.e. in
        # the middle of a round at a moment that depends on thread timing. For a repeatable
        # lesson the loop wakes the same background learner at round ends instead.
        config = LearnerConfig(every_events=10**9, interval_s=3600.0, **flags)
        # No start-up table: it would precompute every known user for each arm, while the loop meets only a
        # few of them; the online path gives the same lists (tests/test_service_api.py checks it).
        settings = ServiceSettings(artifacts=artifacts, feedback_db=work_dir / f"{name.replace(' ', '_')}.sqlite3",
                                   learner=config, seed=seed, precompute_users=0)
        running = serve_in_thread(create_app(settings))
        try:
            loop = ClosedLoop(users, rating_model, artifacts.catalog.genre_names, seed=seed, slate=slate,
                              profiles=profiles)
            learner = running.service.learner

            def between_rounds(_round: int, learner=learner) -> None:
                if learner.events_since_fit >= fine_tune_every:
                    learner.trigger()
                    learner.wait_idle(120)

            result = loop.run(running.base_url, rounds, on_round=between_rounds)
            health = httpx.get(f"{running.base_url}/health").json()
            runs[name] = ArmRun(name, result, list(running.service.learner.history), health)
        finally:
            running.stop()
    return runs


def plot_rounds(runs: dict[str, ArmRun], metric: str = "engagement", ylabel: str = "engagement per user"):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, run in runs.items():
        values = getattr(run.result, metric)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def fine_tune_table(runs: dict[str, ArmRun]):
    import pandas as pd

    rows = [{"arm": name, **{k: record.get(k) for k in ("at_event", "examples", "auc_deployed", "auc_candidate",
                                                         "deployed", "reason")}}
            for name, run in runs.items() for record in run.fine_tunes]
    return pd.DataFrame(rows)


def compare_arms(runs: dict[str, ArmRun], a: str, b: str, first_round: int = 2, n_resamples: int = 2000,
                 seed: int = 42) -> dict[str, float]:
    """Is arm ``a`` more engaging than arm ``b``? Paired over users (both arms served the same
    simulated users with the same random streams), on each user's mean engagement from round
    ``first_round`` on: round 1 is identical by construction, nothing has been learned yet.

    Returns ``recsys_utils.evaluation.paired_comparison``'s fields (mean difference with a
    bootstrap confidence interval over users, sign-flip permutation p-value, wins/losses).
    """
    from ..evaluation import paired_comparison

    def per_user(name: str) -> np.ndarray:
        matrix = np.asarray(runs[name].result.per_user_engagement, dtype=float)  # rounds x users
        if matrix.shape[0] < first_round:
            raise ValueError(f"arm {name!r} ran {matrix.shape[0]} rounds; comparing from round {first_round} needs more")
        return matrix[first_round - 1:].mean(axis=0)

    return paired_comparison(per_user(a), per_user(b), n_resamples=n_resamples, seed=seed)


def comparison_sentence(a: str, b: str, comparison: dict[str, float], n_users: int | None = None) -> str:
    """One plain sentence for the lesson, decided by the confidence interval, not by hope. With
    ``n_users``, an interval that contains 0 also says how wide it is for that many users: too
    few users is a reason to measure again with more, never a lift."""
    low, high, diff = comparison["ci_low"], comparison["ci_high"], comparison["mean_diff"]
    if low > 0:
        verdict = f"{a} gave more engagement than {b}"
    elif high < 0:
        verdict = f"{a} gave less engagement than {b}"
    else:
        verdict = f"{a} and {b} cannot be told apart"
    sentence = (f"{verdict}: {diff:+.3f} engagement per user and round (95% CI {low:+.3f} to {high:+.3f}, "
                f"p = {comparison['p_value']:.3g}, {int(comparison['wins'])} users better, "
                f"{int(comparison['losses'])} worse).")
    if n_users is not None and low <= 0 <= high:
        sentence += (f" With {n_users} users the interval is {high - low:.3f} wide, so this run cannot show an effect "
                     "smaller than that; it claims none.")
    return sentence
