"""The OpenAI explainer: a chat-completions call on grounded facts, checked, cached, with a fallback.

Settings come from the environment so a notebook never holds a secret:

* ``OPENAI_API_KEY`` (read by the official client, never stored, printed or cached); required
  unless ``OPENAI_BASE_URL`` is the course's local endpoint on 127.0.0.1 (``recsys_utils.llm``),
  which is then called with a placeholder key;
* ``OPENAI_MODEL`` (default ``gpt-4o-mini``: a current GPT-4-class model that is cheap and fast
  enough for one short paragraph per recommendation);
* ``OPENAI_BASE_URL`` (optional): any OpenAI-compatible server; ``recsys_utils.llm.LocalLLM``
  sets it (and ``OPENAI_MODEL``) to the course's SmolLM2 endpoint while it runs, when no key is set.

It uses the chat-completions endpoint because that is the one OpenAI-compatible servers
implement. Timeouts and retries are the official client's own (exponential backoff with jitter
on timeouts, connection errors, 408/409/429 and 5xx), which is better tested than a loop we
would write. Every answer goes through ``check_faithfulness``; an answer that times out, is
malformed or states a fact that was not given is replaced by the offline explanation and
flagged (``fallback_used``, ``fallback_reason``), so a caller always gets a grounded text.
"""

from __future__ import annotations

import logging
import os
import re
import time

import openai

from ..llm.local import PLACEHOLDER_KEY, is_loopback_url
from .explanation import Explanation, TokenUsage
from .facts import MovieFacts, UserContext
from .faithfulness import TitleCatalog, check_faithfulness
from .llm_cache import LLMCache, cache_key
from .offline import OfflineExplainer
from .prompt import PROMPT_VERSION, build_messages

DEFAULT_MODEL = "gpt-4o-mini"
KEY_VARIABLE = "OPENAI_API_KEY"
log = logging.getLogger(__name__)


class MissingAPIKey(RuntimeError):
    """Raised when the OpenAI explainer is asked for but no key is in the environment."""


class MalformedAnswer(ValueError):
    """The server answered, but not with a chat completion holding text."""


