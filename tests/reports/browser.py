"""Drive Debian's headless Chromium from the standard library: the DevTools protocol over a pipe.

``--remote-debugging-pipe`` makes Chromium read protocol commands from file descriptor 3 and
write replies and events to descriptor 4, each message JSON ended by a NUL byte: no websocket,
no port, nothing to install. ``Chromium().load(url)`` opens a page in a fresh profile and
returns what a test needs: every console message, exception and log entry, every request the
page made, the page's text, and a full-page PNG screenshot.

``png_pixels`` decodes the screenshot (zlib + struct + numpy, no Pillow) so a test can count
its colours.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--hide-scrollbars", "--remote-debugging-pipe")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Page:
    url: str
    console: list = field(default_factory=list)  # (level, text) of console API calls
    exceptions: list = field(default_factory=list)  # uncaught exceptions, as text
    log: list = field(default_factory=list)  # (level, source, text, url) of Log.entryAdded
    requests: list = field(default_factory=list)  # every URL the page asked for
    failed_requests: list = field(default_factory=list)
    text: str = ""  # document.body.innerText
    screenshot: bytes = b""  # PNG

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, error log entries and failed requests."""
        out = [f"console.{level}: {text}" for level, text in self.console if level in ("error", "assert")]
        out += [f"exception: {text}" for text in self.exceptions]
        out += [f"log {source} {level}: {text} ({url})" for level, source, text, url in self.log if level == "error"]
        out += [f"request failed: {u}" for u in self.failed_requests]
        return out


class ChromiumError(RuntimeError):
    pass


class Chromium:
    """One headless Chromium process; use as a context manager."""

    def __init__(self, executable=None, width=1280, height=900, timeout=60.0):
        self.executable = executable or find_chromium()
        if not self.executable:
            raise ChromiumError("chromium not found; install it with: make browser "
                                "(apt-get install -y chromium)")
        self.width, self.height, self.timeout = width, height, timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list = []

    # -- process --------------------------------------------------------------------------
    def __enter__(self):
        self._profile = tempfile.mkdtemp(prefix="runverdict-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # descriptors 3 and 4 in the child: first moved above them (close-on-exec), then dup2'ed
        # onto them after the fork; close_fds=False, as subprocess would close 3 and 4 after preexec_fn
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def child_fds():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [self.executable, *FLAGS, f"--user-data-dir={self._profile}",
                f"--window-size={self.width},{self.height}", "about:blank"]
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self._stderr, close_fds=False,
                                        preexec_fn=child_fds)  # noqa: PLW1509 (dup2 only, async-signal-safe)
        os.close(high_r)
        os.close(high_w)
        return self

    def __exit__(self, *exc):
        try:
            if self.process.poll() is None:
                try:
                    self._send("Browser.close")
                except (OSError, ChromiumError):
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._stderr.close()
            shutil.rmtree(self._profile, ignore_errors=True)
        return False

    # -- protocol -------------------------------------------------------------------------
    def _send(self, method, params=None, session=None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._to_browser, data)
            data = data[written:]
        return self._next_id

    def _receive(self, deadline) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise ChromiumError("timed out waiting for chromium")
            import select

            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, min(1.0, deadline - time.monotonic())))
            if not ready:
                if self.process.poll() is not None:
                    self._stderr.seek(0)
                    tail = self._stderr.read()[-2000:].decode(errors="replace")
                    raise ChromiumError(f"chromium exited with {self.process.returncode}: {tail}")
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ChromiumError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None) -> dict:
        """Send a command and wait for its reply; events arriving meanwhile are kept."""
        call_id = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == call_id:
                if "error" in message:
                    raise ChromiumError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def wait_for(self, method, session=None) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and (session is None or event.get("sessionId") == session):
                    return self._events.pop(i)
            self._events.append(self._receive(deadline))

    # -- one page -------------------------------------------------------------------------
    def load(self, url, *, full_page=True) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        page = Page(url)
        page.text = self.call("Runtime.evaluate", {"expression": "document.body ? document.body.innerText : ''",
                                                   "returnByValue": True}, session=session)["result"].get("value", "")
        clip = None
        if full_page:
            size = self.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": max(1, int(size["width"])), "height": max(1, int(size["height"])),
                    "scale": 1}
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page,
                                                    "optimizeForSpeed": True,  # rows filtered "Up": fast to decode
                                                    **({"clip": clip} if clip else {})}, session=session)
        page.screenshot = base64.b64decode(shot["data"])
        self.call("Target.closeTarget", {"targetId": target})
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                page.console.append((params.get("type"), text))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                page.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                page.log.append((entry.get("level"), entry.get("source"), entry.get("text"), entry.get("url")))
            elif method == "Network.requestWillBeSent":
                page.requests.append(params.get("request", {}).get("url"))
            elif method == "Network.loadingFailed":
                page.failed_requests.append(f"{params.get('errorText')} {params.get('blockedReason', '')}".strip())
        self._events.clear()
        return page


# -- PNG ------------------------------------------------------------------------------------

def png_pixels(data: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG to a ``(height, width, channels)`` uint8 array."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(height, 1 + width * channels)
    filters, rows = raw[:, 0], raw[:, 1:].astype(np.int16)
    out = np.zeros((height, width * channels), dtype=np.uint8)
    previous = np.zeros(width * channels, dtype=np.int16)
    for y in range(height):
        line, f = rows[y], filters[y]
        if f == 0:
            current = line
        elif f == 1:
            current = _unsub(line, channels)
        elif f == 2:
            current = (line + previous) & 0xFF
        elif f == 3:
            current = _unaverage(line, previous, channels)
        elif f == 4:
            current = _unpaeth(line, previous, channels)
        else:
            raise ValueError(f"bad PNG filter {f} on row {y}")
        out[y] = current
        previous = current.astype(np.int16)
    return out.reshape(height, width, channels)


def _unsub(line, bpp):
    pixels = line.reshape(-1, bpp).astype(np.int64)
    return (np.cumsum(pixels, axis=0) & 0xFF).reshape(-1).astype(np.int16)


def _unaverage(line, up, bpp):
    out = np.zeros_like(line)
    left = np.zeros(bpp, dtype=np.int16)
    line, up = line.reshape(-1, bpp), up.reshape(-1, bpp)
    result = out.reshape(-1, bpp)
    for x in range(line.shape[0]):
        left = (line[x] + ((left + up[x]) >> 1)) & 0xFF
        result[x] = left
    return out


def _unpaeth(line, up, bpp):
    out = np.zeros_like(line)
    line, up = line.reshape(-1, bpp), up.reshape(-1, bpp)
    result = out.reshape(-1, bpp)
    left = np.zeros(bpp, dtype=np.int16)
    up_left = np.zeros(bpp, dtype=np.int16)
    for x in range(line.shape[0]):
        b = up[x]
        p = left + b - up_left
        pa, pb, pc = np.abs(p - left), np.abs(p - b), np.abs(p - up_left)
        predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, b, up_left))
        left = (line[x] + predictor) & 0xFF
        result[x] = left
        up_left = b
    return out
