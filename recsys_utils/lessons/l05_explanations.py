"""Lesson 05's own pieces: which picks to explain, starting the local model, intervals and printing.

Library code lives in ``recsys_utils.explain`` (facts, prompt, explainers, the check) and
``recsys_utils.llm`` (the local model and its endpoint); this module only arranges them for
the lesson.
"""

from __future__ import annotations

import textwrap
import time

import numpy as np
import pandas as pd

from ..constants import ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL
from ..explain import Explanation, MovieFacts, UserContext, context_for_profile, facts_from_data
from ..explain.facts import LIKE_THRESHOLD

WIDTH = 100


# --- what is explained ---------------------------------------------------------------------


def lesson_users(train: pd.DataFrame, n: int, seed: int, min_ratings: int = 20) -> list[int]:
    """``n`` users with at least ``min_ratings`` training ratings, drawn reproducibly."""
    active = train.groupby(USER_COL).size()
    eligible = active[active >= min_ratings].index.to_numpy()
    if len(eligible) == 0:
        raise ValueError(f"no user has {min_ratings} training ratings; lower min_ratings")
    rng = np.random.default_rng(seed)
    return sorted(int(u) for u in rng.choice(eligible, size=min(n, len(eligible)), replace=False))


def candidate_pools(data, splits, users: list[int], k: int, seed: int,
                    budget: str = "full") -> tuple[dict[int, list[int]], str]:
    """Each user's candidates from the course's candidate generator (lesson 03), best first."""
    from ..candidates import ensure_candidate_generator

    generator = ensure_candidate_generator(data, splits, seed=seed, budget=budget)
    pools = {u: [int(i) for i in c.movie_ids] for u, c in zip(users, generator.for_users(users, k), strict=True)}
    return pools, "the course's candidate generator (lesson 03: collaborative and text retrieval, fused)"


def rerank_with_policy(pools: dict[int, list[int]], train: pd.DataFrame) -> tuple[dict[int, list[int]], str]:
    """Re-rank each pool with lesson 04's saved policy when there is one that knows these movies."""
    from .. import rl

    try:
        policy = rl.load_policy()
    except FileNotFoundError:
        return pools, "not re-ranked: no saved RL policy yet (lesson 04, 04_rl_dqn_vs_ppo, saves one)"
    known = set(int(i) for i in policy.catalog.movie_ids)
    if not all(set(p) <= known for p in pools.values()):
        return pools, ("not re-ranked: the saved policy was trained on another catalogue (run lesson 04 on this "
                       "dataset)")
    ranked = {}
    for user_id, pool in pools.items():
        history = train[train[USER_COL] == user_id].sort_values(TIMESTAMP_COL)
        seen = history[history[ITEM_COL].isin(known)]
        if seen.empty or not pool:  # nothing for the policy to read: keep the generator's order
            ranked[user_id] = pool
            continue
        state = policy.state_for(seen[ITEM_COL].astype(int).tolist(), seen[RATING_COL].astype(float).tolist())
        ranked[user_id] = rl.rank_candidates(policy, state, pool)
    verdict = "beats" if policy.info["beats_greedy"] else "does not beat"
    return ranked, (f"re-ranked by lesson 04's {policy.algorithm} policy (which {verdict} the greedy baseline "
                    "on lesson 04's simulated users)")


def inception_case(data, train: pd.DataFrame, movies: pd.DataFrame, top_n: int = 5):
    """The design's example where the catalogue has it: an Inception fan, recommended Interstellar.

    A real user who rated Inception highly and has not rated Interstellar in training when
    there is one; otherwise a cold-start profile that liked Inception. ``None`` when the
    catalogue lacks either film (ml-100k ends in 1998).
    """
    from ..data.examples import inception_example

    pair = inception_example(data)
    if pair is None:
        return None
    inception, interstellar = pair
    fans = train[(train[ITEM_COL] == inception.movie_id) & (train[RATING_COL] >= LIKE_THRESHOLD + 0.5)][USER_COL]
    seen = set(train.loc[train[ITEM_COL] == interstellar.movie_id, USER_COL])
    fans = sorted(int(u) for u in fans if u not in seen)
    if fans:
        user, movie = facts_from_data(data, fans[0], interstellar.movie_id, ratings=train, top_n=top_n, movies=movies)
        return user, movie, f"user {fans[0]}, who rated {inception.title} {_stars(train, fans[0], inception.movie_id)}"
    _, liked = facts_from_data(data, int(train[USER_COL].iloc[0]), inception.movie_id, ratings=train, movies=movies)
    _, movie = facts_from_data(data, int(train[USER_COL].iloc[0]), interstellar.movie_id, ratings=train, movies=movies)
    return context_for_profile([liked], movie), movie, f"a new visitor who said they liked {inception.title}"


def _stars(train: pd.DataFrame, user_id: int, movie_id: int) -> str:
    value = train[(train[USER_COL] == user_id) & (train[ITEM_COL] == movie_id)][RATING_COL].iloc[0]
    return f"{float(value):g} out of 5"


# --- the local model -----------------------------------------------------------------------


