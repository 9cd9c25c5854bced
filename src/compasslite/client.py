"""One asyncio HTTP client for the whole run.

aiohttp rather than httpx or the openai SDK: it is the same stack as the built-in test
server, and at 64+ concurrent requests its per-request CPU cost is several times lower
(see bench/throughput.py), which is what keeps our overhead near zero next to the server.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from .errors import ServerError
from .types import Prompt, Reply

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529}
MAX_RETRY_AFTER_S = 120.0
DEFAULT_MAX_REPLY_BYTES = 4 * 2**20  # a chat completion of 32k tokens is well under 1 MiB

# Terminal escape sequences (CSI, OSC) and other control characters: server texts shown on a
# console must not move the cursor, retitle the window or hide what follows.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from a server, safe to print: escape sequences and control characters removed."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


@dataclass
class Endpoint:
    """Where and how to send requests for one model (no secrets are ever logged from here)."""

    api_base: str  # .../v1
    model: str
    api_key: str | None = None
    chat: bool = True
    timeout_s: float = 600.0
    retries: int = 5  # extra attempts after the first for transient failures
    concurrency: int = 64
    requests_per_second: float | None = None
    temperature: float = 0.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    extra_body: dict[str, Any] | None = None  # merged into every request body
    stop: str | list[str] | None = None
    seed: int | None = None
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES  # a larger reply body is a failed request


class TransientError(Exception):
    """A failure worth retrying (timeout, 429, 5xx, dropped connection, garbled body)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that retrying will not fix (4xx other than 408/409/425/429)."""

    def __init__(self, message: str, status: int = 0, server_message: str = ""):
        super().__init__(message)
        self.status = status
        self.server_message = server_message


_CONTEXT_LIMIT = re.compile(r"maximum context length is (\d+) tokens", re.IGNORECASE)
_INPUT_TOKENS = (
    re.compile(r"\((\d+) in the messages", re.IGNORECASE),  # vLLM (older), OpenAI-style
    re.compile(r"request has (\d+) input tokens", re.IGNORECASE),  # vLLM (newer)
    re.compile(r"(\d+) tokens from the input", re.IGNORECASE),  # SGLang
)


def allowed_max_tokens(server_message: str) -> int | None:
    """From a context-length 400, the largest max_tokens the server would accept, if it says."""
    limit = _CONTEXT_LIMIT.search(server_message)
    if not limit:
        return None
    for pattern in _INPUT_TOKENS:
        used = pattern.search(server_message)
        if used:
            room = int(limit.group(1)) - int(used.group(1))
            return room if room > 0 else None
    return None


@dataclass
class ServerInfo:
    models: list[str]
    context_length: int | None  # vLLM's max_model_len, llama.cpp's n_ctx, ...


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(printable(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _server_message(text: str) -> str:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _short(text)
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            return _short(str(err.get("message") or err))
        return _short(str(err))
    return _short(str(obj))


class RateLimiter:
    """Spaces request starts at least 1/rate seconds apart (OpenCompass's query_per_second)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


# Statuses by which a server says it is overloaded: fewer requests in flight, please.
OVERLOAD_STATUS = {429, 503}


class AdaptiveConcurrency:
    """How many requests may be in flight to one server, adapted to what it says (AIMD, as
    in TCP congestion control and inspect_ai): a 429 or 503 halves the limit (not below 1),
    each success raises it by 1/limit (so by about one per window of successes), never above
    the configured concurrency. A Retry-After header pauses every new request until it
    expires. One decrease per window: the replies to requests sent before the last decrease
    tell nothing new, so a burst of simultaneous 429s halves the limit once, not to 1."""

    DECREASE_FACTOR = 0.5

    def __init__(self, maximum: int):
        self.maximum = max(1, maximum)
        self._limit = float(self.maximum)
        self.in_flight = 0
        self.paused_until = 0.0  # time.monotonic() before which no new request starts
        self.decreases = 0
        self._generation = 0  # bumped by each decrease
        self._changed: asyncio.Event | None = None

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return max(1, int(self._limit))

    @property
    def free_slots(self) -> int:
        """Requests that could start right now (0 while a Retry-After pause lasts)."""
        if self.paused_until > time.monotonic():
            return 0
        return max(0, self.limit - self.in_flight)

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def acquire(self) -> int:
        """Wait for a slot; returns a ticket to hand back to release()."""
        while True:
            pause = self.paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self.in_flight < self.limit:
                self.in_flight += 1
                return self._generation
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()

    def release(self, ticket: int, status: int | None, retry_after: float | None = None) -> None:
        """A request has ended with HTTP `status` (None: no reply, e.g. a dropped connection,
        which says nothing about load)."""
        self.in_flight -= 1
        if status is not None and status < 400:
            self._limit = min(float(self.maximum), self._limit + 1.0 / self._limit)
        elif status in OVERLOAD_STATUS and ticket == self._generation:
            self._limit = max(1.0, self._limit * self.DECREASE_FACTOR)
            self._generation += 1
            self.decreases += 1
        if retry_after is not None and status is not None and status >= 400:
            until = time.monotonic() + min(retry_after, MAX_RETRY_AFTER_S)
            self.paused_until = max(self.paused_until, until)
        self._wake()


class Client:
    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._session: aiohttp.ClientSession | None = None
        self._limiter = RateLimiter(endpoint.requests_per_second) if endpoint.requests_per_second else None
        self.concurrency = AdaptiveConcurrency(endpoint.concurrency)
        headers = {"Content-Type": "application/json"}
        if endpoint.api_key:
            headers["Authorization"] = f"Bearer {endpoint.api_key}"
        self._headers = headers
        url = endpoint.api_base.rstrip("/")
        self._url = url + ("/chat/completions" if endpoint.chat else "/completions")
        self._models_url = url + "/models"

    async def __aenter__(self) -> Client:
        connector = aiohttp.TCPConnector(limit=max(1, self.endpoint.concurrency), limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _text(self, body: bytes) -> str:
        """A reply body as text with the API key blanked out: some servers and proxies echo
        the Authorization header in their errors, and these texts reach records and the console."""
        text = body.decode("utf-8", "replace")
        key = self.endpoint.api_key
        return text.replace(key, "***") if key and len(key) >= 4 else text

    @property
    def limit(self) -> int:
        """Requests this client lets be in flight now (adapted to 429/503, see AdaptiveConcurrency)."""
        return self.concurrency.limit

    @property
    def free_slots(self) -> int:
        """Requests this client could start right now."""
        return self.concurrency.free_slots

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Client used outside `async with`")
        return self._session

    # ---------------------------------------------------------------- probe
    async def probe(self) -> ServerInfo:
        """One cheap request before a run: is the server up, and does it serve the model?"""
        base = self.endpoint.api_base
        timeout = aiohttp.ClientTimeout(total=min(30.0, self.endpoint.timeout_s))
        try:
            async with self.session.get(self._models_url, timeout=timeout) as resp:
                body = await resp.read()
                if resp.status in (401, 403):
                    raise ServerError(
                        f"server at {base} refused the API key (HTTP {resp.status}: {_server_message(self._text(body))})"
                    )
                if resp.status >= 400:
                    # Some servers have no /models; fall back to a 1-token request.
                    return await self._probe_by_request()
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError, OSError) as exc:
            raise ServerError(
                f"cannot reach the server at {base} ({type(exc).__name__}: {exc or 'timed out'}); "
                "is it running, and is --api-base right?"
            ) from None
        try:
            data = orjson.loads(body).get("data", [])
        except (orjson.JSONDecodeError, AttributeError):
            return await self._probe_by_request()
        served = [m.get("id") for m in data if isinstance(m, dict) and m.get("id")]
        if not self.endpoint.model:  # no model name given: take the server's only model
            if len(served) != 1:
                listed = f"it serves: {', '.join(served)}" if served else "it lists no models"
                raise ServerError(
                    f"no model name given and the server at {base} cannot choose one ({listed}); pass --model"
                )
            self.endpoint.model = served[0]
        ctx = None
        for m in data:
            if isinstance(m, dict) and m.get("id") == self.endpoint.model:
                ctx = _context_length(m)
        if served and self.endpoint.model not in served:
            if len(served) == 1 and served[0].endswith(".gguf"):
                pass  # llama.cpp names the model after its file and answers to any name
            else:
                raise ServerError(
                    f"the server at {base} does not serve model {self.endpoint.model!r}; "
                    f"it serves: {', '.join(served)}"
                )
        if ctx is None and len(data) == 1 and isinstance(data[0], dict):
            ctx = _context_length(data[0])
        return ServerInfo(models=served, context_length=ctx)

    async def _probe_by_request(self) -> ServerInfo:
        payload = self._payload("Hi", [{"role": "user", "content": "Hi"}], 1)
        try:
            status, body, _ = await self._post(payload)
        except TransientError as exc:
            raise ServerError(f"server at {self.endpoint.api_base} failed a test request: {exc}") from None
        if status >= 400:
            raise ServerError(
                f"server at {self.endpoint.api_base} rejected a test request for model "
                f"{self.endpoint.model!r} (HTTP {status}: {_server_message(self._text(body))})"
            )
        return ServerInfo(models=[self.endpoint.model], context_length=None)

    # ------------------------------------------------------------- requests
    def _payload(self, text: str, messages: list[dict[str, str]], max_tokens: int) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.endpoint.model,
            "max_tokens": max_tokens,
            "temperature": self.endpoint.temperature,
        }
        if self.endpoint.stop is not None:
            payload["stop"] = self.endpoint.stop
        if self.endpoint.seed is not None:
            payload["seed"] = self.endpoint.seed
        if self.endpoint.extra_body:
            payload.update(self.endpoint.extra_body)
        if self.endpoint.chat:
            payload["messages"] = messages
        else:
            payload["prompt"] = text
        return payload

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.endpoint.max_reply_bytes
        body = bytearray()
        if resp.content_length is None or resp.content_length <= cap:
            async for chunk in resp.content.iter_chunked(1 << 16):
                body += chunk
                if len(body) > cap:
                    break
        if len(body) > cap or (resp.content_length or 0) > cap:
            raise PermanentError(f"reply larger than {cap / 2**20:g} MiB (max_reply_mb raises the cap)", resp.status, "")
        return bytes(body)

    async def _post(self, payload: dict[str, Any]) -> tuple[int, bytes, float | None]:
        """One HTTP exchange. Anything that goes wrong on the way (a dropped connection, a
        malformed status line or header, a bad chunk, a redirect) is a TransientError of this
        request, never an exception that ends the run."""
        ticket = await self.concurrency.acquire()
        status: int | None = None
        retry_after: float | None = None
        try:
            if self._limiter is not None:
                await self._limiter.wait()
            timeout = aiohttp.ClientTimeout(total=self.endpoint.timeout_s)
            async with self.session.post(self._url, json=payload, timeout=timeout, allow_redirects=False) as resp:
                retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
                if 300 <= resp.status < 400:
                    where = printable(resp.headers.get("Location", "?"))[:200]
                    raise TransientError(
                        f"HTTP {resp.status}: the server redirects to {where}; give --api-base the final URL"
                    )
                body = await self._read_capped(resp)
                status = resp.status
                return resp.status, body, retry_after
        except asyncio.TimeoutError:
            raise TransientError(f"no reply within {self.endpoint.timeout_s:g} s") from None
        except (aiohttp.ClientError, aiohttp.http_exceptions.HttpProcessingError, OSError, ValueError) as exc:
            # ClientError covers connection, payload and protocol errors (bad status line,
            # a header line over aiohttp's limit, a bad chunk size, ...).
            raise TransientError(f"connection failed: {type(exc).__name__}: {_short(str(exc))}") from None
        finally:
            self.concurrency.release(ticket, status, retry_after)

    async def _attempt(self, payload: dict[str, Any]) -> Reply:
        started = time.monotonic()
        status, body, retry_after = await self._post(payload)
        if status in TRANSIENT_STATUS:
            raise TransientError(f"HTTP {status}: {_server_message(self._text(body))}", retry_after)
        if status >= 400:
            message = _server_message(self._text(body))
            raise PermanentError(f"HTTP {status}: {message}", status, message)
        try:
            obj = orjson.loads(body)
            choice = obj["choices"][0]
            message = choice["message"] if self.endpoint.chat else choice
            content = message["content" if self.endpoint.chat else "text"]
        except orjson.JSONDecodeError:
            raise TransientError(f"reply body is not JSON: {_short(self._text(body), 120)}") from None
        except (KeyError, IndexError, TypeError):
            raise TransientError(
                f"reply has no choices[0] content: {_short(self._text(body), 200)}"
            ) from None
        if content is None:
            raise TransientError("reply content is null")
        if not isinstance(content, str):
            raise TransientError(f"reply content is not a string but {type(content).__name__}: {_short(str(content), 80)}")
        usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else None
        # vLLM/SGLang with a reasoning parser: `reasoning_content` (`reasoning` in newer vLLM).
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        return Reply(
            text=str(content).strip(),  # OpenCompass strips replies before anything else
            finish_reason=choice.get("finish_reason"),
            latency_s=time.monotonic() - started,
            usage=usage,
            reasoning=reasoning if isinstance(reasoning, str) and reasoning else None,
        )

    def _backoff(self, failures: int, exc: BaseException | None) -> float:
        """Seconds to wait after `failures` failed attempts: Retry-After when the server
        gives one, else exponential backoff with jitter."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S)
        backoff = self.endpoint.backoff_base_s * (2 ** (failures - 1))
        return min(self.endpoint.backoff_max_s, backoff) * (0.5 + random.random() / 2)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self._backoff(state.attempt_number + 1, exc)

    async def complete(self, prompt: Prompt, max_tokens: int) -> Reply:
        """Send one prompt; retries transient failures; never raises for a failed request."""
        payload = self._payload(prompt.text, prompt.messages, max_tokens)
        started = time.monotonic()
        # The first attempt runs outside tenacity: most requests succeed at once, and the
        # retry machinery costs more CPU per call than the request itself.
        try:
            reply = await self._attempt(payload)
        except PermanentError as exc:
            # Our prompt-length estimate counts words, not tokens: when the server says the
            # prompt plus max_tokens overflow its context, ask once more within what is left.
            room = allowed_max_tokens(exc.server_message) if exc.status == 400 else None
            if room is None or room >= payload["max_tokens"]:
                return Reply(text=None, error=f"{exc} (failed on attempt 1)", attempts=1,
                             latency_s=time.monotonic() - started, error_kind="permanent")  # fmt: skip
            try:
                reply = await self._attempt({**payload, "max_tokens": room})
            except (TransientError, PermanentError) as again:
                return Reply(text=None, error=f"{again} (failed on attempt 2)", attempts=2,
                             latency_s=time.monotonic() - started, error_kind=_kind(again))  # fmt: skip
            reply.attempts = 2
            reply.latency_s = time.monotonic() - started
            return reply
        except TransientError as exc:
            if self.endpoint.retries == 0:
                return Reply(text=None, error=f"{exc} (gave up after attempt 1)", attempts=1,
                             latency_s=time.monotonic() - started, error_kind="transient")  # fmt: skip
            first_failure = exc
        else:
            reply.latency_s = time.monotonic() - started
            return reply
        attempts = 1
        try:
            await asyncio.sleep(self._backoff(1, first_failure))
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TransientError),
                stop=stop_after_attempt(self.endpoint.retries),
                wait=self._wait,
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    reply = await self._attempt(payload)
        except (TransientError, PermanentError) as exc:
            kind = "gave up after" if isinstance(exc, TransientError) else "failed on"
            return Reply(
                text=None,
                error=f"{exc} ({kind} attempt {attempts})",
                attempts=attempts,
                latency_s=time.monotonic() - started,
                error_kind=_kind(exc),
            )
        reply.attempts = attempts
        reply.latency_s = time.monotonic() - started
        return reply


def _kind(exc: BaseException) -> str:
    return "transient" if isinstance(exc, TransientError) else "permanent"


def _context_length(model_entry: dict[str, Any]) -> int | None:
    for key in ("max_model_len", "context_length", "max_context_length", "n_ctx"):
        value = model_entry.get(key)
        if isinstance(value, int) and value > 0:
            return value
    meta = model_entry.get("meta")
    if isinstance(meta, dict):
        for key in ("n_ctx",):
            value = meta.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return None


def guess_context_window(model_name: str) -> int:
    """OpenCompass's guess from the model name when the server does not say."""
    name = model_name.lower()
    if "32k" in name:
        return 32768
    if "16k" in name:
        return 16384
    if "gpt-4" in name:
        return 8192
    if "gpt-3.5" in name:
        return 4097
    return 32768
