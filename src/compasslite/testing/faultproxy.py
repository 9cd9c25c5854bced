"""A fault-injecting HTTP proxy in front of an OpenAI-compatible server (tests, bench).

It forwards every request to `upstream` (the built-in FakeServer, a vLLM, ...) and, per
request, from a seeded RNG (a draw that depends on the seed, the prompt and how often it
was asked, so concurrency does not change which requests fail), injects one of:

  error_500 / error_502 / error_503   a 5xx reply with an error body (not forwarded)
  rate_429                            429 without Retry-After (not forwarded)
  rate_429_retry_after                429 with `Retry-After: retry_after_s` (not forwarded)
  drop                                the connection is closed before any reply (not forwarded)
  stall                               no reply for `stall_s` (not forwarded; set it longer
                                      than the client's timeout)
  truncated                           forwarded; the upstream's reply is cut in half and the
                                      connection closed: the upstream did the work, the client
                                      never sees it (each one is a duplicate upstream request)
  empty                               a 200 with an empty body (not forwarded)

`HEAVY_MIX` is the mix of issue 11 (20% 5xx, 10% 429, 5% drops, 3% stalls, 2% truncated,
2% empty). `fail_prompts` makes some prompts fail with a 500 on every attempt (a server that
is broken for them), `fault_for` overrides the draw per request (scripted phases).

The proxy counts what it saw: requests in flight and their maximum (what adaptive
concurrency is judged by), arrival times, injected faults by kind, forwarded requests, and
`lost_upstream_replies` (replies the upstream produced that the proxy destroyed).

    with FakeServer(policy) as upstream, FaultProxy(upstream.base_url, rates=HEAVY_MIX) as proxy:
        ... point the client at proxy.base_url ...
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from .background import BackgroundService
from .server import error_response, prompt_key

PROXY_FAULT_KINDS = (
    "error_500",
    "error_502",
    "error_503",
    "rate_429",
    "rate_429_retry_after",
    "drop",
    "stall",
    "truncated",
    "empty",
)

# Issue 11's mix: 20% 5xx, 10% 429 (half with Retry-After), 5% dropped connections, 3% stalls,
# 2% truncated bodies, 2% empty bodies.
HEAVY_MIX: dict[str, float] = {
    "error_500": 0.07, "error_502": 0.06, "error_503": 0.07, "rate_429": 0.05, "rate_429_retry_after": 0.05,
    "drop": 0.05, "stall": 0.03, "truncated": 0.02, "empty": 0.02,
}  # fmt: skip

FaultChooser = Callable[[str, int], str | None]  # (prompt, request number) -> kind or None


class FaultProxy(BackgroundService):
    """Run in a background thread: `start()`/`stop()` or as a context manager."""

    _thread_name = "compasslite-fault-proxy"

    def __init__(
        self,
        upstream: str,
        *,
        rates: dict[str, float] | None = None,
        seed: int = 0,
        stall_s: float = 30.0,
        retry_after_s: float = 0.2,
        fail_prompts: set[str] | Callable[[str], bool] | None = None,
        fault_for: FaultChooser | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.upstream = upstream.rstrip("/")
        if self.upstream.endswith("/v1"):
            self.upstream = self.upstream[: -len("/v1")]
        self.rates = dict(rates or {})
        unknown = set(self.rates) - set(PROXY_FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}; known: {PROXY_FAULT_KINDS}")
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates sum to more than 1")
        self.stall_s = stall_s
        self.retry_after_s = retry_after_s
        self.fail_prompts = fail_prompts
        self.fault_for = fault_for
        self.host = host
        self.port = port
        self.seed = seed
        self._attempts: Counter[str] = Counter()  # prompt -> requests seen
        self._lock = threading.Lock()
        # What the proxy saw (read them from the test thread under `lock` or via stats()).
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []  # time.monotonic() of each completion request's arrival
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self.lost_upstream_replies = 0
        self._init_background()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # ----------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def _start_async(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completion)
        app.router.add_post("/v1/completions", self._completion)
        app.router.add_route("*", "/{tail:.*}", self._passthrough)
        # A client that gives up (timeout) cancels its handler, and so the upstream request.
        self._runner, self.port = await self._listen(app, self.host, self.port)

    async def _stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # ------------------------------------------------------------- counters
    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "injected": dict(self.injected),
                "forwarded": self.forwarded,
                "lost_upstream_replies": self.lost_upstream_replies,
            }

    def reset_max_in_flight(self) -> None:
        """Start measuring the maximum in flight afresh (from those in flight now)."""
        with self._lock:
            self.max_in_flight = self.in_flight

    def set_rates(self, rates: dict[str, float]) -> None:
        """Change the fault mix while the proxy runs (scripted phases)."""
        with self._lock:
            self.rates = dict(rates)

    def _choose(self, prompt: str) -> str | None:
        with self._lock:
            n = self.requests
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.arrivals.append(time.monotonic())
            attempt = self._attempts[prompt]
            self._attempts[prompt] += 1
            rates = self.rates
        # The draw depends on the seed, the prompt and its attempt number only, not on the
        # order in which concurrent requests arrive: the same run meets the same faults.
        roll = random.Random(f"{self.seed}\x00{attempt}\x00{prompt}").random()
        fails = self.fail_prompts
        if fails is not None and (fails(prompt) if callable(fails) else prompt in fails):
            return "error_500"
        if self.fault_for is not None:
            return self.fault_for(prompt, n)
        acc = 0.0
        for kind, rate in rates.items():
            acc += rate
            if roll < acc:
                return kind
        return None

    # ------------------------------------------------------------- handlers
    async def _completion(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            prompt = prompt_key(orjson.loads(body))
        except Exception:  # noqa: BLE001 - a body that is not a request: forwarded as it is
            prompt = ""
        kind = self._choose(prompt)
        try:
            if kind is not None:
                with self._lock:
                    self.injected[kind] += 1
            return await self._respond(request, body, kind)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _respond(self, request: web.Request, body: bytes, kind: str | None) -> web.StreamResponse:
        refusal = error_response(kind, "proxy ", self.retry_after_s)
        if refusal is not None:
            return refusal
        if kind == "drop":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never reaches the closed connection
        if kind == "stall":
            await asyncio.sleep(self.stall_s)
            return web.json_response({"error": {"message": "proxy: stalled"}}, status=504)
        if kind == "empty":
            return web.Response(body=b"", status=200, content_type="application/json")
        status, headers, payload = await self._forward(request, body)
        if kind == "truncated" and status == 200:
            with self._lock:
                self.lost_upstream_replies += 1
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            response.content_length = len(payload)
            await response.prepare(request)
            await response.write(payload[: len(payload) // 2])
            if request.transport is not None:
                request.transport.close()  # the client sees the connection closed mid-body
            return response
        return web.Response(body=payload, status=status, headers=headers)

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, dict[str, str], bytes]:
        assert self._session is not None
        with self._lock:
            self.forwarded += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with self._session.request(
            request.method, self.upstream + request.rel_url.path_qs, data=body, headers=headers
        ) as resp:
            payload = await resp.read()
            keep = {k: v for k, v in resp.headers.items() if k.lower() in ("content-type", "retry-after")}
            return resp.status, keep, payload

    async def _passthrough(self, request: web.Request) -> web.StreamResponse:
        status, headers, payload = await self._forward(request, await request.read())
        with self._lock:
            self.forwarded -= 1  # only completion requests count as forwarded
        return web.Response(body=payload, status=status, headers=headers)
