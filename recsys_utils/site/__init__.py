"""The course website: executed lessons, headline findings with intervals, built offline.

``python -m recsys_utils.report`` (called by the runner after the lessons, and by
``make report``) writes ``REPORT.md``, the appendix and ``environment.json``, then calls
:func:`build_site`, which turns the recorded results into MyST pages and builds them with
Sphinx into ``reports/site/``.

Why Sphinx + myst-nb + sphinx-book-theme, and not Jupyter Book 2 (tried, 2026-12-01):

- **Jupyter Book 2.1.7** (the MyST/Node engine) installs from PyPI, but ``jupyter-book build
  --html`` first queries a web service for its ``book-theme`` template and downloads it; with
  only the package registries reachable it stops there ("getaddrinfo ENOTFOUND"), so it cannot
  build on this machine, in CI or for an offline reader.
- **Sphinx 9.0.4 + myst-nb 1.4.0 + sphinx-book-theme 1.4.0** are pure Python wheels pinned in
  the ``dev`` extra; myst-nb renders the executed ``.ipynb`` files with execution off, so
  the site shows exactly what the papermill run produced. Their one outside fetch is MathJax
  from a CDN: :mod:`recsys_utils.site.mathjax` vendors the npm package ``mathjax@3.2.2``
  (``npm pack`` at build time into the git-ignored ``build/vendor/``, sha256-checked) into
  the site, and the build's static check and the headless-Chromium test fail on any request
  that leaves 127.0.0.1.

Modules: ``numbers`` (digits, intervals, ``p ≤ 2/(N+1)``), ``content`` (readers of the results
JSON), ``pages`` (MyST sources), ``mathjax``, ``build`` (Sphinx), ``check`` (static link check),
``browser`` (loopback server, Chromium over the DevTools protocol, screenshot).
"""

from __future__ import annotations

__all__ = ["build_site"]


def build_site(*args, **kwargs):
    """Lazy: importing ``recsys_utils.site.numbers`` from a lesson must not import Sphinx."""
    from .build import build_site as build

    return build(*args, **kwargs)
