"""The course website, built from a small results folder and opened in a real headless Chromium.

Cost: the site is built once for the module from the synthetic lesson 90 (no execution) plus
one real executed lesson, 01 in the smoke profile, taken from the session's ``lesson_results``
fixture (free when tests/test_lesson_01_data.py already ran it, about 12 s otherwise). The
Sphinx build takes about 10-15 s, the browser pass a few seconds; the first run on a machine
also fetches mathjax@3.2.2 with npm pack (6 MB, cached in build/vendor/).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import struct

import pytest

from recsys_utils import report
from recsys_utils.site.check import check_site
from tests.site_fixtures import INJECTED, STEM, write_synthetic_lesson

pytestmark = [pytest.mark.slow, pytest.mark.notebook]
REAL = "01_data_preparation"
PAGES = ("index.html", "figures.html", "methods.html", "limitations.html", "environment.html", "appendix.html",
         f"lessons/{REAL}.html", f"lessons/{STEM}.html")


@pytest.fixture(scope="module")
def built(lesson_results, smoke_reports_dir, tmp_path_factory):
    lesson_results(REAL)
    reports = tmp_path_factory.mktemp("site-reports")
    for sub, name in (("results", f"{REAL}.json"), ("notebooks", f"{REAL}.ipynb")):
        (reports / sub).mkdir(exist_ok=True)
        shutil.copyfile(smoke_reports_dir / sub / name, reports / sub / name)
    shutil.copytree(smoke_reports_dir / "figures" / REAL, reports / "figures" / REAL)
    logs: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECSYS_REPORTS_DIR", str(reports))
        write_synthetic_lesson(reports)
        paths = report.build_report(profile="smoke", timings={REAL: 12.3, STEM: 1.25}, log=logs.append)
    return reports / "site", paths, logs


def _text(site, page):
    """The page with entities decoded (Sphinx writes ``@`` as ``&#64;``); markup stays markup."""
    return html.unescape((site / page).read_text())


def test_site_builds_cleanly_with_every_page(built):
    site, paths, logs = built
    assert paths["site"] == site / "index.html"
    assert any(line.startswith("site: 2 lesson(s)") and "0 Sphinx warning(s)" in line for line in logs), logs
    assert "math not vendored" not in " ".join(logs)
    for page in PAGES:
        assert (site / page).exists(), page


def test_every_resource_is_local_and_every_link_resolves(built):
    site, _, _ = built
    checked = check_site(site)
    assert len(checked.pages) >= len(PAGES)
    assert checked.problems == []


def test_front_page_shows_headlines_with_interval_and_protocol_escaped(built):
    site, _, _ = built
    raw = (site / "index.html").read_text()
    assert INJECTED not in raw and "&lt;script&gt;alert('x')&lt;/script&gt;" in raw  # shown as text
    page = _text(site, "index.html")
    assert "EASE beats random on nDCG@10: the interval of the difference excludes 0." in page
    assert "<strong>0.301</strong> (95% CI 0.282 to 0.336)" in page
    assert "temporal holdout, 142 test users, paired bootstrap" in page
    real = json.loads((site.parent / "results" / f"{REAL}.json").read_text()).get("headlines", [])
    if real:  # a lesson's own headlines reach the front page
        assert real[0]["text"] in page
    else:  # a lesson without any is said, not hidden
        assert "recorded no headline finding" in page


def test_figures_are_numbered_and_captioned_never_by_file_name(built):
    site, _, _ = built
    page = _text(site, "figures.html")
    assert "Figure 1:" in page and "nDCG@10 of EASE and random, 95% bootstrap intervals." in page
    assert "Recall at K" in page and ">recall_at_k<" not in page and "recall_at_k.png</" not in page


def test_appendix_tables_show_p_values_as_bounds_and_files_download(built):
    site, _, _ = built
    page = _text(site, "appendix.html")
    assert "≤ 2/5001" in page and "≤ 2×2/5001" in page and "0.031" in page
    downloads = sorted(p.name for p in (site / "_downloads").rglob("*") if p.is_file())
    assert downloads == ["environment.json", "metrics.csv", "metrics.json"]
    env = _text(site, "environment.html")
    assert "ab" * 32 in env and "pip package recbole==1.2.1" in env and "12.3" in env
    assert "p ≤ 2/(N+1)" in _text(site, "methods.html")


def _chromium_or_skip():
    from recsys_utils.site.browser import BrowserUnavailable, find_chromium

    try:
        return find_chromium()
    except BrowserUnavailable as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must open the site in a real browser: {missing}")
        pytest.skip(str(missing))


def test_every_page_opens_in_headless_chromium_without_leaving_the_machine(built):
    _chromium_or_skip()
    from recsys_utils.site.browser import Chromium, serve_folder

    site, _, _ = built
    pages = [p.relative_to(site).as_posix() for p in check_site(site).pages]
    reports = {}
    with serve_folder(site) as base, Chromium() as browser:
        for page in pages:
            reports[page] = browser.open(base + page)
    problems = [problem for r in reports.values() for problem in r.problems]
    assert problems == []
    assert all(r.requests for r in reports.values())
    lesson = reports[f"lessons/{STEM}.html"]
    assert lesson.math_nodes >= 2 and lesson.tex_left == 0  # MathJax (vendored) typeset both formulas
    assert reports["index.html"].title.startswith("Build a movie recommender")


def test_front_page_screenshot_is_saved_in_the_build(built):
    _chromium_or_skip()
    _, paths, _ = built
    png = paths["screenshot"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 1400) and len(png) > 20_000  # a rendered page, not a blank one
