"""Lesson 05 end to end: offline (smoke profile), and through the OpenAI stand-in with a key set."""

from __future__ import annotations

import json
import secrets

import pytest
from openai_standin import OpenAIStandIn

from recsys_utils import paths

STEM = "05_gpt_explanations"


@pytest.mark.notebook
def test_offline_run_records_grounded_explanations_and_a_measured_check(lesson_results):
    recorded = lesson_results(STEM)
    metrics = recorded["metrics"]
    assert metrics["llm_explainer"] == "offline" and set(metrics["explainers"]) == {"offline"}
    offline = metrics["explainers"]["offline"]
    assert offline["n"] == metrics["n_pairs"] >= 4
    assert offline["faithful_rate"] == 1.0 and offline["fallbacks"] == 0
    assert 12 <= offline["mean_words"] <= 90
    assert 0 < offline["latency_mean_s"] < 0.1  # templates, no network
    check = metrics["check"]
    assert check["false_alarm_rate"] == 0.0
    assert all(0.8 <= rate <= 1.0 for rate in check["detection_rate"].values())
    flagged = metrics["failure_modes_flagged"]
    assert not flagged["faithful"]
    assert all(flagged[case] for case in ("invented title", "invented year", "invented rating", "invented genre",
                                          "obeys an injection"))
    assert not flagged["blind spot: actor"]  # a limit shown on purpose, not hidden
    assert metrics["injection"] == {"system_prompt_unchanged": True, "facts_block_intact": True}
    assert "latency_and_length" in recorded["figures"]


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
    with OpenAIStandIn(api_key=key, mode="mixed") as server:
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
    llm = first["explainers"]["openai"]
    assert llm["n"] == first["n_pairs"] == first_requests and server.unauthorised == 0
    # "mixed": every third answer is ungrounded; each is caught and replaced by the offline text.
    assert llm["fallbacks"] >= 1 and llm["fallback_reasons"] == {"unfaithful": llm["fallbacks"]}
    assert llm["faithful_rate"] == 1.0 and 0.3 <= llm["draft_faithful_rate"] < 1.0
    assert llm["prompt_tokens"] > 0 and llm["completion_tokens"] > 0 and llm["cached"] == 0
    # The second run was answered from the disk cache: nothing sent, nothing paid.
    assert len(server.requests) == first_requests
    assert second["explainers"]["openai"]["cached"] == llm["n"] and second["explainers"]["openai"]["prompt_tokens"] == 0
    assert len(ours) == llm["n"]

    written = [p for p in reports.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in written)
    for path in written:
        assert key.encode() not in path.read_bytes(), f"the API key leaked into {path}"
    assert not any(key in text for text in cache_texts)
