"""The bench scripts' servers: `compasslite serve-fake` processes (each its own CPU), started
and waited for, stopped at the end."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def fake_servers(
    n: int = 1, *serve_args: str, entry: tuple[str, ...] = ("compasslite.cli", "serve-fake")
) -> Iterator[list[str]]:
    """n server processes (`python -m *entry --port P *serve_args`; default `compasslite
    serve-fake`, or `("compasslite.testing.server",)` for its fuller flags such as --choices),
    yielding their base URLs (http://127.0.0.1:PORT/v1) once each answers /health."""
    procs, urls = [], []
    try:
        for _ in range(n):
            port = free_port()
            cmd = [sys.executable, "-m", *entry, "--port", str(port), *serve_args]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}/v1")
        for url in urls:
            for _ in range(300):
                try:
                    urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
        yield urls
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
