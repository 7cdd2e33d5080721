"""Start and stop the local OpenAI-compatible endpoint (``recsys_utils.llm.server``) for a lesson or the service.

    with LocalLLM() as llm:                 # a server process on a free 127.0.0.1 port
        client = openai.OpenAI(base_url=llm.base_url, api_key=PLACEHOLDER_KEY)

    base_url = start_local_llm()            # one shared process for this interpreter; stopped at exit

While it runs, and only when no ``OPENAI_API_KEY`` is set, ``OPENAI_BASE_URL`` and
``OPENAI_MODEL`` point at it, so ``make_explainer("auto")`` and any ``openai`` client built
from the environment use it; a real key (with its own base URL) always wins. Both variables
are restored on stop. A model that cannot load (missing wheel, wrong checksum) raises
``ModelUnavailable`` with the server's reason.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..loopback import free_loopback_port, wait_until_healthy
from .model import ModelUnavailable

LOOPBACK = "127.0.0.1"

PLACEHOLDER_KEY = "local-llm-needs-no-key"  # the local endpoint checks no key; the client insists on one
ENV_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_MODEL")


def is_loopback_url(url: str | None) -> bool:
    from urllib.parse import urlparse

    return bool(url) and urlparse(url).hostname in ("127.0.0.1", "localhost", "::1")


class LocalLLM:
    """One server process: ``backend="local"`` (SmolLM2) or ``"double"`` (the test double)."""

    def __init__(self, backend: str = "local", threads: int | None = None, start_timeout_s: float = 240.0,
                 export_env: bool = True):
        self.backend = backend
        self.threads = threads
        self.start_timeout_s = start_timeout_s
        self.export_env = export_env
        self.port: int | None = None
        self.info: dict = {}
        self.start_seconds = 0.0
        self._launched_at = 0.0
        self._process: subprocess.Popen | None = None
        self._log = None
        self._saved_env: dict[str, str | None] | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the local LLM is not running; call start() or use it as a context manager")
        return f"http://{LOOPBACK}:{self.port}/v1"

    @property
    def model_id(self) -> str:
        return self.info.get("model", "")

    def start(self) -> LocalLLM:
        """Launch the server and wait until it answers (``launch`` + ``wait``)."""
        return self.launch().wait()

    def launch(self) -> LocalLLM:
        """Start the server process and return at once; ``wait`` blocks until it is healthy.

        Why split: loading the model (imports, weights) takes seconds of one core, which a lesson
        can overlap with its own work on the other core, then ``wait`` when it needs the model."""
        if self._process is not None:
            return self
        self.info = {}
        self._launched_at = time.perf_counter()
        self.port = free_loopback_port()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server; closed in stop)
        command = [sys.executable, "-m", "recsys_utils.llm.server", "--port", str(self.port),
                   "--backend", self.backend]
        if self.threads:
            command += ["--threads", str(self.threads)]
        env = os.environ | {"PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"}
        self._process = subprocess.Popen(command, stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL,
                                         env=env, cwd=Path(__file__).resolve().parents[2])
        return self

    def wait(self) -> LocalLLM:
        """Block until the launched server is healthy; ``start_seconds`` counts from the launch."""
        import httpx

        if self.info:
            return self
        if self._process is None:
            raise RuntimeError("the local LLM was not launched; call launch() or start()")
        try:
            wait_until_healthy(f"http://{LOOPBACK}:{self.port}", self._exited, timeout=self.start_timeout_s,
                               name="the local LLM")
        except TimeoutError:
            self.stop()
            raise
        self.info = httpx.get(f"http://{LOOPBACK}:{self.port}/health", timeout=2).json()
        self.start_seconds = time.perf_counter() - self._launched_at
        if self.export_env and not os.environ.get("OPENAI_API_KEY"):
            self._saved_env = {name: os.environ.get(name) for name in ENV_VARIABLES}
            os.environ["OPENAI_BASE_URL"] = self.base_url
            os.environ["OPENAI_MODEL"] = self.model_id
        return self

    def stop(self) -> None:
        if self._saved_env is not None:
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._saved_env = None
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._cleanup()

    def _exited(self) -> str | None:
        """While the server starts: None, or why it cannot come up (code 3: the model is unavailable)."""
        code = self._process.poll()
        if code is None:
            return None
        reason = self._log_tail()
        self._cleanup()
        if code == 3:
            raise ModelUnavailable(reason.partition("ModelUnavailable: ")[2].strip() or reason)
        return f"the local LLM server exited with code {code} at start-up:\n{reason}"

    def _cleanup(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-3000:].strip()

    def __enter__(self) -> LocalLLM:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_shared: LocalLLM | None = None


def start_local_llm(backend: str = "local", threads: int | None = None) -> str:
    """Start (once per interpreter) the shared local endpoint and return its base URL."""
    global _shared
    if _shared is None or _shared._process is None:
        _shared = LocalLLM(backend=backend, threads=threads).start()
        atexit.register(stop_local_llm)
    return _shared.base_url


def stop_local_llm() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None
