"""A small W3C WebDriver client over HTTP (standard library only), for tests that drive a real
headless browser: Debian's chromium through its chromedriver.

Why not selenium: measured on this machine, one whole session (start chromedriver and
chromium, load a page, read the DOM, take a screenshot, quit) took 1.4-1.6 s with this client
and 1.0-1.2 s with selenium 4.51 and the same flags: the browser's start dominates both, and
the test runs one session. Selenium would add a test dependency, and its driver manager looks
for drivers on the network when none is given; the protocol needed here is a dozen endpoints.

Chromium's flags are the ones known to work on this machine's closed network: without the
background-networking ones it keeps trying to reach its vendor's hosts.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Callable

__all__ = ["Browser", "find_browser", "CHROME_FLAGS"]

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000"]
START_TIMEOUT_S = 30.0


def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None when either is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriverError(AssertionError):
    """A WebDriver command failed (the driver's error and message)."""


class Browser:
    """One chromedriver and one headless chromium session; use as a context manager (both
    end, and their OS processes are reaped, on exit)."""

    def __init__(self, chromium: str, driver: str, workdir: str | None = None) -> None:
        self.chromium, self.driver = chromium, driver
        self.profile = tempfile.mkdtemp(prefix="wt-chrome-", dir=workdir)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.session = ""

    # -- life ----------------------------------------------------------------------------
    def __enter__(self) -> Browser:
        self.proc = subprocess.Popen([self.driver, f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if self._call("GET", "/status")["value"].get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if time.monotonic() > deadline:
                self.close()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.05)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": self.chromium,
                                   "args": CHROME_FLAGS + [f"--user-data-dir={self.profile}"]}}}}
        try:
            self.session = self._call("POST", "/session", caps)["value"]["sessionId"]
        except Exception:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """End the session and the driver (the driver ends its browser)."""
        if self.session:
            try:
                self._call("DELETE", f"/session/{self.session}")
            except (OSError, WebDriverError):
                pass
            self.session = ""
        if self.proc is not None:
            try:
                self._call("GET", "/shutdown")      # quicker than a signal (measured)
            except (OSError, WebDriverError):
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
            self.proc = None
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- protocol ------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                value = json.loads(exc.read()).get("value", {})
            except ValueError:
                value = {}
            raise WebDriverError(f"{method} {path}: {value.get('error')}: "
                                 f"{str(value.get('message', ''))[:300]}") from None

    def _s(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)["value"]

    # -- what tests use ------------------------------------------------------------------
    def get(self, url: str) -> None:
        """Load ``url`` (blocks until the page's load event)."""
        self._s("POST", "/url", {"url": url})

    def script(self, code: str, *args: Any) -> Any:
        """Run ``code`` (a function body: ``return ...``) in the page; its value."""
        return self._s("POST", "/execute/sync", {"script": code, "args": list(args)})

    def text(self, css: str) -> str:
        """The visible text of the first element matching ``css`` ('' when none)."""
        return self.script("const e = document.querySelector(arguments[0]);"
                           "return e ? e.innerText : '';", css) or ""

    def click(self, css: str) -> None:
        """Click the first element matching ``css``."""
        el = self._s("POST", "/element", {"using": "css selector", "value": css})
        ref = next(iter(el.values()))
        self._s("POST", f"/element/{ref}/click", {})

    def wait(self, pred: Callable[[], Any], timeout: float = 20.0, what: str = "the page") -> Any:
        """Poll ``pred`` until it returns something truthy; fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = pred()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.1)

    def screenshot(self, path: str) -> str:
        """Save a PNG of the viewport at ``path``; returns ``path``."""
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(self._s("GET", "/screenshot")))
        return path

    def full_screenshot(self, path: str) -> str:
        """Save a PNG of the whole page, beyond the viewport (Chrome's DevTools command
        through chromedriver), at ``path``; returns ``path``."""
        shot = self._s("POST", "/goog/cdp/execute", {
            "cmd": "Page.captureScreenshot", "params": {"format": "png",
                                                        "captureBeyondViewport": True}})
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(shot["data"]))
        return path
