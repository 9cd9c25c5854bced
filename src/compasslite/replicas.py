"""Several replicas of one model behind one `complete()`: `openai_api_base` as a list.

One `Client` per replica. Each request goes to the replica with the most free capacity
(its concurrency, or the adaptive limit the client keeps when the server pushes back, minus
the requests it has in flight). A replica that refuses connections is taken out at once, one
that fails `FAIL_LIMIT` requests in a row too; it stays out for a cool-down (doubling while it
stays down), then a probe (GET /models, which must list the model) lets it back in.

Retries move between replicas: with several replicas, each replica's client makes one
attempt per call and the pool makes the `retries` further attempts, on another replica when
one is free, after a backoff otherwise. A request fails only when every attempt failed, as
with one server; a dead replica's requests are asked again elsewhere, so losing a replica
mid-run costs time, never a sample. Replies do not depend on which replica gave them (they
serve the same model), so the results are the same whatever the number of replicas.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time

from .client import Client, Endpoint
from .config import hide_credentials
from .errors import ServerError
from .types import Prompt, Reply

log = logging.getLogger("compasslite")

FAIL_LIMIT = 3  # failures in a row that take a replica out
COOLDOWN_S = 2.0  # first cool-down; doubles while probes fail
MAX_COOLDOWN_S = 60.0
PROBE_TIMEOUT_S = 10.0
_GAVE_UP = " (gave up after attempt "


def _transient(reply: Reply) -> bool:
    """A failure worth asking again (elsewhere): the client's verdict."""
    return reply.error_kind == "transient"


def _refused(error: str) -> bool:
    """The replica is not there at all (refused, reset or dropped connection): out at once."""
    return "connection failed" in error


@dataclasses.dataclass
class Replica:
    """One server of the pool and what the pool knows of it."""

    endpoint: Endpoint
    client: Client
    in_flight: int = 0
    failures: int = 0  # in a row
    down_until: float = 0.0  # time.monotonic() before which it gets no request
    cooldown_s: float = COOLDOWN_S
    probing: bool = False
    down: bool = False
    answered: int = 0  # requests it answered (tests and logs)

    @property
    def name(self) -> str:
        return hide_credentials(self.endpoint.api_base)

    @property
    def capacity(self) -> int:
        """Requests it may have in flight now: the client's adaptive limit where it keeps one."""
        limit = getattr(self.client, "limit", None)
        return int(limit) if isinstance(limit, int) else max(1, self.endpoint.concurrency)

    @property
    def free(self) -> int:
        free = self.capacity - self.in_flight
        client_free = getattr(self.client, "free_slots", None)  # 0 while a Retry-After pause lasts
        if isinstance(client_free, int) and client_free == 0:
            return 0
        return free


