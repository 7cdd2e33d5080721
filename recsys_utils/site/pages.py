"""Write the site's MyST sources from the recorded results: front page, figures, methods,
limitations, environment and appendix pages, plus the executed lessons as notebook pages.

Every number on these pages is formatted from the results JSON here (never typed), and every
recorded string is escaped before it lands in Markdown, so a lesson cannot inject markup.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
import shutil
from pathlib import Path
from typing import Any

from .content import LessonResult, humanise
from .numbers import format_number, format_p_cell, format_value_ci

# Pages other than the lessons, in the order of the navigation.
REPORT_PAGES = ("figures", "methods", "limitations", "environment", "appendix")
TABLE_ROWS = 25
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|$~^&:])")


def md_text(value: Any) -> str:
    """A recorded string as literal Markdown text: punctuation that MyST would read as markup
    (raw HTML, roles, math, links, emphasis) is backslash-escaped; newlines become spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def md_cell(value: Any) -> str:
    return md_text(value).replace("|", "\\|")


def headline_sentence(h, escape=md_text) -> str:
    """``Sentence. **0.312** (95% CI 0.281 to 0.336). Protocol: ...``"""
    text = escape(h.text.rstrip())
    number = format_value_ci(h.value, h.ci, h.unit)
    main, _, ci = number.partition(" (")
    shown = f"**{escape(main)}**" + (f" ({escape(ci)}" if ci else "")
    protocol = f" *Protocol:* {escape(h.protocol)}" if h.protocol else ""
    return f"{text} {shown}.{protocol}"


def _table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(md_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float | int | bool) or value is None:
        return md_cell(format_number(value))
    if isinstance(value, list):
        shown = ", ".join(format_number(v) for v in value[:8])
        return md_cell(shown + (f" (+{len(value) - 8} more)" if len(value) > 8 else ""))
    if isinstance(value, dict):
        return md_cell(json.dumps(value, ensure_ascii=False)[:120])
    return md_cell(value)


def recorded_table(records: list[dict[str, Any]], n_resamples: int | None) -> str:
    """A lesson's recorded table with readable numbers; p-value columns as ``≤ 2/(N+1)`` bounds."""
    columns = list(dict.fromkeys(k for r in records for k in r))
    rows = []
    for record in records[:TABLE_ROWS]:
        raw_p = next((record.get(k) for k in ("p_value", "p") if isinstance(record.get(k), float)), None)
        own = record.get("n_resamples")  # a row that records its own N wins over the lesson's parameter
        n = own if isinstance(own, int) and not isinstance(own, bool) and own > 0 else n_resamples
        row = []
        for column in columns:
            value = record.get(column, "")
            if column in ("p_value", "p", "pvalue") and isinstance(value, float | int):
                row.append(md_cell(format_p_cell(float(value), n)))
            elif column in ("p_holm", "p_adjusted") and isinstance(value, float | int):
                row.append(md_cell(format_p_cell(float(value), n, raw_p=raw_p)))
            else:
                row.append(_cell(value))
        rows.append(row)
    text = _table(columns, rows)
    if len(records) > TABLE_ROWS:
        text += f"\n\nFirst {TABLE_ROWS} of {len(records):,} rows; all of them are in the downloadable appendix."
    return text


def _lesson_doc(lesson: LessonResult) -> str | None:
    return f"lessons/{lesson.stem}" if lesson.executed_notebook else None


def _lesson_link(lesson: LessonResult, prefix: str = "") -> str:
    doc = _lesson_doc(lesson)
    title = md_text(lesson.title)
    return f"[{title}]({prefix}{doc}.ipynb)" if doc else title


