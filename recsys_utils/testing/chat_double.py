"""A deterministic stand-in for the local chat model, served through the real endpoint.

``recsys_utils.llm.server`` serves either SmolLM2 (``--backend local``, ~20 s to load) or this
double (``--backend double``, instant), so the fast tests exercise the real FastAPI endpoint,
the real ``openai`` client and the explainer end to end, and one slow test uses the real model.

It answers from the ``<facts>`` block of the last user message: a grounded sentence naming the
first liked movie and the recommended one. ``mode="invent"`` adds an invented title, year and
rating (what SmolLM2 really does), for the fallback path.
"""

from __future__ import annotations

import json
import re

from ..llm.model import Completion

FACTS_BLOCK = re.compile(r"<facts>\s*(.*?)\s*</facts>", re.DOTALL)
MODES = ("grounded", "invent")


class ChatDouble:
    model_id = "chat-double"
    load_seconds = 0.0
    source = "double"

    def __init__(self, mode: str = "grounded"):
        if mode not in MODES:
            raise ValueError(f"unknown chat double mode {mode!r}; choose one of {', '.join(MODES)}")
        self.mode = mode

    def complete(self, messages: list[dict], max_tokens: int = 96, temperature: float = 0.0,
                 seed: int | None = None) -> Completion:
        prompt = " ".join(str(m.get("content", "")) for m in messages)
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        match = FACTS_BLOCK.search(users[-1]) if users else None
        try:
            facts = json.loads(match.group(1)) if match else {}
        except json.JSONDecodeError:
            facts = {}
        if not facts:
            text = f"You said: {users[-1] if users else ''}".strip()
        else:
            title = facts.get("recommended_movie", {}).get("title", "this movie")
            liked = [m["title"] for m in facts.get("user_liked_movies", []) if "title" in m]
            text = f"Based on your interest in {liked[0]}, we recommend {title}." if liked else f"We recommend {title}."
            if self.mode == "invent":
                text += " Fans of The Avengers will love this 1987 classic, rated 9.7/10."
        words = text.split()
        finish = "length" if len(words) > max_tokens else "stop"
        return Completion(" ".join(words[:max_tokens]), len(prompt.split()), min(len(words), max_tokens), finish)
