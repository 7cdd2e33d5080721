"""Lesson 05 end to end: offline (smoke profile), and through the OpenAI stand-in with a key set."""

from __future__ import annotations

import json
import secrets

import pytest
from openai_standin import OpenAIStandIn

from recsys_utils import paths

STEM = "05_gpt_explanations"


@pytest.mark.notebook
def test_smoke_run_explains_with_the_local_model_and_records_a_measured_check(lesson_results):
    recorded = lesson_results(STEM)
    metrics = recorded["metrics"]
    # No key in the test session: the lesson starts the local SmolLM2 endpoint and explains through it.
    assert metrics["llm_explainer"] == "openai", metrics["local_model_note"]
    assert metrics["llm_settings"]["model"] == "SmolLM2-135M-Instruct"
    assert metrics["llm_settings"]["base_url"].startswith("http://127.0.0.1:")
    assert metrics["local_model"]["source"] in ("gguf", "cache")
    offline = metrics["explainers"]["offline"]
    assert offline["n"] == metrics["n_pairs"] >= 4
    assert offline["faithful_rate"] == 1.0 and offline["fallbacks"] == 0
    assert 12 <= offline["mean_words"] <= 90
    llm = metrics["explainers"]["openai"]
    assert llm["n"] == recorded["parameters"]["N_LLM"] == metrics["llm"]["n"]
    assert llm["faithful_rate"] == 1.0  # what is served is always grounded: the draft or the offline text
    for name in ("draft_faithful", "fallback"):
        figure = metrics["llm"][name]
        assert figure["n"] >= 1 and 0 <= figure["ci"][0] <= figure["rate"] <= figure["ci"][1] <= 1
    assert metrics["llm"]["completion_tokens"]["mean"] <= recorded["parameters"]["GENERATION_LIMIT"]
    assert metrics["llm_part_s"] > 0 and set(metrics["by_hand"]) == {"naive prompt", "grounded prompt"}
    check = metrics["check"]
    assert check["false_alarm_rate"] == 0.0
    assert all(0.8 <= rate <= 1.0 for rate in check["detection_rate"].values())
    flagged = metrics["failure_modes_flagged"]
    assert not flagged["faithful"] and not flagged["wish quoted as the user's"]
    assert all(flagged[case] for case in ("invented title", "invented year", "invented rating", "invented genre",
                                          "obeys an injection", "claim copied from the wish"))
    assert not flagged["blind spot: actor"]  # a limit shown on purpose, not hidden
    assert metrics["injection"] == {"system_prompt_unchanged": True, "facts_block_intact": True}
    assert "latency_and_length" in recorded["figures"]
    assert 1 <= len(recorded["headlines"]) <= 3


@pytest.mark.notebook
@pytest.mark.slow
def test_run_through_the_openai_standin_uses_the_llm_caches_it_and_never_leaks_the_key(tmp_path, monkeypatch):
    from recsys_utils.course import run_course
    from recsys_utils.results import load_results

    key = f"sk-lesson05-{secrets.token_hex(16)}"
    model = f"standin-{secrets.token_hex(4)}"  # fresh cache entries on every test run
    reports = tmp_path / "reports"
    # run_course points RECSYS_REPORTS_DIR at `reports`; monkeypatch restores it for later lessons.
    monkeypatch.setenv("RECSYS_REPORTS_DIR", str(reports))
    llm_cache = paths.cache_dir() / "llm"
    with OpenAIStandIn(api_key=key, mode="ungrounded") as server:
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_MODEL", model)
        try:
            run_course(profile="smoke", only=STEM, reports=reports, build_report=False, log=lambda *a, **k: None)
            first = load_results(STEM)["metrics"]
            first_requests = len(server.requests)
            run_course(profile="smoke", only=STEM, reports=reports, build_report=False, log=lambda *a, **k: None)
            second = load_results(STEM)["metrics"]
            ours = [p for p in llm_cache.glob("*.json") if json.loads(p.read_text()).get("model") == model]
            cache_texts = [p.read_text() for p in ours]
        finally:
            for path in llm_cache.glob("*.json"):
                if json.loads(path.read_text()).get("model") == model:
                    path.unlink()

    assert first["llm_explainer"] == "openai" and first["llm_settings"]["model"] == model
    assert first["local_model"] is None  # a key is set: its provider wins, the local model is not started
    llm = first["explainers"]["openai"]
    by_hand = 2  # the lesson's two raw client.chat.completions.create calls, not cached
    # Every explanation not already in the disk cache went to the server; the raw calls always do.
    sent = llm["n"] - llm["cached"]
    assert sent >= 1 and sent + by_hand == first_requests and server.unauthorised == 0
    # "ungrounded": every draft invents a title, year and rating; each is caught and replaced.
    assert llm["fallbacks"] == llm["n"] and llm["fallback_reasons"] == {"unfaithful": llm["n"]}
    assert llm["faithful_rate"] == 1.0 and llm["draft_faithful_rate"] == 0.0
    assert not any(first["by_hand"][name]["ok"] for name in ("naive prompt", "grounded prompt"))
    assert llm["prompt_tokens"] > 0 and llm["completion_tokens"] > 0
    # The second run's explainer was answered from the disk cache: only the raw calls were sent again.
    assert len(server.requests) == first_requests + by_hand
    assert second["explainers"]["openai"]["cached"] == llm["n"] and second["explainers"]["openai"]["prompt_tokens"] == 0
    # ... so it timed no model call, and says so instead of reporting a latency of 0 s.
    assert second["llm"]["fresh"] == 0 and second["llm"]["latency_s"]["mean"] is None
    assert first["llm"]["fresh"] == sent and first["llm"]["latency_s"]["n"] == sent
    assert second["llm"]["completion_tokens"]["mean"] == first["llm"]["completion_tokens"]["mean"]
    assert len(ours) == sent

    written = [p for p in reports.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in written)
    for path in written:
        assert key.encode() not in path.read_bytes(), f"the API key leaked into {path}"
    assert not any(key in text for text in cache_texts)


