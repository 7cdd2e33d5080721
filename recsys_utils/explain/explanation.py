"""What every explainer returns, and the figures a lesson reports about a batch of them."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class Explanation:
    """One explanation of one recommendation.

    ``explainer`` names the explainer that was asked ("offline" or "openai"). When the LLM's
    draft failed (timeout, malformed answer, unfaithful text) ``fallback_used`` is True, ``text``
    is the offline explanation, ``fallback_reason`` says why and ``draft`` keeps the rejected
    LLM text (None when there was none) with its ``draft_violations``. ``faithful`` is the
    check's verdict on the final ``text``.
    """

    text: str
    cited_facts: tuple[str, ...]
    explainer: str
    faithful: bool
    fallback_used: bool = False
    latency_s: float = 0.0
    usage: TokenUsage | None = None
    model: str | None = None
    cached: bool = False
    fallback_reason: str | None = None
    draft: str | None = None
    draft_violations: tuple[str, ...] = ()

    @property
    def draft_faithful(self) -> bool | None:
        """Did the LLM's own text pass the check? None when there was no LLM text."""
        if self.explainer == "offline":
            return self.faithful
        if self.fallback_reason == "unfaithful":
            return False
        return None if self.fallback_used else self.faithful

    def to_dict(self) -> dict:
        return asdict(self) | {"cited_facts": list(self.cited_facts), "draft_violations": list(self.draft_violations)}


def summarize(explanations: list[Explanation]) -> dict[str, dict]:
    """Per explainer: faithfulness, length, latency, fallbacks and tokens (JSON-friendly)."""
    by_name: dict[str, list[Explanation]] = {}
    for explanation in explanations:
        by_name.setdefault(explanation.explainer, []).append(explanation)
    summary = {}
    for name, group in by_name.items():
        drafts = [e.draft_faithful for e in group if e.draft_faithful is not None]
        latencies = sorted(e.latency_s for e in group)
        fresh = [e for e in group if e.usage is not None and not e.cached]
        summary[name] = {
            "n": len(group),
            "faithful_rate": sum(e.faithful for e in group) / len(group),
            # For the LLM: how often its own text passed, before any fallback.
            "draft_faithful_rate": (sum(drafts) / len(drafts)) if drafts else None,
            "n_drafts": len(drafts),
            "mean_words": statistics.fmean(len(e.text.split()) for e in group),
            "mean_chars": statistics.fmean(len(e.text) for e in group),
            "latency_mean_s": statistics.fmean(latencies),
            "latency_p50_s": latencies[len(latencies) // 2],
            "latency_max_s": latencies[-1],
            "fallbacks": sum(e.fallback_used for e in group),
            "fallback_reasons": dict(Counter(e.fallback_reason for e in group if e.fallback_reason)),
            "cached": sum(e.cached for e in group),
            "prompt_tokens": sum(e.usage.prompt_tokens for e in fresh),
            "completion_tokens": sum(e.usage.completion_tokens for e in fresh),
        }
    return summary
