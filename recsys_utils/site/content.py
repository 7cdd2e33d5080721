"""Read what the lessons recorded (``reports/results/*.json``) into what the report shows.

Only reading and shaping happens here: the lessons' numbers are taken as recorded, never
recomputed. ``record_results``/``save_figure``/``headline`` in ``recsys_utils.results`` write
these files; this module is their reader.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

P_VALUE_KEYS = ("p_value", "p", "pvalue")
P_ADJUSTED_KEYS = ("p_holm", "p_adjusted")
RESAMPLE_KEYS = ("n_resamples", "N_RESAMPLES")


@dataclass
class Figure:
    lesson: str
    name: str
    path: str            # relative to the reports folder, e.g. figures/01_x/name.png
    caption: str
    captioned: bool      # False: the lesson recorded no caption, the name was humanised


@dataclass
class Headline:
    lesson: str
    text: str
    value: float
    ci: tuple[float, float] | None
    protocol: str
    unit: str


@dataclass
class LessonResult:
    stem: str
    title: str
    summary: str
    headlines: list[Headline]
    figures: list[Figure]
    metrics: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    parameters: dict[str, Any]
    environment: dict[str, Any]
    executed_notebook: Path | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def number(self) -> str:
        return self.stem.split("_", 1)[0]

    @property
    def n_resamples(self) -> int | None:
        """N of the lesson's resampling tests, from its recorded parameters or metrics."""
        for key in RESAMPLE_KEYS:
            value = self.parameters.get(key, self.metrics.get(key))
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        return None


# Words a humanised name keeps in their usual spelling.
_SPELLING = {w.lower(): w for w in ("RL", "CTR", "nDCG", "CF", "LLM", "DQN", "PPO", "API", "RRF", "MRR", "MAP", "K",
                                     "IQM", "MiniLM", "PCA", "HTTP", "GPT")}


def humanise(name: str) -> str:
    """``rl_minus_greedy`` -> ``RL minus greedy`` (never a file name on the page)."""
    words = re.sub(r"[_\-]+", " ", Path(name).stem if name.endswith(".png") else name).split()
    if not words:
        return name
    words = [_SPELLING.get(w.lower(), w) for w in words]
    first = words[0]
    words[0] = first if first in _SPELLING.values() else first[:1].upper() + first[1:]
    return " ".join(words)


def lesson_title(stem: str, notebook: Path | None = None) -> str:
    """The executed notebook's first heading, else ``Lesson NN: Humanised name``."""
    if notebook is not None and notebook.exists():
        try:
            cells = json.loads(notebook.read_text()).get("cells", [])
        except (OSError, ValueError):
            cells = []
        for cell in cells:
            if cell.get("cell_type") != "markdown":
                continue
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    number, _, rest = stem.partition("_")
    return f"Lesson {number}: {humanise(rest)}" if number.isdigit() and rest else humanise(stem)


def _headlines(stem: str, raw: Any) -> list[Headline]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"results of {stem}: 'headlines' must be a list of headline(...) items, got {type(raw).__name__}")
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or "text" not in item or "value" not in item:
            raise ValueError(
                f"results of {stem}: headlines[{index}] needs 'text' and 'value'; "
                "record it with recsys_utils.results.headline(text, value, ci=(lo, hi), protocol=...)")
        ci = item.get("ci")
        items.append(Headline(stem, str(item["text"]), float(item["value"]),
                              (float(ci[0]), float(ci[1])) if ci else None,
                              str(item.get("protocol", "")), str(item.get("unit", ""))))
    return items


def read_lesson(path: Path, notebooks: Path | None = None) -> LessonResult:
    try:
        raw = json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path.name} is not valid JSON ({error}); re-run its lesson") from None
    stem = str(raw.get("notebook") or path.stem)
    executed = (notebooks / f"{stem}.ipynb") if notebooks is not None else None
    executed = executed if executed is not None and executed.exists() else None
    captions = raw.get("captions", {}) or {}
    figures = [
        Figure(stem, name, rel, captions.get(name) or humanise(name), bool(captions.get(name)))
        for name, rel in (raw.get("figures", {}) or {}).items()
    ]
    tables = {k: v for k, v in (raw.get("tables", {}) or {}).items() if isinstance(v, list)}
    known = {"notebook", "metrics", "headlines", "figures", "captions", "tables", "parameters", "environment", "summary"}
    return LessonResult(
        stem=stem,
        title=lesson_title(stem, executed),
        summary=str(raw.get("summary", "") or ""),
        headlines=_headlines(stem, raw.get("headlines")),
        figures=figures,
        metrics=raw.get("metrics", {}) or {},
        tables=tables,
        parameters=raw.get("parameters", {}) or {},
        environment=raw.get("environment", {}) or {},
        executed_notebook=executed,
        extra={k: v for k, v in raw.items() if k not in known},
    )


def read_results(reports: Path) -> list[LessonResult]:
    """Every lesson's recorded results, in course order."""
    folder = reports / "results"
    if not folder.exists():
        return []
    notebooks = reports / "notebooks"
    return [read_lesson(p, notebooks) for p in sorted(folder.glob("*.json"))]


def flatten(metrics: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested metrics as ``(dotted.key, value)`` rows; lists stay whole values."""
    if not isinstance(metrics, dict):
        return [(prefix.rstrip("."), metrics)]
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def metric_rows(lessons: list[LessonResult]) -> list[dict[str, Any]]:
    """One row per recorded metric of every lesson (the downloadable appendix)."""
    return [{"lesson": lesson.stem, "metric": key, "value": value}
            for lesson in lessons for key, value in flatten(lesson.metrics)]


def metrics_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["lesson", "metric", "value"])
    for row in rows:
        value = row["value"]
        writer.writerow([row["lesson"], row["metric"],
                         json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else value])
    return out.getvalue()


def metrics_json(lessons: list[LessonResult]) -> dict[str, Any]:
    """Everything each lesson recorded, nested as recorded (metrics, tables, parameters, headlines)."""
    return {
        lesson.stem: {
            "title": lesson.title,
            "metrics": lesson.metrics,
            "headlines": [
                {"text": h.text, "value": h.value, "ci": list(h.ci) if h.ci else None, "protocol": h.protocol,
                 "unit": h.unit}
                for h in lesson.headlines
            ],
            "tables": lesson.tables,
            "parameters": lesson.parameters,
        }
        for lesson in lessons
    }


def source_kind(source: str | None) -> str:
    """Where the data came from, as a reader should see it: ``pip:recbole==1.2.1`` -> ``pip package
    recbole==1.2.1``; a local path is reduced to its file name (no absolute or home paths)."""
    if not source:
        return "not recorded"
    text = str(source)
    if text.startswith(("http://", "https://")):
        return "official download"
    kind, sep, rest = text.partition(":")
    if sep and kind == "pip":
        return f"pip package {rest}"
    if sep and kind == "local":
        return f"local copy ({Path(rest).name})" if Path(rest).name else "local copy"
    if sep and kind.isalpha() and len(kind) > 1:
        return kind
    name = Path(text).name
    return f"local copy ({name})" if name else "local copy"