class OpenAIExplainer:
    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 20.0,
        max_retries: int = 2,
        temperature: float = 0.2,
        max_tokens: int = 160,
        seed: int = 42,
        cache: LLMCache | bool = True,
        catalog: TitleCatalog | list[str] | None = None,
        fallback: OfflineExplainer | None = None,
        client: openai.OpenAI | None = None,
    ):
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        # Without a key, only the course's local endpoint (loopback) is talked to, with a
        # placeholder the client insists on; a real key, with its own base URL, always wins.
        local = not os.environ.get(KEY_VARIABLE) and is_loopback_url(self.base_url)
        if client is None and not os.environ.get(KEY_VARIABLE) and not local:
            raise MissingAPIKey(
                f"{KEY_VARIABLE} is not set. Export it in the shell that starts Jupyter, start the local "
                "model (recsys_utils.llm.start_local_llm) or use make_explainer('offline'); keys are read "
                "from the environment only."
            )
        if timeout_s <= 0:
            raise ValueError(f"timeout_s={timeout_s}; give a positive number of seconds")
        self.model = model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.cache = LLMCache() if cache is True else (cache or None)
        self.catalog = catalog if (catalog is None or isinstance(catalog, TitleCatalog)) else TitleCatalog(catalog)
        self.fallback = fallback or OfflineExplainer(seed=seed)
        # The client reads OPENAI_API_KEY itself; this object never holds the key in an attribute
        # of its own, so printing or pickling the explainer's settings cannot reveal it.
        self._client = client or openai.OpenAI(
            base_url=self.base_url, timeout=timeout_s, max_retries=max_retries,
            **({"api_key": PLACEHOLDER_KEY} if local else {}),
        )

    def __repr__(self) -> str:
        return f"OpenAIExplainer(model={self.model!r}, base_url={_safe_url(self.base_url)!r}, timeout_s={self.timeout_s})"

    def describe(self) -> dict:
        """Settings safe to print or record: no key, no credentials in the URL."""
        return {
            "explainer": self.name,
            "model": self.model,
            "base_url": _safe_url(self.base_url) or "OpenAI default",
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "cache": str(self.cache.folder) if self.cache else None,
        }

    def request(self, user: UserContext, movie: MovieFacts) -> dict:
        """Everything that determines the answer; its hash is the cache key."""
        return {
            "model": self.model,
            "messages": build_messages(user, movie),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "prompt_version": PROMPT_VERSION,
        }

    def explain(self, user: UserContext, movie: MovieFacts) -> Explanation:
        start = time.perf_counter()
        request = self.request(user, movie)
        key = cache_key(request)
        entry = self.cache.get(key) if self.cache else None
        cached = entry is not None
        if entry is None:
            try:
                entry = self._ask(request)
            except (openai.OpenAIError, ValueError) as error:
                reason = _reason(error)
                log.warning("OpenAI explainer fell back to offline (%s): %s", reason, _redact(error))
                return self._fall_back(user, movie, start, reason)
            if self.cache:
                self.cache.put(key, entry)
        usage = TokenUsage(**entry["usage"]) if entry.get("usage") else None
        check = check_faithfulness(entry["text"], user, movie, self.catalog)
        if not check.ok:
            return self._fall_back(
                user, movie, start, "unfaithful", draft=entry["text"], violations=check.violations,
                usage=usage, cached=cached,
            )
        return Explanation(
            text=entry["text"],
            cited_facts=check.cited,
            explainer=self.name,
            faithful=True,
            latency_s=time.perf_counter() - start,
            usage=usage,
            model=entry.get("model", self.model),
            cached=cached,
        )

    def _ask(self, request: dict) -> dict:
        response = self._client.chat.completions.create(
            model=request["model"],
            messages=request["messages"],
            temperature=request["temperature"],
            max_tokens=request["max_tokens"],
            seed=request["seed"],
        )
        choices = getattr(response, "choices", None)
        if not choices:
            raise MalformedAnswer("the response has no choices")
        text = getattr(choices[0].message, "content", None)
        if not isinstance(text, str) or not text.strip():
            raise MalformedAnswer("the first choice has no text content")
        usage = getattr(response, "usage", None)
        return {
            "model": getattr(response, "model", None) or request["model"],
            "text": text.strip(),
            "usage": {
                "prompt_tokens": int(usage.prompt_tokens or 0),
                "completion_tokens": int(usage.completion_tokens or 0),
                "total_tokens": int(usage.total_tokens or 0),
            }
            if usage is not None
            else None,
        }

    def _fall_back(self, user, movie, start, reason, draft=None, violations=(), usage=None, cached=False):
        offline = self.fallback.explain(user, movie)
        return Explanation(
            text=offline.text,
            cited_facts=offline.cited_facts,
            explainer=self.name,
            faithful=offline.faithful,
            fallback_used=True,
            latency_s=time.perf_counter() - start,
            usage=usage,
            model=self.model,
            cached=cached,
            fallback_reason=reason,
            draft=draft,
            draft_violations=tuple(str(v) for v in violations),
        )


def _reason(error: Exception) -> str:
    if isinstance(error, openai.APITimeoutError):
        return "timeout"
    if isinstance(error, openai.APIConnectionError):
        return "connection_error"
    if isinstance(error, openai.APIStatusError):
        return f"http_{error.status_code}"
    return "malformed"  # MalformedAnswer, a body that is not JSON, a failed response validation


def _redact(error: Exception) -> str:
    """The error's type and message with the key (and anything key-shaped) removed."""
    message = f"{type(error).__name__}: {error}"
    key = os.environ.get(KEY_VARIABLE)
    if key:
        message = message.replace(key, "[redacted]")
    return re.sub(r"sk-[A-Za-z0-9_-]{8,}", "[redacted]", message)


def _safe_url(url: str | None) -> str | None:
    """Drop ``user:password@`` from a URL before it is shown."""
    return re.sub(r"//[^/@]+@", "//", url) if url else url