def front_page(lessons: list[LessonResult], env: dict[str, Any], extra_docs: tuple[str, ...] = ()) -> str:
    profile = env.get("profile") or "not recorded"
    lines = ["# Build a movie recommender with RAG and RL: what the course found", ""]
    lines += [
        f"Every number on this site was recorded by an executed lesson (profile **{md_text(profile)}**) in its "
        "results file and formatted by `python -m recsys_utils.report`; nothing here is typed by hand or "
        "re-computed. Intervals are 95% confidence intervals; each finding names the protocol that produced it.",
        "",
    ]
    if profile == "smoke":
        lines += [":::{warning}", "These are **smoke-profile** numbers: tiny budgets that check the pipeline runs. "
                  "Run `make course` for the course's real results.", ":::", ""]
    lines += ["## Headline findings", ""]
    if not lessons:
        lines += ["No lesson has recorded results yet: run `make course`.", ""]
    for lesson in lessons:
        lines += [f"### {md_text(lesson.title)}", ""]
        if lesson.headlines:
            lines += [f"- {headline_sentence(h)}" for h in lesson.headlines]
        else:
            summary = f" Its summary: {md_text(lesson.summary)}" if lesson.summary else ""
            lines += [f"This lesson recorded no headline finding.{summary}"]
        doc = _lesson_doc(lesson)
        lines += ["", f"[Read the executed lesson]({doc}.ipynb)." if doc else "", ""]
    timings = env.get("timings_s", {})
    lines += ["## Lessons", "",
              _table(["lesson", "what it did", "run time", "figures"],
                     [[_lesson_link(lesson), md_cell(lesson.summary or "(no summary recorded)"),
                       md_cell(f"{format_number(timings[lesson.stem])} s" if lesson.stem in timings else "n/a"),
                       md_cell(format_number(len(lesson.figures)))] for lesson in lessons]), ""]
    lines += ["See also: [figures](figures.md), [methods](methods.md), [limitations](limitations.md), "
              "[environment](environment.md) and the [downloadable appendix](appendix.md) of every recorded metric.",
              ""]
    docs = [d for d in (_lesson_doc(lesson) for lesson in lessons) if d]
    if docs:
        lines += ["```{toctree}", ":hidden:", ":caption: Lessons", "", *docs, "```", ""]
    lines += ["```{toctree}", ":hidden:", ":caption: Report", "", *REPORT_PAGES, *extra_docs, "```", ""]
    return "\n".join(lines)


def figures_page(lessons: list[LessonResult]) -> str:
    lines = ["# Figures", "", "Every figure a lesson saved with `save_figure`, numbered, with the caption it recorded.", ""]
    any_figure = False
    for lesson in lessons:
        if not lesson.figures:
            continue
        any_figure = True
        lines += [f"## {_lesson_link(lesson)}", ""]
        for figure in lesson.figures:
            label = figure_label(lesson, figure)
            caption = md_text(figure.caption)
            lines += [f":::{{figure}} {figure.path}", f":name: {label}", f":alt: {html.escape(figure.caption, quote=True)}",
                      "", caption, ":::", ""]
    if not any_figure:
        lines += ["No lesson saved a figure yet.", ""]
    return "\n".join(lines)


def figure_label(lesson: LessonResult, figure) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"fig-{lesson.stem}-{figure.name}".lower()).strip("-")


_RELATIVE_LINK = re.compile(r"\[([^\]\n]+)\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s#]+)(#[^)\s]*)?\)")