def test_lesson_figures_carry_intervals_and_count_what_the_check_rejected():
    from recsys_utils.explain import Explanation, TokenUsage
    from recsys_utils.lessons import l05_explanations as l05

    def made(fallback, reason=None, violations=(), tokens=40, cached=False):
        return Explanation("text", (), "openai", True, fallback_used=fallback, usage=TokenUsage(300, tokens, 300 + tokens),
                           fallback_reason=reason, draft="draft" if reason else None, draft_violations=violations,
                           cached=cached)

    batch = [made(False), made(True, "unfaithful", ("title 'The Avengers': x", "year '2018': y")),
             made(True, "unfaithful", ("year '1987': y",)), made(True, "timeout")]
    figures = l05.llm_figures(batch, [2.0, 3.0, 4.0, 5.0], seed=1)
    drafts = figures["draft_faithful"]
    assert (drafts["k"], drafts["n"]) == (1, 3)  # the timeout left no draft to judge
    assert 0 < drafts["ci"][0] < 1 / 3 < drafts["ci"][1] < 1
    assert figures["fallback"]["k"] == 3 and figures["fallback"]["n"] == 4
    assert figures["latency_s"]["mean"] == 3.5 and figures["latency_s"]["ci"][0] < 3.5 < figures["latency_s"]["ci"][1]
    assert figures["tokens_per_s"] == 160 / 14
    assert (figures["fresh"], figures["cached"]) == (4, 0)
    # A re-run answered from the response cache: token counts stay (they belong to the answers),
    # latency and speed are not measured, and the sentences say why rather than "0.00 s".
    again = [made(False, cached=True), made(True, "unfaithful", ("year '1987': y",), cached=True)]
    warm = l05.llm_figures(again, [0.001, 0.002], seed=1)
    assert warm["fresh"] == 0 and warm["latency_s"]["mean"] is None and warm["tokens_per_s"] is None
    assert warm["completion_tokens"]["mean"] == 40
    lines = l05.llm_figure_sentences(warm, 60)
    assert any("All 2 answers came from the response cache" in line for line in lines)
    assert not any("Latency" in line or "timed out" in line for line in lines)
    assert any(line.startswith("Latency per explanation: 3.50 s") for line in l05.llm_figure_sentences(figures, 60))
    assert l05.violation_kinds(batch) == {"year": 2, "title": 1}
    assert l05.kinds_sentence(l05.violation_kinds(batch)).endswith(
        ": 2 stated a wrong year; 1 named a title not in the facts.")
    assert l05.kinds_sentence({}) == "No draft was rejected for an unsupported claim."
    assert l05.checks_sentence({"facts_block_intact": True, "system_prompt_unchanged": False}) == \
        "facts block intact: yes; system prompt unchanged: NO."
    assert l05.rate_with_ci(0, 0)["rate"] is None
    long = " ".join(f"word{i}" for i in range(300))
    assert l05.wrap(long).split() == long.split()  # wrapped in full, never cut


def test_the_lesson_says_why_when_the_model_cannot_load_and_goes_on(monkeypatch, tmp_path):
    from recsys_utils.lessons import l05_explanations as l05

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("RECSYS_OFFLINE_DIR", str(tmp_path / "offline"))
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    server, note = l05.start_local_model(True)
    assert server is None and "cannot load" in note and "offline explainer" in note
    assert "recsys_utils.assets fetch" in note and str(tmp_path) not in note  # what to run; no machine path
    (tmp_path / "data" / "models").mkdir(parents=True)
    (tmp_path / "data" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"not the model")
    server, note = l05.start_local_model(True)
    assert server is None and "sha256" in note
    assert l05.start_local_model(False)[0] is None
