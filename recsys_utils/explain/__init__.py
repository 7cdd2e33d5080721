"""Explanations of recommendations, grounded in retrieved facts (lesson 05).

* ``facts``: ``MovieFacts`` / ``UserContext`` and ``facts_from_data`` (the retrieval step);
* ``prompt``: the delimited, injection-safe chat prompt;
* ``offline``: template explanations, no network, deterministic under a seed;
* ``openai_explainer``: chat completions with timeouts, retries, a disk cache and a fallback;
* ``faithfulness``: every title, genre, year and number stated must be among the facts;
* ``explanation``: the ``Explanation`` record and per-explainer summary figures.
"""

from .explanation import Explanation, TokenUsage, summarize
from .factory import make_explainer
from .facts import LikedMovie, MovieFacts, UserContext, context_for_profile, facts_from_data
from .faithfulness import FaithfulnessResult, TitleCatalog, Violation, check_faithfulness
from .offline import OfflineExplainer
from .openai_explainer import DEFAULT_MODEL, MissingAPIKey, OpenAIExplainer
from .prompt import SYSTEM_PROMPT, build_messages

__all__ = [
    "DEFAULT_MODEL",
    "Explanation",
    "FaithfulnessResult",
    "LikedMovie",
    "MissingAPIKey",
    "MovieFacts",
    "OfflineExplainer",
    "OpenAIExplainer",
    "SYSTEM_PROMPT",
    "TitleCatalog",
    "TokenUsage",
    "UserContext",
    "Violation",
    "build_messages",
    "check_faithfulness",
    "context_for_profile",
    "facts_from_data",
    "make_explainer",
    "summarize",
]
