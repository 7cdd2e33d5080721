"""MathJax served from the site itself, never from a CDN.

Sphinx's default ``mathjax_path`` is a CDN address, so a reader offline (or the headless-browser
test) would see raw TeX and the page would reach off the machine. The npm package ``mathjax``
v3 (its CommonHTML fonts ship inside the package; v4 loads its font from a separate package or
a CDN) is declared once in ``recsys_utils.assets`` as the asset ``mathjax``: ``npm pack`` fetches
it at install time (``python -m recsys_utils.assets fetch``, the Makefile's venv step) into
``data/offline/``, sha256-checked, or on the first site build when missing. The files the
pages need (about 3 MB) are copied into the site's ``_static/mathjax/``. Nothing is committed.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from .. import assets

ASSET = "mathjax"
ENTRY = "tex-chtml.js"
# The TeX-to-CommonHTML bundle, its fonts, the TeX extensions it autoloads, and the menu's
# accessibility parts it loads on demand. The speech-rule engine (``sre/``, 20 MB) is left out.
KEEP = ("es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/", "es5/input/tex/extensions/", "es5/ui/", "es5/a11y/")


class MathJaxUnavailable(RuntimeError):
    """The asset is missing and could not be fetched; the message says what to do."""


def spec() -> str:
    return assets.get_asset(ASSET).spec


def tarball() -> Path:
    """The verified ``npm pack`` tarball, fetched when missing unless ``RECSYS_OFFLINE`` is set."""
    try:
        return assets.ensure(ASSET)
    except (assets.AssetMissing, assets.FetchFailed, assets.OfflineError) as problem:
        raise MathJaxUnavailable(f"{spec()} unavailable: {problem}") from None


def install(static_dir: Path) -> Path:
    """Copy MathJax into ``static_dir/mathjax`` and return the entry script's path."""
    target = static_dir / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    with tarfile.open(tarball()) as archive:
        for member in archive.getmembers():
            relative = member.name.removeprefix("package/")
            if not (member.isfile() and any(relative.startswith(k) for k in KEEP)):
                continue
            out = target / relative.removeprefix("es5/")
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, open(out, "wb") as sink:
                shutil.copyfileobj(source, sink)
        license_file = archive.extractfile("package/LICENSE")
        if license_file is not None:
            (target / "LICENSE").write_bytes(license_file.read())
    return target / ENTRY
