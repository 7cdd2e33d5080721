"""Atomic writes and checksums: a crash never leaves a half-written file behind."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside ``target``; move it into place only on success.

    The rename is atomic on POSIX and Windows when both paths are on one file system,
    which holds because the temporary file lives in the target's folder.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj: Any, sort_keys: bool = True) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=sort_keys, default=_json_default)
    return atomic_write_text(target, text + "\n")


def atomic_write_with(target: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Let ``writer`` fill a temporary path (e.g. ``df.to_parquet``), then move it into place."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays appear in metrics; JSON has no type for them.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in JSON: {value!r}")


def tree_digest(paths: list[str | os.PathLike], skip: tuple[str, ...] = ()) -> str:
    """sha256 over every file under ``paths`` (relative name, size and contents, in sorted order):
    what a cache keyed on "these inputs, byte for byte" needs. Folders named in ``skip`` and
    symbolic links are left out; a missing path counts as empty."""
    digest = hashlib.sha256()
    for root in map(Path, paths):
        files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                       and not _in_skipped(p.relative_to(root), skip)) if root.is_dir() else []
        digest.update(f"{root.name}\0{len(files)}\0".encode())
        for path in files:
            digest.update(f"{path.relative_to(root).as_posix()}\0{path.stat().st_size}\0".encode())
            digest.update(bytes.fromhex(sha256_file(path)))
    return digest.hexdigest()


def _in_skipped(relative: Path, skip: tuple[str, ...]) -> bool:
    return any(part in skip for part in relative.parts[:-1])
