"""The OpenAI explainer through the real ``openai`` client and a loopback stand-in server."""

from __future__ import annotations

import json
import logging
import secrets

import pytest
from openai_standin import OpenAIStandIn
from test_explain import INJECTION, INTERSTELLAR, USER

from recsys_utils.explain import SYSTEM_PROMPT, MovieFacts, OfflineExplainer, UserContext, make_explainer
from recsys_utils.explain.llm_cache import LLMCache

KEY = f"sk-standin-{secrets.token_hex(12)}"


@pytest.fixture(scope="module")
def server():
    with OpenAIStandIn(api_key=KEY, slow_seconds=3.0) as running:
        yield running


@pytest.fixture
def llm(server, monkeypatch, tmp_path, caplog):
    """An explainer configured the way a reader configures it: from the environment only."""
    server.mode = "grounded"
    server.requests.clear()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_MODEL", "standin-model")
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and httpx's included

    def make(**kwargs):
        kwargs.setdefault("cache", LLMCache(tmp_path / "llm"))
        kwargs.setdefault("max_retries", 0)
        return make_explainer("auto", seed=42, **kwargs)

    yield make
    # Whatever the test did, the key must not have reached a log record.
    assert KEY not in caplog.text


def assert_no_key(*things):
    for thing in things:
        text = thing if isinstance(thing, str) else json.dumps(thing, default=str)
        assert KEY not in text


def test_grounded_answer_is_used_with_its_token_usage_and_then_cached(llm, server, tmp_path):
    explainer = llm()
    first = explainer.explain(USER, INTERSTELLAR)
    assert first.explainer == "openai" and not first.fallback_used and first.faithful
    assert first.text.startswith("Based on your interest in Amelie, we recommend Interstellar (2014).")
    assert first.model == "standin-model" and first.usage.completion_tokens == len(first.text.split())
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert not first.cached and len(server.requests) == 1
    assert server.requests[0]["model"] == "standin-model"  # OPENAI_MODEL honoured

    second = explainer.explain(USER, INTERSTELLAR)
    assert second.cached and second.text == first.text and len(server.requests) == 1  # not paid twice
    files = list((tmp_path / "llm").glob("*.json"))
    assert len(files) == 1
    assert_no_key(files[0].read_text(), first.to_dict(), repr(explainer), explainer.describe())


def test_cache_key_changes_with_the_model(llm, server, tmp_path, monkeypatch):
    llm().explain(USER, INTERSTELLAR)
    monkeypatch.setenv("OPENAI_MODEL", "another-model")
    llm().explain(USER, INTERSTELLAR)
    assert len(server.requests) == 2 and len(list((tmp_path / "llm").glob("*.json"))) == 2


def test_ungrounded_answer_is_replaced_by_the_offline_one_and_flagged(llm, server):
    server.mode = "ungrounded"
    explanation = llm().explain(USER, INTERSTELLAR)
    offline = OfflineExplainer(seed=42).explain(USER, INTERSTELLAR)
    assert explanation.fallback_used and explanation.fallback_reason == "unfaithful"
    assert explanation.text == offline.text and explanation.faithful
    assert "Blade Runner 2049" in explanation.draft
    stated = " ".join(explanation.draft_violations)
    assert "Blade Runner 2049" in stated and "1987" in stated and "9.7" in stated
    assert explanation.usage is not None  # the rejected answer was still paid for
    assert explanation.draft_faithful is False


@pytest.mark.parametrize("mode", ["malformed", "garbage"])
def test_a_malformed_response_falls_back(llm, server, mode):
    server.mode = mode
    explanation = llm().explain(USER, INTERSTELLAR)
    assert explanation.fallback_used and explanation.fallback_reason == "malformed"
    assert explanation.draft is None and explanation.draft_faithful is None and explanation.faithful


def test_a_slow_server_times_out_and_falls_back_quickly(llm, server):
    server.mode = "slow"
    explanation = llm(timeout_s=0.3).explain(USER, INTERSTELLAR)
    assert explanation.fallback_used and explanation.fallback_reason == "timeout"
    assert explanation.latency_s < server.slow_seconds  # gave up, did not wait for the answer
    assert explanation.text == OfflineExplainer(seed=42).compose(USER, INTERSTELLAR)


def test_a_temporary_server_error_is_retried_with_backoff(llm, server):
    server.mode = "flaky"
    server.fail_first = 1
    explanation = llm(max_retries=2).explain(USER, INTERSTELLAR)
    assert not explanation.fallback_used and len(server.requests) == 2


def test_a_rejected_key_falls_back_without_revealing_the_key(llm, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY + "-wrong")
    explanation = llm().explain(USER, INTERSTELLAR)
    assert explanation.fallback_used and explanation.fallback_reason == "http_401"
    assert server.unauthorised >= 1


def test_an_injection_in_a_title_reaches_the_server_as_data_only(llm, server):
    hostile = MovieFacts(3, INJECTION, 2014, ("Sci-Fi", "Drama"))
    llm().explain(UserContext(7, USER.liked, wish=INJECTION), hostile)
    system, user = server.requests[0]["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert INJECTION not in system["content"]
    assert user["content"].count("</facts>") == 1
