"""Running an aiohttp service on its own event loop in a background thread (the built-in
server and the fault proxy): `start()`/`stop()`, or a `with` block."""

from __future__ import annotations

import asyncio
import threading
from typing import TypeVar

from aiohttp import web

S = TypeVar("S", bound="BackgroundService")


class BackgroundService:
    """Subclasses set `_thread_name` and define `_start_async()` (bind and listen) and
    `_stop_async()` (clean up); both run on the service's own loop."""

    _thread_name = "compasslite-service"

    def _init_background(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    async def _start_async(self) -> None:
        raise NotImplementedError

    @staticmethod
    async def _listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
        """Serve `app` on host:port (0: any free port); the runner and the port it got. A client
        that disconnects (killed, timed out) cancels its handler, as in vLLM."""
        runner = web.AppRunner(app, access_log=None, handle_signals=False, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        return runner, (sockets[0].getsockname()[1] if sockets else port)

    async def _stop_async(self) -> None:
        raise NotImplementedError

    def start(self: S) -> S:
        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start_async())
            self._started.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name=self._thread_name, daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError(f"{self._thread_name} did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
