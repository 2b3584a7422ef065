"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol: load a page, collect its console
errors and uncaught exceptions, evaluate JavaScript, take a screenshot of the first screen.

Just enough of the protocol for the report tests, over websocket-client; the
browser runs with its own temp profile on a free loopback port and is stopped
(and its profile removed) on exit.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websocket

VIEWPORT = (1440, 900)  # a laptop's first screen: what a reviewer sees without scrolling


def binary() -> str:
    """Chromium's path; CI installs it (.ci/run), so only a laptop without it skips."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run should have installed it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@dataclass
class Page:
    ws: websocket.WebSocket
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions, one line each
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def call(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer, collecting the events that arrive meanwhile."""
        call_id = next(self._ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._receive(deadline)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise TimeoutError(f"{method}: no answer in {timeout}s")

    def wait_for(self, event: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._receive(deadline).get("method") == event:
                return
        raise TimeoutError(f"no {event} in {timeout}s")

    def _receive(self, deadline: float) -> dict[str, Any]:
        self.ws.settimeout(max(deadline - time.monotonic(), 0.1))
        message = json.loads(self.ws.recv())
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(f"log: {params['entry'].get('text')} ({params['entry'].get('url', '')})")
        return message

    def open(self, url: str) -> None:
        self.errors.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


class Chromium:
    def __init__(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="opschecks-chromium-"))
        self.log = self.profile / "stderr.log"  # a file, not a pipe: an unread pipe would block a chatty browser
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                [binary(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                 "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
                 f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        self.port = self._port()

    def _port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # Chromium prints the endpoint on stderr once it listens
            match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", self.log.read_text())
            if match:
                return int(match[1])
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = self.log.read_text()[-500:]
        self.close()
        raise RuntimeError(f"chromium did not start: {tail}")

    def page(self) -> Page:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10) as response:
            target = next(t for t in json.load(response) if t["type"] == "page")
        page = Page(websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60, suppress_origin=True))
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=VIEWPORT[0], height=VIEWPORT[1], deviceScaleFactor=1,
                  mobile=False)
        return page

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