def launch_local_model(enabled: bool = True):
    """``(launched LocalLLM or None, sentence or None)``: start the server process without waiting,
    so its start-up (imports, weights: one core for several seconds) overlaps the lesson's own work;
    ``local_model_ready`` waits for it."""
    import os

    from ..llm import LocalLLM

    if not enabled:
        return None, "The local model is switched off (LOCAL_LLM = False): only the offline explainer runs."
    if os.environ.get("OPENAI_API_KEY"):
        return None, "OPENAI_API_KEY is set: the explainer uses that provider, and the local model is not started."
    import atexit

    server = LocalLLM().launch()
    atexit.register(server.stop)  # a kernel that stops before the lesson's last cell leaves no server behind
    return server, None


def local_model_ready(launched):
    """``(running LocalLLM or None, sentence)`` once the launched server answers; the lesson says
    why when the model cannot load."""
    from ..llm import ModelUnavailable

    server, note = launched
    if server is None:
        return None, note
    try:
        server.wait()
    except ModelUnavailable as error:
        return None, f"The local model cannot load, so this lesson goes on with the offline explainer only.\n{error}"
    info = server.info
    how = "from its de-quantised cache" if info.get("source") == "cache" else "from the GGUF (de-quantising)"
    return server, (f"Local model {info['model']} is serving on 127.0.0.1 (loopback only): up {server.start_seconds:.1f} s "
                    f"after its launch, of which {info['load_seconds']:.1f} s loading {how}.")


def start_local_model(enabled: bool = True):
    """``launch_local_model`` then ``local_model_ready``: start the model and wait for it."""
    return local_model_ready(launch_local_model(enabled))


# --- figures with intervals ----------------------------------------------------------------


def rate_with_ci(successes: int, n: int, confidence: float = 0.95) -> dict:
    """A proportion with its Wilson interval (scipy), which stays inside [0, 1] for small n."""
    from scipy.stats import binomtest

    if n == 0:
        return {"rate": None, "ci": None, "k": 0, "n": 0}
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence, method="wilson")
    return {"rate": successes / n, "ci": [float(ci.low), float(ci.high)], "k": int(successes), "n": int(n)}


def mean_with_ci(values, seed: int, confidence: float = 0.95) -> dict:
    """A mean with a percentile bootstrap interval over the explanations (``evaluation.bootstrap_mean_ci``)."""
    from ..evaluation import bootstrap_mean_ci

    values = np.asarray(list(values), dtype=float)
    if len(values) == 0:
        return {"mean": None, "ci": None, "n": 0}
    if len(values) < 2:
        return {"mean": float(values.mean()), "ci": [float(values.mean())] * 2, "n": len(values)}
    mean, low, high = bootstrap_mean_ci(values, confidence=confidence, n_resamples=2000, seed=seed,
                                        method="percentile")
    return {"mean": mean, "ci": [low, high], "n": len(values)}


def llm_figures(explanations: list[Explanation], seconds: list[float], seed: int) -> dict:
    """Draft faithfulness, fallbacks, latency and tokens of the LLM explanations, each with an interval.

    Latency and speed are measured on the calls that asked the model (``fresh``); an answer read
    from the response cache of an earlier run took no model time, so it would pull the mean
    towards 0. Token counts belong to the answer, so cached answers count there."""
    drafts = [e.draft_faithful for e in explanations if e.draft_faithful is not None]
    asked = [(e, s) for e, s in zip(explanations, seconds, strict=True) if not e.cached]
    answered = [e for e in explanations if e.usage is not None]
    timed = [(e, s) for e, s in asked if e.usage is not None]
    tokens_timed = sum(e.usage.completion_tokens for e, _ in timed)
    seconds_timed = sum(s for _, s in timed)
    return {
        "n": len(explanations),
        "fresh": len(asked),
        "cached": len(explanations) - len(asked),
        "draft_faithful": rate_with_ci(sum(drafts), len(drafts)),
        "fallback": rate_with_ci(sum(e.fallback_used for e in explanations), len(explanations)),
        "latency_s": mean_with_ci([s for _, s in asked], seed),
        "completion_tokens": mean_with_ci([e.usage.completion_tokens for e in answered], seed),
        "prompt_tokens": mean_with_ci([e.usage.prompt_tokens for e in answered], seed),
        "tokens_per_s": tokens_timed / seconds_timed if timed and seconds_timed > 0 else None,
    }


