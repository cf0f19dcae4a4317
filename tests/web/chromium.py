"""Headless Chromium (the Debian package) driven over the DevTools protocol on a pipe: no npm, no websockets.

`--remote-debugging-pipe` makes Chromium read NUL-terminated JSON commands from fd 3 and write replies and
events to fd 4. That is enough to open a page, evaluate JavaScript in it (visibility checks on the real
layout) and take a full-page screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str:
    """The browser binary; with CI=true a missing browser fails the test instead of skipping it."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    reason = "chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)
    raise AssertionError("unreachable")


class Browser:
    def __init__(self, executable: str, *, width: int = 1280, height: int = 900) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Chromium expects its command pipe on fd 3 and its reply pipe on fd 4 (see _pipes_to_3_and_4).
        self._proc = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--user-data-dir={self._profile.name}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=_pipes_to_3_and_4(to_browser_r, from_browser_w),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._buffer = b""
        self._session: str | None = None
        self._events: list[dict[str, Any]] = []
        """Events that arrived while a command waited for its reply (`event` hands them out)."""
        self._loads: list[dict[str, Any]] = []

    # --- protocol ------------------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("method") == "Page.loadEventFired":
                self._loads.append(reply)  # kept for _loaded: a load may overtake the reply that caused it
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def event(self, method: str, timeout: float) -> dict[str, Any] | None:
        """The next event named `method` (earlier ones of other names are dropped), or None after `timeout`."""
        while True:
            for index, message in enumerate(self._events):
                if message["method"] == method:
                    del self._events[: index + 1]
                    return message
            self._events.clear()
            message = self._read(timeout)
            if message is None:
                return None
            if "method" in message:
                self._events.append(message)

    def _read(self, timeout: float | None = None) -> Any:
        """The next message; None if `timeout` seconds pass first (no timeout: wait for it)."""
        while b"\0" not in self._buffer:
            if timeout is not None and not select.select([self._from_browser], [], [], timeout)[0]:
                return None
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium exited ({self._proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    # --- page helpers ----------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=self._session)
        self._loads.clear()
        self.send("Page.navigate", {"url": url}, session=self._session)
        self._loaded()  # the load event: the page has no scripts, so load means rendered

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=self._session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released at the element's centre, scrolled into view first), then
        wait for the page it navigates to to load (a form submit, a link)."""
        box = self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        self._loads.clear()
        for kind in ("mousePressed", "mouseReleased"):
            event = {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1}
            self.send("Input.dispatchMouseEvent", event, session=self._session)
        self._loaded()

    def type_into(self, selector: str, text: str) -> None:
        """Focus the element and type `text` as keyboard input would."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text}, session=self._session)

    def _loaded(self) -> None:
        while True:
            message = self._loads.pop(0) if self._loads else self._read()
            if message.get("method") == "Page.loadEventFired" and message.get("sessionId") == self._session:
                return

    def screenshot(self, path: Path) -> None:
        shot = self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=self._session
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # the browser may already be gone
            self.send("Browser.close")
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.close()


def _pipes_to_3_and_4(read_end: int, write_end: int) -> Any:
    def setup() -> None:  # runs in the child between fork and exec
        # Move both ends out of the way first: either may itself be fd 3 or 4.
        high_read = fcntl.fcntl(read_end, fcntl.F_DUPFD, 10)
        high_write = fcntl.fcntl(write_end, fcntl.F_DUPFD, 10)
        os.dup2(high_read, 3)
        os.dup2(high_write, 4)

    return setup


@contextlib.contextmanager
def page_server(html: str) -> Iterator[int]:
    """One page served on 127.0.0.1 (any path) from a thread; yields its port. For pages a test's browser must
    load from an origin of their own (a host page, another site)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
