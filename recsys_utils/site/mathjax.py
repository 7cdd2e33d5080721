"""MathJax served from the site itself, never from a CDN.

Sphinx's default ``mathjax_path`` is a CDN address, so a reader offline (or the headless-browser
test) would see raw TeX and the page would reach off the machine. The npm package ``mathjax``
(v3: its CommonHTML fonts ship inside the package; v4 loads its font from a separate package
or a CDN) is fetched once with ``npm pack`` into ``build/vendor/`` (git-ignored), checked
against the sha256 pinned here, and the files the pages need (about 3 MB) are copied into the
site's ``_static/mathjax/``. Nothing of it is committed.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ..fileio import sha256_file
from ..paths import PROJECT_ROOT

MATHJAX_SPEC = "mathjax@3.2.2"
MATHJAX_TARBALL = "mathjax-3.2.2.tgz"
MATHJAX_SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
ENTRY = "tex-chtml.js"
# The TeX-to-CommonHTML bundle, its fonts, the TeX extensions it autoloads, and the menu's
# accessibility parts it loads on demand. The speech-rule engine (``sre/``, 20 MB) is left out.
KEEP = ("es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/", "es5/input/tex/extensions/", "es5/ui/", "es5/a11y/")


class MathJaxUnavailable(RuntimeError):
    """npm is missing or the package could not be fetched; the message says what to do."""


def vendor_dir() -> Path:
    return PROJECT_ROOT / "build" / "vendor"


def tarball(fetch: bool = True) -> Path:
    """The verified ``npm pack`` tarball, fetched when missing (``fetch=False``: raise instead)."""
    path = vendor_dir() / MATHJAX_TARBALL
    if not path.exists():
        if not fetch:
            raise MathJaxUnavailable(f"{path} is missing; build the site once with npm available to fetch {MATHJAX_SPEC}")
        npm = shutil.which("npm")
        if npm is None:
            raise MathJaxUnavailable(
                f"npm is not installed, so {MATHJAX_SPEC} cannot be fetched for the site's math; "
                "install Node.js/npm (apt-get install npm) or place the tarball at " + str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            done = subprocess.run([npm, "pack", MATHJAX_SPEC, "--silent", "--pack-destination", tmp],
                                  capture_output=True, text=True, timeout=300, check=False)
            fetched = Path(tmp) / MATHJAX_TARBALL
            if done.returncode != 0 or not fetched.exists():
                raise MathJaxUnavailable(f"npm pack {MATHJAX_SPEC} failed: {(done.stderr or done.stdout).strip()[:500]}")
            fetched.replace(path)
    digest = sha256_file(path)
    if digest != MATHJAX_SHA256:
        path.unlink()
        raise MathJaxUnavailable(f"{MATHJAX_TARBALL} has sha256 {digest}, expected {MATHJAX_SHA256}; "
                                 "the damaged file was removed, build again to fetch it anew")
    return path


def install(static_dir: Path, fetch: bool = True) -> Path:
    """Copy MathJax into ``static_dir/mathjax`` and return the entry script's path."""
    target = static_dir / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    with tarfile.open(tarball(fetch)) as archive:
        members = [m for m in archive.getmembers()
                   if m.isfile() and any(m.name.removeprefix("package/").startswith(k) for k in KEEP)]
        for member in members:
            relative = member.name.removeprefix("package/es5/")
            out = target / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, open(out, "wb") as sink:
                shutil.copyfileobj(source, sink)
        license_member = archive.extractfile("package/LICENSE")
        if license_member is not None:
            (target / "LICENSE").write_bytes(license_member.read())
    return target / ENTRY
