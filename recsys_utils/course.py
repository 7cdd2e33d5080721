"""Run the lessons in order with papermill, then build the report.

    python -m recsys_utils.course run [--profile smoke|full] [--only 01,03]

``full`` is the real course (what ``make course`` runs); ``smoke`` uses the small budgets in
``notebooks/profiles.toml`` so CI can execute every lesson quickly. The runner stops at the
first failing cell and names it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import notebooks_dir, reports_dir

PROFILES = ("smoke", "full")
KERNEL_NAME = "recsys-course"


@dataclass
class NotebookRun:
    notebook: str
    output: Path
    seconds: float


class LessonFailed(RuntimeError):
    """A cell raised: the message names the notebook, the cell and the executed copy."""


def list_notebooks(folder: Path | None = None) -> list[Path]:
    """Numbered lessons (``NN_name.ipynb``) in course order."""
    folder = folder or notebooks_dir()
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def select_notebooks(notebooks: list[Path], only: str | list[str] | None) -> list[Path]:
    if not only:
        return notebooks
    wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only) if w.strip()]
    chosen = [nb for nb in notebooks if any(nb.stem == w or nb.stem.startswith(f"{w}_") for w in wanted)]
    found = {w for w in wanted if any(nb.stem == w or nb.stem.startswith(f"{w}_") for nb in chosen)}
    missing = sorted(set(wanted) - found)
    if missing:
        names = ", ".join(nb.stem for nb in notebooks)
        raise SystemExit(f"--only names no lesson for {', '.join(missing)}; lessons are: {names}")
    return chosen


def load_profile(profile: str, path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Parameter overrides for each notebook stem under ``profile``."""
    if profile not in PROFILES:
        raise SystemExit(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    path = path or notebooks_dir() / "profiles.toml"
    table = tomllib.loads(path.read_text()) if path.exists() else {}
    return table.get(profile, {})


def ensure_kernel() -> str:
    """Register this interpreter as a Jupyter kernel so papermill runs the course's venv.

    A kernel named ``python3`` can resolve to another Python on a reader's machine; a
    dedicated name installed into ``sys.prefix`` cannot.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        # Compare without resolving symlinks: every venv's python links to the same base
        # interpreter, so resolved paths would accept another checkout's kernel.
        if Path(spec.argv[0]).absolute() == Path(sys.executable).absolute():
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name="Python (recsys course)", prefix=sys.prefix)
    return KERNEL_NAME


def _ipc_kernel_manager_class():
    """A kernel manager that talks to its kernel over Unix sockets instead of TCP ports.

    Over TCP, jupyter_client picks five free ports and the kernel binds them a moment later;
    another process (a training worker, the lesson-06 service) can take one in between and
    the kernel dies with "Address already in use". Sockets in files cannot collide that way,
    and they are not reachable from the network at all.
    """
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return IPCKernelManager


def run_notebook(notebook: Path, output_dir: Path, parameters: dict[str, Any]) -> NotebookRun:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / notebook.name
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name=ensure_kernel(),
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=False,
            kernel_manager_class=_ipc_kernel_manager_class(),
        )
    except PapermillExecutionError as error:
        first_line = str(error.evalue).splitlines()[0] if error.evalue else ""
        raise LessonFailed(
            f"{notebook.stem} failed in cell {error.cell_index} (execution count {error.exec_count}): "
            f"{error.ename}: {first_line}\n  executed copy with the traceback: {output}"
        ) from None
    return NotebookRun(notebook.stem, output, time.perf_counter() - start)


def run_course(
    profile: str = "full",
    only: str | list[str] | None = None,
    reports: Path | None = None,
    build_report: bool = True,
    log=print,
) -> list[NotebookRun]:
    previous = os.environ.get("RECSYS_REPORTS_DIR")
    if reports is not None:
        # The kernels inherit this, so every lesson records into the same folder.
        os.environ["RECSYS_REPORTS_DIR"] = str(Path(reports).resolve())
    try:
        return _run(profile, only, build_report, log)
    finally:
        if reports is not None:
            if previous is None:
                os.environ.pop("RECSYS_REPORTS_DIR", None)
            else:
                os.environ["RECSYS_REPORTS_DIR"] = previous


def _run(profile: str, only, build_report: bool, log) -> list[NotebookRun]:
    # Kernels run with the notebooks folder as their working directory: a relative
    # RECSYS_DATA_DIR would point somewhere else in there, so pass it on as an absolute path.
    # Kernels started here run unattended: nothing in them may wait for a typed key.
    os.environ["PAPERMILL_EXECUTION"] = "1"
    if os.environ.get("RECSYS_DATA_DIR"):
        os.environ["RECSYS_DATA_DIR"] = str(Path(os.environ["RECSYS_DATA_DIR"]).expanduser().resolve())
    out_dir = reports_dir() / "notebooks"
    overrides = load_profile(profile)
    notebooks = select_notebooks(list_notebooks(), only)
    runs = []
    for index, notebook in enumerate(notebooks, 1):
        log(f"[{index}/{len(notebooks)}] {notebook.stem} ({profile}) ...", flush=True)
        run = run_notebook(notebook, out_dir, overrides.get(notebook.stem, {}))
        log(f"[{index}/{len(notebooks)}] {notebook.stem} done in {run.seconds:.1f} s", flush=True)
        runs.append(run)
    if build_report:
        from .report import build_report as build

        paths = build(profile=profile, timings={r.notebook: r.seconds for r in runs})
        log(f"report: {paths['html']} and {paths['markdown']}")
    total = sum(r.seconds for r in runs)
    log(f"{len(runs)} lesson(s) in {total:.1f} s")
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys_utils.course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the lessons and build the report")
    run.add_argument("--profile", choices=PROFILES, default="full")
    run.add_argument("--only", help="comma-separated lesson numbers or names, e.g. 01,03")
    run.add_argument("--reports", type=Path, help="write executed notebooks and results here")
    run.add_argument("--no-report", action="store_true", help="skip building reports/index.html")
    sub.add_parser("list", help="list the lessons in order")
    args = parser.parse_args(argv)
    if args.command == "list":
        for notebook in list_notebooks():
            print(notebook.stem)
        return 0
    try:
        run_course(args.profile, args.only, args.reports, build_report=not args.no_report)
    except LessonFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