def _site_links(markdown: str, pages: set[str]) -> str:
    """Links from a lesson to files of the repository that are not pages of the site (a module, a
    solutions notebook) become text naming the file; links to site pages (other lessons, the
    glossary) stay links."""

    def replace(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        resolved = posixpath.normpath(posixpath.join("lessons", target.removeprefix("../notebooks/")))
        if resolved in pages:
            return match.group(0)
        shown = posixpath.normpath(posixpath.join("notebooks", target))
        return f"{text} (`{shown}` in the course repository)"

    return _RELATIVE_LINK.sub(replace, markdown)


def _lesson_notebook(lesson: LessonResult, pages: set[str]) -> dict[str, Any]:
    """The executed notebook as run (links to repository files made text), plus one closing cell
    that points to its numbered figures."""
    notebook = json.loads(lesson.executed_notebook.read_text())
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            cell["source"] = _site_links("".join(source) if isinstance(source, list) else source, pages)
    if lesson.figures:
        items = [f"- {{numref}}`Figure %s <{figure_label(lesson, f)}>`: {md_text(f.caption)}" for f in lesson.figures]
        notebook.setdefault("cells", []).append({
            "cell_type": "markdown", "metadata": {},
            "source": "\n".join(["## Figures of this lesson", "",
                                 "Numbered and captioned on the [figures page](../figures.md):", "", *items])})
    return notebook


def methods_page(lessons: list[LessonResult]) -> str:
    lines = ["# Methods", "",
             "How the numbers on this site were produced: the protocols each lesson names, the splits it used, "
             "how intervals and p-values are computed, and every parameter a lesson recorded.", ""]
    lines += ["## Intervals and p-values", "",
              "- A **95% confidence interval** resamples what varies: users (bootstrap over users, BCa, "
              "`scipy.stats.bootstrap`) and, where a lesson trains with several seeds, the seeds.",
              "- A **paired comparison** of two systems on the same users works on per-user differences; its "
              "p-value comes from a two-sided sign-flip permutation test with N resamples "
              "(`scipy.stats.permutation_test`). Such a test cannot report anything below 2/(N+1): when no "
              "resample was as extreme as the observed difference, the site shows **p ≤ 2/(N+1)**, a bound, not a value.",
              "- Where many systems are compared with one reference, p-values are Holm-adjusted (family-wise error).",
              ""]
    protocols = [(lesson, h.protocol) for lesson in lessons for h in lesson.headlines if h.protocol]
    lines += ["## Protocols of the headline findings", ""]
    if protocols:
        seen = set()
        for lesson, protocol in protocols:
            if (lesson.stem, protocol) not in seen:
                seen.add((lesson.stem, protocol))
                lines.append(f"- {_lesson_link(lesson)}: {md_text(protocol)}")
    else:
        lines.append("No headline finding recorded a protocol yet.")
    lines.append("")
    for key, title in (("splits", "Splits"), ("protocol", "Evaluation protocol")):
        found = [(lesson, lesson.metrics[key]) for lesson in lessons if isinstance(lesson.metrics.get(key), dict)]
        for lesson, values in found:
            lines += [f"## {title} ({_lesson_link(lesson)})", "",
                      _table(["quantity", "value"], [[md_cell(humanise(k)), _cell(v)] for k, v in values.items()]), ""]
    lines += ["## Parameters each lesson ran with", ""]
    for lesson in lessons:
        if lesson.parameters:
            lines += [f"### {_lesson_link(lesson)}", "",
                      _table(["parameter", "value"], [[md_cell(k), _cell(v)] for k, v in lesson.parameters.items()]), ""]
    return "\n".join(lines)


# What each lesson's results cannot tell, by lesson number; only present lessons are listed.
_LESSON_LIMITS = {
    "01": "MovieLens ratings were given by users of the MovieLens website over a few years; they are not a "
          "sample of viewers, and a rating is not a viewing.",
    "02": "Text embeddings see titles, genres and years only: similarity in that text is not similarity in taste.",
    "03": "Offline accuracy on a temporal holdout measures agreement with what users later chose to rate, "
          "not with what they would have liked among the movies they never saw.",
    "04": "Every reinforcement-learning number is measured in a simulator built from the ratings: any gain "
          "over the greedy baseline is a property of that simulator, not evidence about people.",
    "05": "Faithfulness is checked against the recorded facts of each movie; a faithful explanation can still "
          "be unhelpful, and language-model answers vary between runs and model versions.",
    "06": "The serving loop's users are simulated over HTTP on one machine: throughput and learning gains "
          "say nothing about real traffic.",
}


def limitations_page(lessons: list[LessonResult], env: dict[str, Any]) -> str:
    lines = ["# Limitations", "", "What these results cannot tell you, and what is missing from this build.", ""]
    lines += ["## By lesson", ""]
    for lesson in lessons:
        limits = [_LESSON_LIMITS[lesson.number]] if lesson.number in _LESSON_LIMITS else []
        recorded = lesson.extra.get("limitations")
        if isinstance(recorded, list):
            limits += [str(x) for x in recorded]
        for limit in limits:
            lines.append(f"- {_lesson_link(lesson)}: {md_text(limit)}")
    lines += ["", "## Gaps in this build", ""]
    gaps = []
    if env.get("profile") == "smoke":
        gaps.append("The smoke profile runs every lesson with tiny budgets (few resamples, seeds and steps): "
                    "its intervals are wide and its numbers are not the course's findings.")
    gaps += [f"{_lesson_link(lesson)} recorded no headline finding." for lesson in lessons if not lesson.headlines]
    gaps += [f"{_lesson_link(lesson)}: {len(no_ci)} headline finding(s) without an interval."
             for lesson in lessons if (no_ci := [h for h in lesson.headlines if h.ci is None])]
    gaps += [f"{_lesson_link(lesson)}: {len(bare)} figure(s) without a recorded caption (the name is shown): "
             + ", ".join(md_text(f.caption) for f in bare) + "."
             for lesson in lessons if (bare := [f for f in lesson.figures if not f.captioned])]
    gaps += [f"{md_text(lesson.title)}: no executed notebook found, so it has no page." for lesson in lessons
             if not lesson.executed_notebook]
    lines += [f"- {g}" for g in gaps] or ["- None found."]
    lines.append("")
    return "\n".join(lines)


def environment_page(env: dict[str, Any]) -> str:
    lines = ["# Environment", "", "What produced these results: the machine, package versions, seeds, data and run times "
             "(also as {download}`environment.json <appendix/environment.json>`).", ""]
    lines += [_table(["what", "value"], [[md_cell("profile"), _cell(env.get("profile") or "not recorded")],
                                [md_cell("Python"), _cell(env.get("packages", {}).get("python", "?"))],
                                [md_cell("platform"), _cell(env.get("platform", "?"))],
                                [md_cell("CPU cores"), _cell(env.get("cpu_count"))],
                                [md_cell("seeds"), _cell(env.get("seeds", []))]]), ""]
    lines += ["## Data", ""]
    datasets = env.get("datasets", [])
    if not datasets:
        lines += ["No lesson recorded its dataset.", ""]
    for dataset in datasets:
        lines += [f"### {md_text(dataset.get('name', '?'))}", "",
                  f"Source: {md_text(dataset.get('source_kind', 'not recorded'))}."
                  + (f" Checksums verified: {_cell(dataset['checksums_verified'])}." if "checksums_verified" in dataset else "")
                  + (f" Subset: {_cell(dataset['subset'])}." if dataset.get("subset") else ""), ""]
        checksums = dataset.get("checksums", {})
        if checksums:
            lines += [_table(["file", "sha256"], [[md_cell(k), f"`{v}`" if re.fullmatch(r"[0-9a-f]+", str(v)) else md_cell(v)]
                                                  for k, v in checksums.items()]), ""]
    lines += ["## Run times", ""]
    timings = env.get("timings_s", {})
    if timings:
        lines += [_table(["lesson", "seconds"], [[md_cell(k), _cell(v)] for k, v in timings.items()]), ""]
        lines += [f"Total: {format_number(float(sum(timings.values())))} s, measured by the runner.", ""]
    else:
        lines += ["Not recorded (the report was rebuilt without running the lessons).", ""]
    lines += ["## Packages", "", _table(["package", "version"], [[md_cell(k), md_cell(v)]
                                                                 for k, v in env.get("packages", {}).items()]), ""]
    return "\n".join(lines)


def appendix_page(lessons: list[LessonResult], n_metrics: int) -> str:
    lines = ["# Appendix: every recorded metric", "",
             f"All {n_metrics:,} recorded metrics of {len(lessons)} lesson(s), as recorded:",
             "", "- {download}`metrics.json <appendix/metrics.json>` (nested, with tables, parameters and headlines)",
             "- {download}`metrics.csv <appendix/metrics.csv>` (one row per metric: lesson, dotted key, value)", ""]
    for lesson in lessons:
        if not lesson.tables:
            continue
        lines += [f"## {_lesson_link(lesson)}", ""]
        for name, records in lesson.tables.items():
            if records:
                lines += [f"### {md_text(humanise(name))}", "", recorded_table(records, lesson.n_resamples), ""]
    return "\n".join(lines)


def write_sources(source: Path, lessons: list[LessonResult], env: dict[str, Any], reports: Path,
                  metrics_files: dict[str, Path], n_metrics: int, glossary_docs: list[Path]) -> None:
    """Lay out the Sphinx source folder: pages, executed notebooks, figures, appendix files."""
    if source.exists():
        shutil.rmtree(source)
    (source / "lessons").mkdir(parents=True)
    pages = {f"lessons/{lesson.stem}.ipynb" for lesson in lessons if lesson.executed_notebook}
    pages |= {f"docs/{doc.name}" for doc in glossary_docs} | {f"{name}.md" for name in ("index", *REPORT_PAGES)}
    for lesson in lessons:
        if lesson.executed_notebook:
            notebook = _lesson_notebook(lesson, pages)
            (source / "lessons" / f"{lesson.stem}.ipynb").write_text(json.dumps(notebook))
        for figure in lesson.figures:
            target = source / figure.path
            target.parent.mkdir(parents=True, exist_ok=True)
            original = reports / figure.path
            if not original.exists():
                raise FileNotFoundError(f"{lesson.stem} lists figure {figure.name!r} at {figure.path}, which is missing; "
                                        "re-run the lesson")
            shutil.copyfile(original, target)
    (source / "appendix").mkdir()
    for path in metrics_files.values():
        shutil.copyfile(path, source / "appendix" / path.name)
    # Lessons link the glossary as ../docs/GLOSSARY.md#term: the same relative path works on the site.
    if glossary_docs:
        (source / "docs").mkdir()
        for doc in glossary_docs:
            shutil.copyfile(doc, source / "docs" / doc.name)
    pages = {
        "index": front_page(lessons, env, tuple(f"docs/{doc.stem}" for doc in glossary_docs)),
        "figures": figures_page(lessons),
        "methods": methods_page(lessons),
        "limitations": limitations_page(lessons, env),
        "environment": environment_page(env),
        "appendix": appendix_page(lessons, n_metrics),
    }
    for name, text in pages.items():
        (source / f"{name}.md").write_text(text)
