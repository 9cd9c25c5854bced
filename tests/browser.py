"""A small driver for headless Chromium over the Chrome DevTools Protocol (aiohttp websocket).

Used by the browser tests and bench/report.py; no selenium or playwright. Debian's package
is `chromium`; tests skip where it is absent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class CDPError(RuntimeError):
    pass


class Page:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: dict[str, list[asyncio.Future[Any]]] = {}
        self._reader = asyncio.create_task(self._read())
        self.console: list[str] = []
        self.exceptions: list[str] = []

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = msg.json()
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    if "error" in data:
                        fut.set_exception(CDPError(str(data["error"])))
                    else:
                        fut.set_result(data.get("result", {}))
                continue
            method = data.get("method", "")
            if method == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                self.exceptions.append(
                    str(details.get("exception", {}).get("description") or details.get("text"))
                )
            elif method == "Runtime.consoleAPICalled":
                args = data["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            for fut in self._events.pop(method, []):
                if not fut.done():
                    fut.set_result(data.get("params", {}))

    async def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> Any:
        msg_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self.ws.send_json({"id": msg_id, "method": method, "params": params or {}})
        return await asyncio.wait_for(fut, timeout)

    def event(self, method: str) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._events.setdefault(method, []).append(fut)
        return fut

    async def navigate(self, url: str, timeout: float = 120) -> None:
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        loaded = self.event("Page.loadEventFired")
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"cannot open {url}: {result['errorText']}")
        await asyncio.wait_for(loaded, timeout)

    async def evaluate(self, expression: str, timeout: float = 60) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(str(details.get("exception", {}).get("description") or details.get("text")))
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll until `expression` is truthy; its value is returned."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {expression}")
            await asyncio.sleep(0.1)

    async def click(self, selector: str) -> None:
        ok = await self.evaluate(
            f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return false; e.click(); return true; }})()"
        )
        if not ok:
            raise CDPError(f"nothing matches {selector}")

    async def set_value(self, selector: str, value: str, event: str = "change") -> None:
        ok = await self.evaluate(
            f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return false; e.value = {value!r}; "
            f"e.dispatchEvent(new Event({event!r})); return e.value === {value!r}; }})()"
        )
        if not ok:
            raise CDPError(f"cannot set {selector} to {value!r}")

    async def screenshot(
        self, path: Path, width: int = 1280, height: int = 900, full_page: bool = False
    ) -> Path:
        if full_page:
            height = int(await self.evaluate("Math.min(document.documentElement.scrollHeight, 4000)"))
        await self.send("Emulation.setDeviceMetricsOverride",
                        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self.ws.close()


class Browser:
    """`async with Browser() as b: page = await b.new_page()`: a headless Chromium of our own
    (its own profile directory), stopped on exit."""

    def __init__(self, profile: Path | None = None):
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.session: aiohttp.ClientSession | None = None
        self.pages: list[Page] = []

    async def __aenter__(self) -> Browser:
        exe = chromium_path()
        if exe is None:
            raise RuntimeError("chromium is not installed")
        if self.profile is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="compasslite-chromium-")
            self.profile = Path(self._tmp.name)
        self.profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
             "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-dev-shm-usage", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if port_file.is_file():
                lines = port_file.read_text().split("\n")
                if lines and lines[0].strip().isdigit():
                    self.port = int(lines[0])
                    break
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self.proc.returncode}")
            await asyncio.sleep(0.05)
        else:
            self._kill()
            raise RuntimeError("chromium did not write DevToolsActivePort within 60 s")
        self.session = aiohttp.ClientSession()
        return self

    async def new_page(self) -> Page:
        assert self.session is not None
        async with self.session.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as resp:
            target = await resp.json(content_type=None)
        ws = await self.session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        page = Page(ws)
        self.pages.append(page)
        return page

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    async def __aexit__(self, *exc: object) -> None:
        for page in self.pages:
            with contextlib.suppress(Exception):
                await page.close()
        if self.session is not None:
            await self.session.close()
        self._kill()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
