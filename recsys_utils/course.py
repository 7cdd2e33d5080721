"""Run the lessons in order with papermill, then build the report.

    python -m recsys_utils.course run [--profile smoke|full] [--only 01,03]
                                      [--dataset ml-latest-small] [--source PATH] [-p NAME VALUE ...]

``full`` is the real course (what ``make course`` runs); ``smoke`` uses the small budgets in
``notebooks/profiles.toml`` so CI can execute every lesson quickly. The runner stops at the
first failing cell and names it.

``--dataset`` is injected as the ``DATASET`` parameter of every lesson; ``--source`` (a local
folder or zip) reaches the kernels as ``RECSYS_MOVIELENS_SOURCE`` and never as a parameter,
because papermill writes parameters into the executed notebook and a path there would leak the
reader's file system into the report. ``-p NAME VALUE`` sets any lesson parameter, with
papermill's own typing of ``VALUE`` (``True``/``False``/``None``, int, float, else str).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import notebooks_dir, reports_dir

PROFILES = ("smoke", "full")
KERNEL_NAME = "recsys-course"
DATASET_PARAMETER = "DATASET"
# Parameters are written into the executed notebooks (and so into the report): never a secret.
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET")


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


def parse_parameter_value(value: str) -> Any:
    """``-p NAME VALUE`` typed exactly as ``papermill -p`` types it (papermill is pinned)."""
    from papermill.cli import _resolve_type

    return _resolve_type(value)


def refuse_secret_names(names) -> None:
    """Refuse parameter names that look like secrets: papermill writes parameters into the notebook."""
    bad = sorted(n for n in names if any(marker in n.upper() for marker in SECRET_MARKERS))
    if bad:
        raise SystemExit(
            f"refusing parameter(s) {', '.join(bad)}: names containing KEY, TOKEN or SECRET look like secrets, "
            "and papermill writes every parameter into the executed notebook and the report. "
            "Set secrets as environment variables instead (e.g. export OPENAI_API_KEY=...); the lessons read them from there."
        )


def notebook_parameters(notebook: Path) -> set[str]:
    """The names declared in a lesson's ``parameters`` cell."""
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def lesson_parameters(
    notebooks: list[Path],
    overrides: dict[str, dict[str, Any]],
    dataset: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Parameters for each lesson: the profile's, then ``DATASET``, then ``-p`` values.

    ``DATASET`` and ``-p`` values go to every lesson that declares the name; a ``-p`` name that
    no selected lesson declares is refused (papermill would only warn and inject it anyway).
    """
    extra = dict(extra or {})
    refuse_secret_names(extra)
    declared = {nb.stem: notebook_parameters(nb) for nb in notebooks}
    unknown = sorted(n for n in extra if not any(n in names for names in declared.values()))
    if unknown:
        known = sorted(set().union(*declared.values())) if declared else []
        raise SystemExit(
            f"no selected lesson has a parameter named {', '.join(unknown)}; "
            f"the parameters are: {', '.join(known)}"
        )
    result = {}
    for nb in notebooks:
        params = dict(overrides.get(nb.stem, {}))
        if dataset is not None and DATASET_PARAMETER in declared[nb.stem]:
            params[DATASET_PARAMETER] = dataset
        params.update({k: v for k, v in extra.items() if k in declared[nb.stem]})
        refuse_secret_names(params)
        result[nb.stem] = params
    return result


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


@contextmanager
def _environment(**values: str | None):
    """Set environment variables (the kernels inherit them) and restore them afterwards."""
    previous = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is not None:
                os.environ[name] = value
        yield
    finally:
        for name, value in previous.items():
            if values[name] is None:
                continue
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_course(
    profile: str = "full",
    only: str | list[str] | None = None,
    reports: Path | None = None,
    build_report: bool = True,
    log=print,
    dataset: str | None = None,
    source: str | os.PathLike | None = None,
    parameters: dict[str, Any] | None = None,
    data_dir: str | os.PathLike | None = None,
) -> list[NotebookRun]:
    """Execute the lessons; ``dataset``/``source``/``parameters`` as ``--dataset``/``--source``/``-p``.

    ``data_dir`` moves ``RECSYS_DATA_DIR`` for this run (the benchmark runs cold in a fresh one).
    """
    from .data import describe_source_argument, get_spec
    from .data.sources import SOURCE_ENV

    if dataset is not None:
        try:
            get_spec(dataset)
        except ValueError as error:
            raise SystemExit(str(error)) from None
    source_env = None
    if source is not None:
        path = Path(source).expanduser()
        if not path.exists():
            raise SystemExit(f"--source {source} does not exist; give a folder or zip holding a GroupLens dataset")
        source_env = str(path.resolve())
    with _environment(
        # The kernels inherit these, so every lesson records into the same folder and loads the same data.
        RECSYS_REPORTS_DIR=str(Path(reports).resolve()) if reports is not None else None,
        RECSYS_DATA_DIR=str(Path(data_dir).expanduser().resolve()) if data_dir is not None else None,
        **{SOURCE_ENV: source_env},
    ):
        runs = _run(profile, only, log, dataset, parameters)
        if build_report:
            from .report import build_report as build

            name = dataset or _default_dataset()
            provenance = {"dataset": name, "source_kind": describe_source_argument(name, source_env)}
            # The report also reads the dataset from what the lessons recorded; this is the runner's view.
            paths = build(profile=profile, timings={r.notebook: r.seconds for r in runs}, **provenance)
            log(f"report: {paths['html']} and {paths['markdown']}")
        return runs


def _default_dataset() -> str:
    from .constants import DEFAULT_DATASET

    return DEFAULT_DATASET


def _run(profile: str, only, log, dataset: str | None, extra: dict[str, Any] | None) -> list[NotebookRun]:
    # Kernels run with the notebooks folder as their working directory: a relative
    # RECSYS_DATA_DIR would point somewhere else in there, so pass it on as an absolute path.
    # Kernels started here run unattended: nothing in them may wait for a typed key.
    os.environ["PAPERMILL_EXECUTION"] = "1"
    if os.environ.get("RECSYS_DATA_DIR"):
        os.environ["RECSYS_DATA_DIR"] = str(Path(os.environ["RECSYS_DATA_DIR"]).expanduser().resolve())
    out_dir = reports_dir() / "notebooks"
    notebooks = select_notebooks(list_notebooks(), only)
    parameters = lesson_parameters(notebooks, load_profile(profile), dataset, extra)
    label = profile if dataset is None else f"{profile}, {dataset}"
    runs = []
    for index, notebook in enumerate(notebooks, 1):
        log(f"[{index}/{len(notebooks)}] {notebook.stem} ({label}) ...", flush=True)
        run = run_notebook(notebook, out_dir, parameters[notebook.stem])
        log(f"[{index}/{len(notebooks)}] {notebook.stem} done in {run.seconds:.1f} s", flush=True)
        runs.append(run)
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
    run.add_argument("--dataset", help="MovieLens dataset for every lesson (default ml-100k): "
                     "ml-100k, ml-latest-small, ml-1m or ml-25m")
    run.add_argument("--source", help="a local folder or zip holding that dataset's GroupLens files")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                     help="set a lesson parameter, typed like papermill -p (repeatable)")
    sub.add_parser("list", help="list the lessons in order")
    args = parser.parse_args(argv)
    if args.command == "list":
        for notebook in list_notebooks():
            print(notebook.stem)
        return 0
    extra = {name: parse_parameter_value(value) for name, value in args.parameter}
    if DATASET_PARAMETER in extra:
        raise SystemExit("set the dataset with --dataset NAME, not -p DATASET (it also picks the report's dataset)")
    try:
        run_course(args.profile, args.only, args.reports, build_report=not args.no_report,
                   dataset=args.dataset, source=args.source, parameters=extra)
    except LessonFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
