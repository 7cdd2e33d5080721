"""``setup_lesson(NOTEBOOK)``: the second cell of every lesson.

It makes the executed output readable (one log handler, the course's own messages only, no progress
bars, no import-time warnings from optional widgets) and prints the lesson's measured run time and its
reading time. Lessons call it instead of configuring logging themselves, so every lesson reads the same
in JupyterLab and in the report.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

from .timings import show_times

# Libraries that draw progress bars or chatty INFO logs in a notebook (each read by the library itself).
_QUIET_ENVIRONMENT = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}
_NOISY_LOGGERS = ("httpx", "httpcore", "sentence_transformers", "transformers", "urllib3", "filelock",
                  "huggingface_hub", "matplotlib", "PIL", "numexpr", "pinecone", "openai", "uvicorn",
                  "uvicorn.access", "uvicorn.error")


def configure_output(level: int = logging.WARNING) -> None:
    """One stderr handler printing ``message`` lines; third-party loggers at WARNING; bars off."""
    for name, value in _QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:  # tqdm.auto warns at import time when ipywidgets is missing; the bars are off anyway.
        from tqdm import TqdmExperimentalWarning, TqdmWarning

        warnings.filterwarnings("ignore", category=TqdmWarning)
        warnings.filterwarnings("ignore", category=TqdmExperimentalWarning)
    except ImportError:  # pragma: no cover - tqdm is a dependency
        pass
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


def setup_lesson(notebook: str) -> None:
    """Quiet, readable output, then the lesson's run and reading times."""
    configure_output()
    show_times(notebook)
