"""A real OpenAI-compatible HTTP server (aiohttp) with answer policies and fault injection.

Endpoints: GET /v1/models, POST /v1/chat/completions, POST /v1/completions,
GET /stats (request counts per prompt), POST /stats/reset.

Answer policies are functions (prompt_text, request_json) -> reply text:
`fixed(text)`, `oracle(mapping, default)`; any callable works in-process.
The prompt text of a chat request is its message contents joined by LF (for the usual
single user message: that message), of a completion request its `prompt`: the same
string compasslite's Prompt.text holds.

Faults are drawn per request from a seeded RNG (rates), or forced for the first N
attempts of every prompt (`fail_first`), which makes retry tests deterministic.

`capacity` bounds the completion requests served at once (others wait in a queue, as a real
inference server's batch is bounded) and `latency_s` is the time each one takes: together
they make a server of known throughput (capacity / latency requests per second), which is
what replica and scaling tests need.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .background import BackgroundService

Policy = Callable[[str, dict[str, Any]], str]

FAULT_KINDS = (
    "error_500",
    "error_502",
    "error_503",
    "rate_429",
    "rate_429_retry_after",
    "stall",
    "drop",
    "truncated",
    "not_json",
    "empty_choices",
    "null_content",
)


def error_response(fault: str | None, who: str, retry_after_s: float) -> web.Response | None:
    """The reply of an injected 5xx or 429 fault (`who` prefixes the message), else None."""
    if fault in ("error_500", "error_502", "error_503"):
        status = int(fault[-3:])
        return web.json_response({"error": {"message": f"{who}injected {status}"}}, status=status)
    if fault in ("rate_429", "rate_429_retry_after"):
        headers = {"Retry-After": f"{retry_after_s:g}"} if fault == "rate_429_retry_after" else None
        return web.json_response({"error": {"message": f"{who}rate limited"}}, status=429, headers=headers)
    return None


def fixed(text: str) -> Policy:
    return lambda prompt, request: text


def oracle(mapping: dict[str, str], default: str = "") -> Policy:
    return lambda prompt, request: mapping.get(prompt, default)


def deterministic(choices: list[str]) -> Policy:
    """The same reply for the same prompt, picked from `choices` by a hash of the prompt
    (stable across processes and runs, unlike Python's hash())."""
    import zlib

    return lambda prompt, request: choices[zlib.crc32(prompt.encode()) % len(choices)]


# How a thinking model's reply arrives: `inline` (`<think>...</think>answer` in the content, no
# reasoning parser), `open` (DeepSeek-R1's template opens the block in the prompt: the content
# is `...</think>answer`), `field` (a reasoning parser: `reasoning_content` beside the answer).
REASONING_SHAPES = ("inline", "open", "field")


def thinking_for(prompt: str) -> str:
    """A deterministic stretch of thinking, full of capital letters and numbers that an
    extractor reading the whole reply would take for the answer."""
    import zlib

    n = 3 + zlib.crc32(prompt.encode()) % 5
    step = "Okay, let me think. Option A could fit, but B mentions 12 and C says 7. Let me check D again. "
    return (step * n).strip()


def prompt_key(request: dict[str, Any]) -> str:
    if "messages" in request:
        return "\n".join(str(m.get("content") or "") for m in request["messages"])
    prompt = request.get("prompt", "")
    return prompt if isinstance(prompt, str) else "\n".join(map(str, prompt))


@dataclass
class Faults:
    """Per-request fault probabilities (summing to at most 1) and deterministic forced faults."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    fail_first: int = 0  # the first N attempts of every prompt fail...
    fail_first_kinds: tuple[str, ...] = ("error_503",)  # ...cycling through these kinds
    stall_s: float = 30.0
    retry_after_s: float = 0.05

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}; known: {FAULT_KINDS}")
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates sum to more than 1")


_WORDS = re.compile(r"[A-Za-z0-9]+|[\u4e00-\u9fff]")


class FakeServer(BackgroundService):
    """Run in a background thread (`start()`/`stop()`, or as a context manager) or in the
    foreground (`serve_forever()`)."""

    _thread_name = "compasslite-fake-server"

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        model: str = "fake-model",
        latency_s: float = 0.0,
        faults: Faults | None = None,
        context_length: int | None = 32768,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        reasoning: str | None = None,
        capacity: int | None = None,
    ):
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.policy = policy or fixed("")
        self.capacity = capacity
        self._slots: asyncio.Semaphore | None = None  # made in the server's own event loop
        self.in_flight = 0  # completion requests being served now
        self.peak_in_flight = 0
        self.model = model
        self.latency_s = latency_s
        self.faults = faults or Faults()
        self.context_length = context_length
        self.host = host
        self.port = port
        self.api_key = api_key
        if reasoning not in (None, *REASONING_SHAPES):
            raise ValueError(f"reasoning must be one of {REASONING_SHAPES}, not {reasoning!r}")
        self.reasoning = reasoning
        self.requests: Counter[str] = Counter()  # prompt -> requests received
        self.answered: Counter[str] = Counter()  # prompt -> successful replies sent
        self.attempts: Counter[str] = Counter()
        self.seen_auth: set[str] = set()
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._init_background()
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completion)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/stats/reset", self._reset)
        app.router.add_get("/health", self._health)
        return app

    async def _start_async(self) -> None:
        # A reply is counted as answered only if it was still wanted (a client that gave up
        # cancels its handler).
        self._runner, self.port = await self._listen(self.app(), self.host, self.port)

    async def _stop_async(self) -> None:
        await self._runner.cleanup()  # type: ignore[union-attr]

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        async def main() -> None:
            await self._start_async()
            if on_ready:
                on_ready(self.base_url)
            await asyncio.Event().wait()

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            pass

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.answered.clear()
            self.attempts.clear()

    # ------------------------------------------------------------ handlers
    async def _models(self, request: web.Request) -> web.Response:
        entry: dict[str, Any] = {"id": self.model, "object": "model", "owned_by": "compasslite"}
        if self.context_length:
            entry["max_model_len"] = self.context_length
        return web.json_response({"object": "list", "data": [entry]})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response(
                {
                    "requests": dict(self.requests),
                    "answered": dict(self.answered),
                    "total": sum(self.requests.values()),
                }
            )

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.json_response({"ok": True})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, chat=True)

    async def _completion(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, chat=False)

    async def _serve(self, request: web.Request, chat: bool) -> web.StreamResponse:
        """At most `capacity` requests are generated at once; the rest wait their turn."""
        if self.capacity is None:
            return await self._counted(request, chat)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.capacity)
        async with self._slots:
            return await self._counted(request, chat)

    async def _counted(self, request: web.Request, chat: bool) -> web.StreamResponse:
        self.in_flight += 1  # only touched from the server's event loop
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._generate(request, chat)
        finally:
            self.in_flight -= 1

    def _pick_fault(self, prompt: str) -> str | None:
        with self._lock:
            self.requests[prompt] += 1
            attempt = self.attempts[prompt]
            self.attempts[prompt] += 1
            if attempt < self.faults.fail_first:
                kinds = self.faults.fail_first_kinds
                return kinds[attempt % len(kinds)]
            roll = self._rng.random()
        acc = 0.0
        for kind, rate in self.faults.rates.items():
            acc += rate
            if roll < acc:
                return kind
        return None

    async def _generate(self, request: web.Request, chat: bool) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "invalid API key", "type": "auth"}}, status=401)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        if body.get("model") != self.model:
            return web.json_response(
                {"error": {"message": f"The model `{body.get('model')}` does not exist.", "code": 404}},
                status=404,
            )
        if chat and not isinstance(body.get("messages"), list):
            return web.json_response({"error": {"message": "messages must be a list"}}, status=400)
        prompt = prompt_key(body)
        if self.context_length is not None:
            n_prompt = len(_WORDS.findall(prompt))
            max_tokens = int(body.get("max_tokens") or 0)
            if n_prompt + max_tokens > self.context_length:
                with self._lock:
                    self.requests[prompt] += 1  # received, and rejected
                message = (
                    f"This model's maximum context length is {self.context_length} tokens. However, you "
                    f"requested {n_prompt + max_tokens} tokens ({n_prompt} in the messages, {max_tokens} in "
                    "the completion). Please reduce the length of the messages or completion."
                )
                return web.json_response(
                    {"error": {"message": message, "type": "BadRequestError"}}, status=400
                )

        fault = self._pick_fault(prompt)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        refusal = error_response(fault, "", self.faults.retry_after_s)
        if refusal is not None:
            return refusal
        if fault == "stall":
            await asyncio.sleep(self.faults.stall_s)
        text = self.policy(prompt, body)
        payload = self._completion_body(text, chat, prompt)
        if self.reasoning:
            self._think(payload, text, prompt, int(body.get("max_tokens") or 0), chat)
        if fault == "empty_choices":
            payload["choices"] = []
        if fault == "null_content" and chat:
            payload["choices"][0]["message"]["content"] = None
        raw = json.dumps(payload, ensure_ascii=False).encode()
        if fault == "not_json":
            return web.Response(body=b"<html>502 Bad Gateway</html>", status=200, content_type="text/html")
        if fault in ("drop", "truncated"):
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            response.content_length = len(raw)
            await response.prepare(request)
            await response.write(raw[: len(raw) // 2])
            if request.transport is not None:
                request.transport.close()  # the peer sees a connection closed mid-body
            return response
        if fault is None:
            with self._lock:
                self.answered[prompt] += 1
        return web.Response(body=raw, status=200, content_type="application/json")

    def _think(self, payload: dict[str, Any], answer: str, prompt: str, max_tokens: int, chat: bool) -> None:
        """Reshape a reply as a thinking model's. When max_tokens runs out inside the thinking
        the reply is cut there with finish_reason `length`, as a real server cuts it."""
        thinking = thinking_for(prompt)
        words = _WORDS.findall(thinking)
        cut = bool(max_tokens) and len(words) >= max_tokens
        if cut:  # keep the first max_tokens words of the thinking
            ends = [m.end() for m in _WORDS.finditer(thinking)]
            thinking = thinking[: ends[max_tokens - 1]] if max_tokens > 0 else ""
        choice = payload["choices"][0]
        key = "message" if chat else None
        if self.reasoning == "field" and chat:
            choice["message"]["reasoning_content"] = thinking
            content = "" if cut else answer
        elif self.reasoning == "open":
            content = thinking if cut else f"{thinking}\n</think>\n\n{answer}"
        else:
            content = f"<think>\n{thinking}" if cut else f"<think>\n{thinking}\n</think>\n\n{answer}"
        if key:
            choice["message"]["content"] = content
        else:
            choice["text"] = content
        if cut:
            choice["finish_reason"] = "length"

    def _completion_body(self, text: str, chat: bool, prompt: str) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        n_prompt = len(_WORDS.findall(prompt))
        n_out = len(_WORDS.findall(text))
        return {
            "id": f"cmpl-{time.monotonic_ns()}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": n_prompt,
                "completion_tokens": n_out,
                "total_tokens": n_prompt + n_out,
            },
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="compasslite's fake OpenAI-compatible server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--capacity", type=int, help="requests served at once; the rest queue (default: no limit)")
    parser.add_argument("--reply", default="The answer is A.", help="fixed reply text")
    parser.add_argument("--oracle", help="JSON file mapping prompt text to reply")
    parser.add_argument("--choices", nargs="+", help="replies picked per prompt by a stable hash")
    parser.add_argument("--context-length", type=int, default=32768)
    parser.add_argument("--fault", action="append", default=[], help="KIND=RATE, e.g. error_503=0.3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reasoning",
        choices=REASONING_SHAPES,
        help="answer as a thinking model: <think>...</think> in the reply (inline), R1-style with the "
        "block opened by the template (open), or a separate reasoning_content field (field)",
    )
    args = parser.parse_args(argv)
    if args.capacity is not None and args.capacity < 1:
        parser.error(f"--capacity must be at least 1, not {args.capacity}")
    policy = fixed(args.reply)
    if args.choices:
        policy = deterministic(args.choices)
    if args.oracle:
        with open(args.oracle, encoding="utf-8") as f:
            policy = oracle(json.load(f), args.reply)
    rates = {k: float(v) for k, v in (item.split("=", 1) for item in args.fault)}
    server = FakeServer(
        policy,
        model=args.model,
        latency_s=args.latency,
        faults=Faults(rates=rates, seed=args.seed),
        context_length=args.context_length,
        host=args.host,
        port=args.port,
        reasoning=args.reasoning,
        capacity=args.capacity,
    )
    server.serve_forever(lambda url: print(f"serving {args.model} at {url}", flush=True))


if __name__ == "__main__":
    main()
