"""Pick an explainer: OpenAI-compatible when a key (or the local endpoint) is configured, else offline."""

from __future__ import annotations

import os

from ..llm.local import is_loopback_url
from .offline import OfflineExplainer
from .openai_explainer import KEY_VARIABLE, OpenAIExplainer

KINDS = ("auto", "offline", "openai")


def make_explainer(kind: str = "auto", seed: int = 42, **kwargs) -> OfflineExplainer | OpenAIExplainer:
    """``kind="auto"`` gives the OpenAI explainer when ``OPENAI_API_KEY`` is set or ``OPENAI_BASE_URL``
    is the local endpoint (``recsys_utils.llm.LocalLLM`` running), else the offline one.

    Extra keyword arguments go to ``OpenAIExplainer`` (model, base_url, timeout_s, max_retries,
    cache, catalog, ...); the offline explainer takes only the seed.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown explainer kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "auto":
        local = is_loopback_url(os.environ.get("OPENAI_BASE_URL"))
        kind = "openai" if os.environ.get(KEY_VARIABLE) or local else "offline"
    if kind == "offline":
        return OfflineExplainer(seed=seed)
    return OpenAIExplainer(seed=seed, fallback=OfflineExplainer(seed=seed), **kwargs)
