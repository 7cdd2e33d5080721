"""Pick an explainer: OpenAI when a key is in the environment, the offline one otherwise."""

from __future__ import annotations

import os

from .offline import OfflineExplainer
from .openai_explainer import KEY_VARIABLE, OpenAIExplainer

KINDS = ("auto", "offline", "openai")


def make_explainer(kind: str = "auto", seed: int = 42, **kwargs) -> OfflineExplainer | OpenAIExplainer:
    """``kind="auto"`` gives the OpenAI explainer when ``OPENAI_API_KEY`` is set, else offline.

    Extra keyword arguments go to ``OpenAIExplainer`` (model, base_url, timeout_s, max_retries,
    cache, catalog, ...); the offline explainer takes only the seed.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown explainer kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "auto":
        kind = "openai" if os.environ.get(KEY_VARIABLE) else "offline"
    if kind == "offline":
        return OfflineExplainer(seed=seed)
    return OpenAIExplainer(seed=seed, fallback=OfflineExplainer(seed=seed), **kwargs)