def llm_figure_sentences(figures: dict, generation_limit: int) -> list[str]:
    """What ``llm_figures`` says, as the lesson prints it (latency only for calls that asked the model)."""
    lines = [interval_sentence("Drafts that passed the check", figures["draft_faithful"]),
             interval_sentence("Explanations that fell back to the offline text", figures["fallback"])]
    lat, tok = figures["latency_s"], figures["completion_tokens"]
    if figures["fresh"] == 0:
        lines.append(f"All {figures['n']} answers came from the response cache of an earlier run (same prompt, model "
                     "and settings), so this run timed no model call; empty the LLM cache to ask the model again.")
    else:
        cached = f"; {figures['cached']} more answers came from the response cache" if figures["cached"] else ""
        lines.append(f"Latency per explanation: {lat['mean']:.2f} s (95% interval {lat['ci'][0]:.2f} to "
                     f"{lat['ci'][1]:.2f} s, {lat['n']} calls to the model{cached}).")
    if tok["mean"] is not None:
        lines.append(f"Tokens written: {tok['mean']:.3g} (interval {tok['ci'][0]:.3g} to {tok['ci'][1]:.3g}) of at most "
                     f"{generation_limit}; prompt {figures['prompt_tokens']['mean']:.3g} tokens.")
    else:
        lines.append("No answer came back (every call failed or timed out), so there are no tokens to count.")
    if figures["tokens_per_s"]:
        lines.append(f"Generation speed, prompt reading included: {figures['tokens_per_s']:.3g} tokens/s.")
    return lines


def violation_kinds(explanations: list[Explanation]) -> dict[str, int]:
    """How many rejected drafts stated each kind of unsupported claim (title, year, number...)."""
    counts: dict[str, int] = {}
    for e in explanations:
        for kind in {v.split(" ", 1)[0] for v in e.draft_violations}:
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


KIND_WORDS = {"title": "named a title not in the facts", "genre": "gave the movie a genre it lacks",
              "year": "stated a wrong year", "number": "stated a number not in the facts",
              "injection": "obeyed an instruction inside the facts", "empty": "said nothing"}


def kinds_sentence(kinds: dict[str, int]) -> str:
    """``violation_kinds`` as a sentence ("...: 17 named a title not in the facts; 2 stated a wrong year.")."""
    if not kinds:
        return "No draft was rejected for an unsupported claim."
    parts = [f"{count} {KIND_WORDS.get(kind, kind)}" for kind, count in kinds.items()]
    return "Rejected drafts, by kind of unsupported claim (a draft may have several): " + "; ".join(parts) + "."


def checks_sentence(checks: dict[str, bool]) -> str:
    """A dict of named yes/no checks as one line a reader can scan: "system prompt unchanged: yes; ..."."""
    return "; ".join(f"{name.replace('_', ' ')}: {'yes' if ok else 'NO'}" for name, ok in checks.items()) + "."


def interval_sentence(name: str, figure: dict, percent: bool = True) -> str:
    if figure.get("rate") is None:
        return f"{name}: no drafts to measure."
    lo, hi = figure["ci"]
    fmt = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.3g}")
    return f"{name}: {fmt(figure['rate'])} ({figure['k']} of {figure['n']}; 95% interval {fmt(lo)} to {fmt(hi)})"


# --- printing ------------------------------------------------------------------------------


def wrap(text: str, indent: str = "    ", width: int = WIDTH) -> str:
    """Long text wrapped in full, never cut."""
    return textwrap.fill(text or "(empty)", width=width, initial_indent=indent, subsequent_indent=indent)


def print_wrapped(text: str, width: int = WIDTH) -> None:
    """Print ``text`` line by line, each long line wrapped in full (the compact facts JSON is one line)."""
    for line in text.split("\n"):
        print(textwrap.fill(line, width=width, break_long_words=False, break_on_hyphens=False) if line else "")


def show_pair(heading: str, offline: Explanation, llm: Explanation | None) -> None:
    print(heading)
    print("  offline explainer:")
    print(wrap(offline.text))
    if llm is None:
        return
    if llm.fallback_used:
        print(f"  LLM draft (rejected: {llm.fallback_reason}; the offline text above was served instead):")
        print(wrap(llm.draft or "(no text)"))
        for violation in llm.draft_violations:
            print(wrap(f"- {violation}", indent="      "))
    else:
        print("  LLM (passed the check):")
        print(wrap(llm.text))
    print()


def show_raw_answer(text: str, check) -> None:
    print("Model answer:")
    print(wrap(text))
    verdict = "passes" if check.ok else "fails"
    print(f"The faithfulness check {verdict}" + (":" if check.violations else "."))
    for violation in check.violations:
        print(wrap(f"- {violation}", indent="      "))


class Stopwatch:
    """Seconds spent in the lesson's LLM part, start-up included (the budget is about that)."""

    def __init__(self):
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def budget_sentence(seconds: float, budget_s: float, n: int) -> str:
    if seconds <= budget_s:
        return f"The LLM part took {seconds:.0f} s for {n} explanations, start-up included: within the {budget_s:.0f} s budget."
    return (f"The LLM part took {seconds:.0f} s for {n} explanations, start-up included: {seconds - budget_s:.0f} s over "
            f"the {budget_s:.0f} s budget (a busy machine, or a cold start that de-quantised the GGUF).")


def facts_table(user: UserContext, movie: MovieFacts) -> pd.DataFrame:
    rows = [{"role": "recommended", **movie.to_dict(), "user_rating": None}]
    rows += [{"role": "liked", **liked.facts.to_dict(), "user_rating": liked.rating} for liked in user.liked]
    table = pd.DataFrame(rows).drop(columns=["movie_id"])
    table["genres"] = table["genres"].map(", ".join)
    return table.astype(object).where(table.notna(), "")  # unknown figures show blank, not NaN
