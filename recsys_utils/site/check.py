"""Static checks of a built site: every resource is local, every local link resolves.

A resource (``src``, stylesheets, icons, preloads, CSS ``url(...)``) must be a relative or
loopback address: the site must never make a reader's browser fetch from another machine.
Hyperlinks (``<a href>``) may point outside (a lesson citing a paper); they are listed, not
fetched. Local links must name a file in the build, and a ``#fragment`` an id on that page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
_RESOURCE_RELS = {"stylesheet", "icon", "preload", "prefetch", "modulepreload", "manifest", "apple-touch-icon",
                  "shortcut"}


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.resources: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("name"):
            self.ids.add(values["name"])
        for name in ("src", "poster", "data"):
            if values.get(name):
                self.resources.append(values[name])
        if values.get("srcset"):
            self.resources += [part.strip().split(" ")[0] for part in values["srcset"].split(",") if part.strip()]
        href = values.get("href")
        if href:
            rel = set((values.get("rel") or "").lower().split())
            (self.resources if tag == "link" and rel & _RESOURCE_RELS else self.links).append(href)
        if values.get("style"):
            self.resources += _CSS_URL.findall(values["style"])


@dataclass
class SiteCheck:
    pages: list[Path]
    problems: list[str] = field(default_factory=list)
    outside_links: set[str] = field(default_factory=set)


def _is_remote(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in ("", "data", "mailto", "javascript")


def check_site(site: Path) -> SiteCheck:
    pages = sorted(site.rglob("*.html"))
    result = SiteCheck(pages)
    parsed: dict[Path, _Collector] = {}
    for page in pages:
        collector = _Collector()
        collector.feed(page.read_text(errors="replace"))
        parsed[page.resolve()] = collector
    site = site.resolve()
    for page, collector in parsed.items():
        where = page.relative_to(site)
        for url in collector.resources:
            if url.startswith("data:"):
                continue
            if _is_remote(url):
                result.problems.append(f"{where}: loads {url} from off the machine")
            elif not _target(page, url, site).exists():
                result.problems.append(f"{where}: missing resource {url}")
        for url in collector.links:
            if url.startswith(("mailto:", "javascript:")):
                continue
            if _is_remote(url):
                result.outside_links.add(url)
                continue
            path_part, _, fragment = url.partition("#")
            target = (_target(page, path_part, site) if path_part else page).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                result.problems.append(f"{where}: broken link {url}")
            elif fragment and target.suffix == ".html" and target in parsed and unquote(fragment) not in parsed[target].ids:
                result.problems.append(f"{where}: link {url} names no anchor on its page")
    for css in sorted(site.rglob("*.css")):
        for url in _CSS_URL.findall(css.read_text(errors="replace")):
            if url.startswith(("data:", "#")):
                continue
            if _is_remote(url):
                result.problems.append(f"{css.relative_to(site)}: loads {url} from off the machine")
            elif not _target(css, url, site).exists():
                result.problems.append(f"{css.relative_to(site)}: missing resource {url}")
    return result


def _target(page: Path, url: str, site: Path) -> Path:
    path = unquote(urlsplit(url).path)
    return (site / path.lstrip("/")) if path.startswith("/") else (page.parent / path)
