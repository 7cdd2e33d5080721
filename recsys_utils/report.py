"""Build the course report from what the lessons recorded: the website, ``REPORT.md``, the
appendix of every metric and ``environment.json``.

    python -m recsys_utils.report [--profile full] [--no-site]

Everything comes from ``reports/results/*.json``, the saved figures and the executed notebooks
in ``reports/notebooks/``: nothing is re-run, so what it shows is what the lessons produced.

    reports/site/index.html        the website (recsys_utils.site): findings, lessons, figures, methods
    reports/REPORT.md              a short Markdown summary: headline findings and links
    reports/appendix/metrics.json  every recorded metric, nested as recorded (and metrics.csv, flat)
    reports/environment.json       versions, seeds, datasets and checksums, run times
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from .fileio import atomic_write_json, atomic_write_text
from .paths import reports_dir
from .site.content import LessonResult, metric_rows, metrics_csv, metrics_json, read_results, source_kind
from .site.numbers import format_number, format_value_ci

SITE_ENV = "RECSYS_REPORT_SITE"
KEY_PACKAGES = (
    "numpy", "pandas", "scipy", "scikit-learn", "torch", "sentence-transformers", "transformers",
    "pinecone", "openai", "gymnasium", "stable-baselines3", "rliable", "implicit", "fastapi", "papermill",
    "sphinx", "myst-nb", "sphinx-book-theme",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment(lessons: list[LessonResult], profile: str | None, timings: dict[str, float] | None,
                previous: dict[str, Any] | None = None, runner_dataset: dict[str, Any] | None = None) -> dict[str, Any]:
    """What produced the results. Run times the runner measured are kept across ``make report``:
    a rebuild without timings reuses the last recorded ones for lessons it did not re-run.
    ``runner_dataset`` is the runner's ``{"name", "source_kind"}`` (kind, never a path)."""
    previous = previous or {}
    seeds = sorted({s for r in lessons if isinstance(s := r.parameters.get("SEED"), int)})
    datasets: dict[str, dict[str, Any]] = {}
    for lesson in lessons:
        recorded = lesson.environment
        name = recorded.get("dataset") or lesson.parameters.get("DATASET")
        if not name:
            continue
        entry = datasets.setdefault(str(name), {"name": str(name), "source_kind": "not recorded", "checksums": {}})
        if recorded.get("dataset_source") or recorded.get("dataset_source_kind"):
            described = source_kind(recorded.get("dataset_source"))
            kind = str(recorded.get("dataset_source_kind") or "")
            if kind and (not recorded.get("dataset_source") or kind.lower() not in described.lower()):
                described = f"{kind}: {described}" if recorded.get("dataset_source") else kind
            entry["source_kind"] = described
        entry["checksums"].update(recorded.get("dataset_checksums", {}) or {})
        for key in ("checksums_verified", "subset"):
            if recorded.get(f"dataset_{key}") is not None:
                entry[key] = recorded[f"dataset_{key}"]
    merged_timings = dict(previous.get("timings_s", {}))
    merged_timings.update({k: round(float(v), 1) for k, v in (timings or {}).items()})
    runner_dataset = runner_dataset or previous.get("dataset")
    if runner_dataset and runner_dataset.get("name"):
        entry = datasets.setdefault(str(runner_dataset["name"]), {"name": str(runner_dataset["name"]),
                                                                  "source_kind": "not recorded", "checksums": {}})
        if entry["source_kind"] == "not recorded" and runner_dataset.get("source_kind"):
            entry["source_kind"] = str(runner_dataset["source_kind"])
    env = {
        "profile": profile or previous.get("profile"),
        "packages": package_versions(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "seeds": seeds,
        "seeds_by_lesson": {r.stem: r.parameters["SEED"] for r in lessons if "SEED" in r.parameters},
        **({"dataset": runner_dataset} if runner_dataset else {}),
        "datasets": list(datasets.values()),
        "dataset_checksums": {k: v for d in datasets.values() for k, v in d["checksums"].items()},
        "timings_s": {k: merged_timings[k] for k in sorted(merged_timings) if k in {r.stem for r in lessons}},
    }
    return env


def _md(value: Any) -> str:
    """A recorded string in REPORT.md: HTML escaped, newlines folded, table pipes escaped."""
    return html.escape(" ".join(str(value).split()), quote=False).replace("|", "\\|")


def markdown_summary(lessons: list[LessonResult], env: dict[str, Any], site_index: str | None) -> str:
    lines = ["# Movie recommender with RAG and RL: course report", ""]
    lines += [f"Profile **{_md(env.get('profile') or 'not recorded')}**. Generated by `python -m recsys_utils.report` "
              "from `results/*.json`; every number was recorded by an executed lesson in `notebooks/`.", ""]
    if site_index:
        lines += [f"Full report: the website [`{site_index}`]({site_index}) (lessons, numbered figures, methods, "
                  "limitations, environment).", ""]
    lines += ["## Headline findings", ""]
    for lesson in lessons:
        if lesson.headlines:
            for h in lesson.headlines:
                protocol = f" _Protocol:_ {_md(h.protocol)}" if h.protocol else ""
                lines.append(f"- **{_md(lesson.title)}**: {_md(h.text)} {_md(format_value_ci(h.value, h.ci, h.unit))}.{protocol}")
        else:
            lines.append(f"- **{_md(lesson.title)}**: no headline finding recorded.")
    if not lessons:
        lines.append("No lesson has recorded results yet: run `make course`.")
    timings = env.get("timings_s", {})
    lines += ["", "## Lessons", "", "| lesson | run time | summary |", "|---|---|---|"]
    for lesson in lessons:
        seconds = f"{format_number(timings[lesson.stem])} s" if lesson.stem in timings else "n/a"
        lines.append(f"| [{_md(lesson.title)}](notebooks/{lesson.stem}.ipynb) | {seconds} | {_md(lesson.summary)} |")
    datasets = ", ".join(f"{_md(d['name'])} ({_md(d['source_kind'])})" for d in env.get("datasets", [])) or "not recorded"
    lines += ["", "## Data, environment and every metric", "",
              f"- Data: {datasets}; seeds {', '.join(str(s) for s in env.get('seeds', [])) or 'not recorded'}.",
              "- Environment (versions, checksums, run times): [`environment.json`](environment.json).",
              "- Every recorded metric: [`appendix/metrics.json`](appendix/metrics.json) and "
              "[`appendix/metrics.csv`](appendix/metrics.csv).", ""]
    return "\n".join(lines)


def _redirect_page(target: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='0; url={target}'>"
            f"<title>Course report</title></head><body><p>The course report is at <a href='{target}'>{target}</a>."
            "</p></body></html>")


def build_report(profile: str | None = None, timings: dict[str, float] | None = None, site: bool | None = None,
                 log=print, dataset: str | None = None, source_kind: str | None = None) -> dict[str, Path]:
    """Write the report files and, unless ``site`` is False, build the website.

    ``site=None`` follows ``RECSYS_REPORT_SITE`` (default on; the test session turns it off so only
    the site tests pay for a Sphinx build). ``dataset`` and ``source_kind`` are the runner's view of
    the data (the lessons record theirs too)."""
    if site is None:
        site = os.environ.get(SITE_ENV, "1").strip().lower() not in ("0", "false", "no")
    out = reports_dir()
    lessons = read_results(out)
    env_path = out / "environment.json"
    previous = json.loads(env_path.read_text()) if env_path.exists() else None
    runner = {"name": dataset, "source_kind": source_kind} if dataset else None
    env = environment(lessons, profile, timings, previous, runner)
    atomic_write_json(env_path, env, sort_keys=False)
    rows = metric_rows(lessons)
    appendix = {
        "json": atomic_write_json(out / "appendix" / "metrics.json", metrics_json(lessons), sort_keys=False),
        "csv": atomic_write_text(out / "appendix" / "metrics.csv", metrics_csv(rows)),
    }
    paths = {"environment": env_path, "metrics_json": appendix["json"], "metrics_csv": appendix["csv"]}
    appendix["environment"] = env_path
    # REPORT.md first: if the site build fails, the summary and the appendix are still there.
    paths["markdown"] = atomic_write_text(out / "REPORT.md", markdown_summary(lessons, env, "site/index.html" if site else None))
    if site:
        from .site import build_site

        built = build_site(out, lessons, env, appendix, len(rows), log=log)
        paths["site"] = built.index
        paths["html"] = atomic_write_text(out / "index.html", _redirect_page("site/index.html"))
        if built.screenshot:
            paths["screenshot"] = built.screenshot
        log(f"site: {len(lessons)} lesson(s) in {built.seconds:.1f} s, {len(built.warnings)} Sphinx warning(s), "
            f"{len(built.problems)} link problem(s)" + ("" if built.mathjax else ", math not vendored"))
        for line in (built.warnings + built.problems)[:20]:
            log(f"  {line}")
    paths.setdefault("html", paths["markdown"])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys_utils.report", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=None, help="profile the results were run with (default: as last recorded)")
    parser.add_argument("--no-site", action="store_true", help="write REPORT.md and the appendix only")
    args = parser.parse_args(argv)
    paths = build_report(args.profile, site=not args.no_site)
    print(f"wrote {paths['markdown']}" + (f" and {paths['site']}" if "site" in paths else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
