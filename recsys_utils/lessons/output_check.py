"""Find what a reader should never see in an executed lesson: warnings, tracebacks, progress bars,
duplicated log lines, object reprs, machine paths, unformatted numbers, text cut off with "…".

    python -m recsys_utils.lessons.output_check reports/notebooks/*.ipynb

The test suite runs this over every lesson executed by the smoke run, so a noisy output fails CI.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

# (name, pattern, what to do). Patterns run over each output's text, line by line.
RULES: tuple[tuple[str, re.Pattern, str], ...] = (
    ("warning", re.compile(r"\b\w*Warning\b[:(]|^\s*warnings\.warn|UserWarning|FutureWarning|DeprecationWarning"),
     "silence it at its source (fix the call, or filter that one warning with a comment saying why)"),
    ("traceback", re.compile(r"Traceback \(most recent call last\)|^\w+Error: "), "no cell may raise or print a traceback"),
    ("progress bar", re.compile(r"\d+%\|[^|]*\||\d+(?:\.\d+)?\s*(?:it|s)/(?:s|it)\]|Batches:|Loading weights"),
     "turn progress bars off (show_progress_bar=False, progress_bar=False, TQDM_DISABLE)"),
    ("object repr", re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>|PosixPath\(|WindowsPath\("),
     "end the cell with a statement, or print a sentence instead of the object"),
    ("machine path", re.compile(r"(?<![\w.])/(?:work|root|home|tmp|Users|private|var/folders)/[\w./-]+"),
     "show paths relative to the project (e.g. data/artifacts/...)"),
    ("unformatted number", re.compile(r"\b\d+\.0{6}\b|\b\d\.\d{9,}\b"),
     "format numbers: integers as integers, about 3 significant digits"),
    ("cut-off text", re.compile(r"\w…|\.\.\.\s*$|…\s*$"), "wrap long text with textwrap instead of cutting it"),
)


@dataclass(frozen=True)
class Problem:
    notebook: str
    cell: int
    rule: str
    line: str
    advice: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell}: {self.rule}: {self.line.strip()[:160]!r} ({self.advice})"


def output_texts(cell: dict) -> list[str]:
    """The text a reader sees under a code cell: streams, results and errors (not images)."""
    texts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            texts.append("".join(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "text/plain" in data and "text/html" not in data and "image/png" not in data:
                texts.append("".join(data["text/plain"]))
            elif "text/html" in data:
                texts.append(re.sub(r"<[^>]+>", " ", "".join(data["text/html"])))
        elif kind == "error":
            texts.append("Traceback (most recent call last)\n" + "\n".join(output.get("traceback", [])))
    return texts


def _duplicated_lines(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    # A log line printed twice in a row is a handler added twice, not something a lesson means to say.
    return [a for a, b in zip(lines, lines[1:], strict=False) if a == b and re.search(r"\b(INFO|WARNING|DEBUG)\b|:\s", a)]


def check_notebook(path: Path) -> list[Problem]:
    notebook = json.loads(Path(path).read_text())
    problems: list[Problem] = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        for text in output_texts(cell):
            for line in text.splitlines():
                for rule, pattern, advice in RULES:
                    if pattern.search(line):
                        problems.append(Problem(Path(path).name, index, rule, line, advice))
            for line in _duplicated_lines(text):
                problems.append(Problem(Path(path).name, index, "duplicated log line", line,
                                        "configure logging once (one handler)"))
    return problems


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    problems = [p for path in paths for p in check_notebook(path)]
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in {len(paths)} notebook(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
