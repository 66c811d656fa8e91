"""A headless Chromium driven through the Chrome DevTools Protocol, with no driver binary.

    with Browser.start() as b:          # raises BrowserMissing (with the reason) if there is none
        b.open("file:///.../index.html")
        title = b.evaluate("document.title")

Only `websocket-client` (already a Jupyter dependency) is needed on the Python side. The browser is
started with a fresh profile and every outside host mapped to "not found", so pages load fast and the
same way on a machine without network (CDN scripts fail at once instead of hanging).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"


class BrowserMissing(Exception):
    """No usable Chromium: the message says why (shown by callers as a one-line skip reason)."""


class BrowserError(Exception):
    """The browser misbehaved: a page did not load, a script threw, the protocol timed out."""


def find_chromium() -> str | None:
    """The Chromium binary: $CHROMIUM if set, else the first of the usual names on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page (tab) attached over a WebSocket."""

    def __init__(self, proc: subprocess.Popen, profile: str, ws, log: Path):
        self.proc, self.profile, self.ws, self.log = proc, profile, ws, log
        self.next_id = 0
        self.events: list[dict] = []

    @classmethod
    def start(cls, offline: bool = True, timeout: float = 30.0) -> "Browser":
        binary = find_chromium()
        if binary is None:
            raise BrowserMissing("no Chromium found (looked for $CHROMIUM, " + ", ".join(CANDIDATES) + ")")
        try:
            import websocket  # websocket-client
        except ImportError as e:
            raise BrowserMissing(f"the Python package websocket-client is missing ({e})") from e
        profile = tempfile.mkdtemp(prefix="course-chromium-")
        log = Path(profile) / "chromium.log"
        args = [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0"]
        if offline:
            args.append(OFFLINE)
        args.append("about:blank")
        with open(log, "wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                shutil.rmtree(profile, ignore_errors=True)
                raise BrowserMissing(f"{binary} did not start (exit {proc.poll()}): {tail.strip()}")
            time.sleep(0.05)
        port = int(port_file.read_text().split("\n")[0])
        page_ws = None
        while page_ws is None:
            try:
                import urllib.request

                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    targets = json.load(r)
                page_ws = next((t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"), None)
            except OSError:
                pass
            if page_ws is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise BrowserMissing(f"{binary} started but offered no page to drive")
                time.sleep(0.1)
        ws = websocket.create_connection(page_ws, timeout=timeout, suppress_origin=True)
        b = cls(proc, profile, ws, log)
        b.call("Page.enable")
        b.call("Runtime.enable")
        return b

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _recv(self, deadline: float) -> dict:
        import websocket

        self.ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            return json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException as e:
            raise BrowserError("the browser did not answer in time") from e

    def call(self, method: str, timeout: float = 30.0, **params) -> dict:
        """Sends one protocol command and returns its result (events that arrive meanwhile are kept)."""
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = self._recv(deadline)
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        """Waits for the next event named `method` (one already received counts)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise BrowserError(f"no {method} within {timeout:.0f} s")
            msg = self._recv(deadline)
            if "method" in msg:
                self.events.append(msg)

    def open(self, url: str, timeout: float = 30.0) -> None:
        """Loads `url` and waits for its load event; script errors thrown while loading are kept."""
        self.events.clear()
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"{url} did not load: {result['errorText']}")
        self.wait_event("Page.loadEventFired", timeout)

    def exceptions(self) -> list[str]:
        """Uncaught script exceptions seen since the last `open`."""
        out = []
        for e in self.events:
            if e["method"] == "Runtime.exceptionThrown":
                d = e["params"]["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        return out

    def evaluate(self, expression: str, timeout: float = 30.0):
        """Evaluates a JavaScript expression in the page (promises awaited) and returns its value."""
        r = self.call("Runtime.evaluate", timeout=timeout, expression=expression,
                      returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError("script failed: " + (d.get("exception", {}).get("description") or d.get("text", "")))
        return r.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, poll: float = 0.1):
        """Polls a JavaScript expression until it is truthy and returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout:.0f} s waiting for: {expression[:120]}")
            time.sleep(poll)
