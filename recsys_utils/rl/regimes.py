"""The lesson's two simulator regimes, one :class:`SimulatorConfig` each, calibrated offline.

* ``long-term``: what gets a film clicked now conflicts with what keeps the user. Appeal leans on
  popularity and similarity (clickbait, RecSim's interest-evolution model, Ie et al. 2019), while
  patience, the user's time budget, moves with the quality of what was watched; genre satiation
  builds up and decays (RecSim's interest evolution); the user leaves when patience runs out and
  comes back with a probability that follows end-of-session satisfaction (KuaiSim's leave and
  return models, Zhao et al. 2023).
* ``control``: the same user with the dynamics off (no satiation, constant patience, no return
  term): what is shown now no longer changes what happens later, so the myopic oracle is optimal
  and the planning room is 0.

``recsys_utils/lessons/l04_calibrate.py`` chose the long-term regime's strength on validation
users so that the lookahead oracle beats the myopic oracle by at least 25%, and wrote the
parameters with the room it measured into ``regimes.json`` beside this module (committed). The
lesson re-measures the room on its own test users.
"""

from __future__ import annotations

import json
from pathlib import Path

from .simulator import SimulatorConfig

REGIMES_FILE = Path(__file__).with_name("regimes.json")
REGIME_NAMES = ("long-term", "control")


def regime_record(path: str | Path | None = None) -> dict:
    """The calibration's whole output: parameters, the measured room, the grid it searched."""
    path = Path(path) if path is not None else REGIMES_FILE
    if not path.exists():
        raise FileNotFoundError(f"no regime file {path.name}; run `python -m recsys_utils.lessons.l04_calibrate`")
    return json.loads(path.read_text())


def load_regimes(path: str | Path | None = None) -> dict[str, SimulatorConfig]:
    """``{"long-term": config, "control": config}`` from the committed calibration."""
    record = regime_record(path)
    fields = set(SimulatorConfig.__dataclass_fields__)
    out = {}
    for name in REGIME_NAMES:
        values = record["regimes"][name]
        unknown = set(values) - fields
        if unknown:
            raise ValueError(f"regime {name!r} sets unknown SimulatorConfig fields {sorted(unknown)}; recalibrate")
        out[name] = SimulatorConfig(**values)
    return out
