"""Open the built site in a real headless Chromium (Debian's ``chromium``), on 127.0.0.1 only.

The site is served from a loopback HTTP server; Chromium is driven through the DevTools
protocol (``websocket-client``), so the check sees what a reader's browser does: every request
the page makes (any that leaves 127.0.0.1 is a failure), failed loads, images that did not
decode, script errors, and whether MathJax typeset the math. ``screenshot_site`` saves a PNG of
the front page into the build.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM_ENV = "RECSYS_CHROMIUM"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


class BrowserUnavailable(RuntimeError):
    """No Chromium on this machine (or it would not start); the message says how to install it."""


def find_chromium() -> str:
    candidate = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not candidate:
        raise BrowserUnavailable("chromium is not installed: apt-get install -y chromium "
                                 f"(or point {CHROMIUM_ENV} at a Chromium binary)")
    return candidate


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve_folder(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-error"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and (parts.hostname or "") in LOOPBACK


@dataclass
class PageReport:
    url: str
    status: int | None
    title: str = ""
    requests: list[str] = field(default_factory=list)
    off_machine: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    math_nodes: int = 0
    tex_left: int = 0
    links: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = []
        if self.status != 200:
            found.append(f"{self.url}: HTTP status {self.status}")
        found += [f"{self.url}: fetched from off the machine: {u}" for u in self.off_machine]
        found += [f"{self.url}: failed to load: {u}" for u in self.failed]
        found += [f"{self.url}: image did not load: {u}" for u in self.broken_images]
        found += [f"{self.url}: script error: {e}" for e in self.errors]
        return found


class Chromium:
    """One headless Chromium with a fresh profile, driven over the DevTools protocol."""

    def __init__(self, width: int = 1280, height: int = 1400, timeout: float = 30.0):
        import websocket  # websocket-client

        self._profile = tempfile.mkdtemp(prefix="recsys-chromium-")
        self.timeout = timeout
        self._process = subprocess.Popen(
            [find_chromium(), *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            port_file = Path(self._profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
                if self._process.poll() is not None or time.monotonic() > deadline:
                    err = self._process.stderr.read().decode(errors="replace")[-800:] if self._process.poll() is not None else ""
                    raise BrowserUnavailable(f"chromium did not start its DevTools endpoint: {err.strip() or 'timeout'}")
                time.sleep(0.05)
            port, path = port_file.read_text().splitlines()[:2]
            self._ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=timeout,
                                                   suppress_origin=True)
            self._next_id = 0
            self._events: list[dict] = []
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Network", "Runtime"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise

    # -- protocol ------------------------------------------------------------------------
    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)
        raise TimeoutError(f"DevTools {method} got no answer in {self.timeout} s")

    def send(self, method: str, params: dict | None = None) -> dict:
        return self._call(method, params, self._session)

    def _pump(self, seconds: float) -> None:
        self._ws.settimeout(seconds)
        try:
            with contextlib.suppress(Exception):
                while True:
                    self._events.append(json.loads(self._ws.recv()))
        finally:
            self._ws.settimeout(self.timeout)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        return result.get("result", {}).get("value")

    # -- pages ---------------------------------------------------------------------------
    def open(self, url: str, settle: float = 0.4) -> PageReport:
        """Load ``url``, wait for the load event and for the network to go quiet, then inspect."""
        self._events = []
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + self.timeout
        loaded = False
        while time.monotonic() < deadline and not loaded:
            self._pump(0.2)
            loaded = any(e.get("method") == "Page.loadEventFired" for e in self._events)
        quiet_since, seen = time.monotonic(), len(self._events)
        while time.monotonic() < deadline and time.monotonic() - quiet_since < settle:
            self._pump(0.1)
            if len(self._events) != seen:
                quiet_since, seen = time.monotonic(), len(self._events)
        if self.evaluate("typeof MathJax !== 'undefined' && !!MathJax.startup"):
            self.evaluate("MathJax.startup.promise.then(() => true)")
            self._pump(0.2)
        report = PageReport(url, None)
        requests: dict[str, str] = {}
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                requests[params["requestId"]] = params["request"]["url"]
                report.requests.append(params["request"]["url"])
            elif method == "Network.responseReceived":
                response = params["response"]
                if params.get("type") == "Document" and response["url"].split("#")[0] == url.split("#")[0]:
                    report.status = response["status"]
                elif response["status"] >= 400:
                    report.failed.append(f"{response['url']} (HTTP {response['status']})")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                report.failed.append(f"{requests.get(params['requestId'], '?')} ({params.get('errorText')})")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                report.errors.append(details.get("exception", {}).get("description") or details.get("text", "?"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                report.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        report.off_machine = [u for u in report.requests if not is_local(u)]
        facts = self.evaluate(
            "({title: document.title,"
            " broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.currentSrc || i.src),"
            " math: document.querySelectorAll('mjx-container').length,"
            " tex: document.querySelectorAll('.math:not(:has(mjx-container))').length,"
            " links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href)})") or {}
        report.title = facts.get("title", "")
        report.broken_images = facts.get("broken", [])
        report.math_nodes = int(facts.get("math", 0))
        report.tex_left = int(facts.get("tex", 0))
        report.links = facts.get("links", [])
        return report

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._ws.close()
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)  # chromium and the helpers it started
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
        if self._process.stderr:
            self._process.stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def screenshot_site(site: Path, target: Path) -> Path:
    """Serve ``site`` on 127.0.0.1 and save a screenshot of its front page to ``target``."""
    find_chromium()
    with serve_folder(site) as base, Chromium() as browser:
        report = browser.open(base + "index.html")
        if report.status != 200:
            raise BrowserUnavailable(f"the front page answered HTTP {report.status}")
        return browser.screenshot(target)
