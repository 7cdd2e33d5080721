"""environment.yml (conda) and pyproject.toml must describe the same environment."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower().replace("_", "-")


def test_runtime_dependencies_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalise(r) for r in project["dependencies"]} | {
        _normalise(r) for r in project["optional-dependencies"]["dev"]}
    text = (ROOT / "environment.yml").read_text()
    pip_lines = {_normalise(m) for m in re.findall(r"^\s+-\s+([A-Za-z0-9_.\-\[\]]+\s*[=<>!~]=?\s*[^\s#]+)", text, re.M)}
    assert "python=3.11" in text.replace(" ", "")
    assert pip_lines - {"python=3.11"} == wanted, (
        f"only in environment.yml: {sorted(pip_lines - wanted - {'python=3.11'})}; "
        f"only in pyproject.toml: {sorted(wanted - pip_lines)}")


def test_torch_is_pinned_to_the_cpu_wheel_everywhere():
    assert '"torch==2.13.0"' in (ROOT / "pyproject.toml").read_text()
    assert "torch==2.13.0" in (ROOT / "Makefile").read_text()