class ReplicaPool:
    """`complete(prompt, max_tokens)` over one or more replicas of the same model.

    With one replica it is that replica's client, untouched (same retries, same records)."""

    def __init__(self, endpoint: Endpoint, api_bases: list[str] | None = None):
        bases = api_bases or [endpoint.api_base]
        self.retries = endpoint.retries
        self.backoff_base_s = endpoint.backoff_base_s
        self.backoff_max_s = endpoint.backoff_max_s
        single = len(bases) == 1
        # Several replicas: one attempt per call to a replica; the pool retries, elsewhere.
        self.replicas = [
            Replica(ep, Client(ep))
            for ep in (
                dataclasses.replace(endpoint, api_base=base, retries=endpoint.retries if single else 0)
                for base in bases
            )
        ]
        self._changed = asyncio.Event()
        self._probes: set[asyncio.Task[None]] = set()

    @property
    def capacity(self) -> int:
        """Requests in flight when every replica is busy: the workers to start."""
        return sum(max(1, r.endpoint.concurrency) for r in self.replicas)

    async def __aenter__(self) -> ReplicaPool:
        for r in self.replicas:
            await r.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._probes:
            task.cancel()
        await asyncio.gather(*self._probes, return_exceptions=True)
        for r in self.replicas:
            await r.client.__aexit__(*exc)
        if len(self.replicas) > 1:
            log.info("replicas answered: %s", ", ".join(f"{r.name} {r.answered}" for r in self.replicas))

    # -------------------------------------------------------------- requests
    async def complete(self, prompt: Prompt, max_tokens: int) -> Reply:
        if len(self.replicas) == 1:
            return await self.replicas[0].client.complete(prompt, max_tokens)
        started = time.monotonic()
        attempts = 0
        last: Replica | None = None
        error = "no replica answered"
        for n in range(self.retries + 1):
            replica = await self._acquire(avoid=last, wait_s=self._backoff(n) if n else 0.0)
            try:
                reply = await replica.client.complete(prompt, max_tokens)
            finally:
                replica.in_flight -= 1
                self._wake()
            attempts += reply.attempts
            if reply.error is None or not _transient(reply):
                if reply.error is None:
                    self._succeeded(replica)
                reply.attempts = attempts
                reply.latency_s = time.monotonic() - started
                return reply
            error = reply.error.split(_GAVE_UP)[0]
            self._failed(replica, error)
            last = replica
        return Reply(
            text=None,
            error=f"{error} (gave up after attempt {attempts})",
            attempts=attempts,
            latency_s=time.monotonic() - started,
            error_kind="transient",
        )

    def _backoff(self, failures: int) -> float:
        backoff = self.backoff_base_s * (2 ** (failures - 1))
        return min(self.backoff_max_s, backoff) * (0.5 + random.random() / 2)

    async def _acquire(self, avoid: Replica | None, wait_s: float) -> Replica:
        """The up replica with the most free capacity (not `avoid`, the one that just failed,
        when another has room). After a failure with no other replica free, wait `wait_s`
        (the backoff) first. When every replica is out, wait up to `wait_s` for one to come
        back, then try the one whose cool-down ends first: a pool of dead replicas fails its
        requests as one dead server does, rather than waiting forever."""
        deadline = time.monotonic() + wait_s
        while True:
            self._start_due_probes()
            now = time.monotonic()
            up = [r for r in self.replicas if not r.down]
            free = [r for r in up if r.free > 0]
            others = [r for r in free if r is not avoid]
            pick = max(others or (free if now >= deadline else []), key=_room, default=None)
            if pick is None and not up and now >= deadline:
                pick = min(self.replicas, key=lambda r: r.down_until)
            if pick is not None:
                pick.in_flight += 1
                return pick
            timeout: float | None = None  # all busy: wait for a request to end
            if free or not up:  # only the replica that failed is free, or none is up: the backoff
                timeout = deadline - now
            if not up:  # ...or the next probe, whichever is first
                soonest = min(r.down_until for r in self.replicas) - now
                timeout = min(timeout, soonest) if timeout is not None else soonest
            await self._wait(None if timeout is None else max(0.01, timeout))

    async def _wait(self, timeout: float | None) -> None:
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ---------------------------------------------------------------- health
    def _succeeded(self, replica: Replica) -> None:
        replica.failures = 0
        replica.answered += 1

    def _failed(self, replica: Replica, error: str) -> None:
        replica.failures += 1
        if replica.down or not (_refused(error) or replica.failures >= FAIL_LIMIT):
            return
        replica.down = True
        replica.down_until = time.monotonic() + replica.cooldown_s
        log.warning("replica %s out for %.0f s: %s", replica.name, replica.cooldown_s, error)
        self._wake()

    def _start_due_probes(self) -> None:
        now = time.monotonic()
        for r in self.replicas:
            if r.down and not r.probing and now >= r.down_until:
                r.probing = True
                task = asyncio.create_task(self._probe(r))
                self._probes.add(task)
                task.add_done_callback(self._probes.discard)

    async def _probe(self, replica: Replica) -> None:
        try:
            await asyncio.wait_for(replica.client.probe(), PROBE_TIMEOUT_S)
        except (ServerError, asyncio.TimeoutError) as exc:
            replica.cooldown_s = min(MAX_COOLDOWN_S, replica.cooldown_s * 2)
            replica.down_until = time.monotonic() + replica.cooldown_s
            log.info("replica %s still out (%s); next probe in %.0f s", replica.name, exc, replica.cooldown_s)
        else:
            replica.down = False
            replica.failures = 0
            replica.cooldown_s = COOLDOWN_S
            log.warning("replica %s is back", replica.name)
        finally:
            replica.probing = False
            self._wake()


def _room(replica: Replica) -> tuple[int, int]:
    return replica.free, -replica.in_flight


async def probe_replicas(endpoint: Endpoint, api_bases: list[str]) -> int | None:
    """Before a run: every replica must answer and serve the model (the first one chooses it
    when no name is given); the context length is the smallest any replica reports."""
    first = dataclasses.replace(endpoint, api_base=api_bases[0])
    async with Client(first) as client:
        info = await client.probe()
    endpoint.model = first.model  # the server's only model, when no name was given
    lengths = [info.context_length]

    async def one(base: str) -> int | None:
        async with Client(dataclasses.replace(endpoint, api_base=base)) as client:
            try:
                return (await client.probe()).context_length
            except ServerError as exc:
                raise ServerError(f"replica {hide_credentials(base)}: {exc}") from None

    lengths += await asyncio.gather(*(one(b) for b in api_bases[1:]))
    known = [n for n in lengths if n]
    if len(set(known)) > 1:
        described = ", ".join(f"{hide_credentials(b)} {n or '?'}" for b, n in zip(api_bases, lengths, strict=True))
        log.warning("replicas report different context lengths (%s); using the smallest, %d", described, min(known))
    return min(known) if known else None

