"""Spreading a run over a Ray cluster: `compasslite run --ray [ADDRESS]` (extra `compasslite[ray]`).

The driver (the `compasslite run` process) plans, probes and scores as usual, and it alone
writes the run directory, so the cluster needs no shared filesystem:

* Inference: a model's pending samples are cut into shards of a few dozen; each shard is a Ray
  task that asks the server for its samples (`tasks` shards at a time, each with its share of
  the model's concurrency) and returns their records, which the driver appends to
  `records/` as each shard comes back. A shard whose worker or node dies is re-run by Ray
  (`max_retries`) on another node, so a lost worker costs the requests of one shard, never
  a sample.
* Scoring: code execution (humaneval, mbpp), the CPU-heavy part, runs as Ray tasks too:
  chunks of programs, each executed in the sandbox of the worker's machine.

`--resume` and `rescore` need nothing of Ray: records are the same as a local run's, and so
are the scores.

The API key travels to the workers inside the task arguments (in memory; Ray writes task
arguments to disk only when its object store spills, which a shard's few kB never cause).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from .client import Client, Endpoint
from .errors import CompassliteError
from .types import Prompt, Record

log = logging.getLogger("compasslite")

DEFAULT_SHARD_SIZE = 32  # samples per inference task: small, so records reach the disk often
DEFAULT_PROGRAMS_PER_TASK = 16
TASK_RETRIES = 5  # re-runs of a task whose worker or node died


@dataclass(frozen=True)
class Request:
    """One sample to ask: where its record goes, the prompt and the output budget."""

    abbr: str
    index: int
    prompt: Prompt
    max_tokens: int


# ----------------------------------------------------------------------------- connecting


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        from .install import pip_install

        raise CompassliteError(f"--ray needs Ray: {pip_install('ray')} (or pip install ray)") from None
    return ray


def connect(address: str | None) -> dict[str, Any]:
    """Join the Ray cluster at `address` (else $RAY_ADDRESS, else the one started on this
    machine with `ray start`); returns facts for the manifest. One clear line if none is there."""
    ray = _ray()
    if ray.is_initialized():
        return cluster_facts()
    target = address or os.environ.get("RAY_ADDRESS") or "auto"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    _check_reachable(target)
    package = str(Path(__file__).resolve().parent)
    try:
        ray.init(
            address=target,
            # The workers import compasslite from this copy of the package: the cluster needs
            # the dependencies, not a checkout or a shared filesystem.
            runtime_env={"py_modules": [package]},
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CompassliteError(
            f"--ray: cannot join a Ray cluster at {target!r} ({first}); start one with `ray start --head` "
            "or give its address: --ray HOST:6379"
        ) from None
    return cluster_facts()


def _check_reachable(target: str) -> None:
    """A HOST:PORT nobody listens on fails here at once (ray.init would retry for minutes)."""
    if "://" in target or target == "auto" or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10):
            return
    except (OSError, ValueError) as exc:
        raise CompassliteError(
            f"--ray: no Ray cluster answers at {target!r} ({exc.__class__.__name__}: {exc}); start one with "
            "`ray start --head` or give its address: --ray HOST:6379"
        ) from None


def cluster_facts() -> dict[str, Any]:
    ray = _ray()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {
        "type": "ray",
        "ray_version": ray.__version__,
        "nodes": len(nodes),
        "cpus": int(sum(n.get("Resources", {}).get("CPU", 0) for n in nodes)),
    }


def shutdown() -> None:
    ray = _ray()
    if ray.is_initialized():
        ray.shutdown()


# ----------------------------------------------------------------------------- inference


async def _ask_shard(endpoint: Endpoint, shard: Sequence[Request]) -> list[Record]:
    records: list[Record | None] = [None] * len(shard)
    queue = iter(range(len(shard)))
    async with Client(endpoint) as client:

        async def worker() -> None:
            for k in queue:
                req = shard[k]
                reply = await client.complete(req.prompt, req.max_tokens)
                records[k] = Record.of_reply(req.abbr, req.index, req.prompt, reply)

        await asyncio.gather(*(worker() for _ in range(max(1, min(endpoint.concurrency, len(shard))))))
    return [r for r in records if r is not None]


def infer_shard(endpoint: Endpoint, shard: Sequence[Request]) -> list[Record]:
    """A Ray task: ask the server for one shard of samples."""
    return asyncio.run(_ask_shard(endpoint, shard))


def shard_concurrency(endpoint: Endpoint, tasks: int) -> int:
    """Each of `tasks` shards in flight gets its share of the model's requests in flight."""
    return max(1, math.ceil(endpoint.concurrency / max(1, tasks)))


def infer(
    endpoint: Endpoint,
    requests: Iterable[Request],
    on_record: Callable[[Record], None],
    *,
    tasks: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    stop: threading.Event | None = None,
    api_bases: Sequence[str] = (),
) -> None:
    """Ask for every request on the cluster, `tasks` shards at a time (default: the cluster's
    CPUs); `on_record` is called in the driver for each record as its shard comes back.
    Shards take the replicas in `api_bases` in turn. When `stop` is set (or on
    KeyboardInterrupt) the shards in flight are cancelled: their samples are asked again by
    --resume."""
    ray = _ray()
    n_tasks = max(1, tasks or cluster_facts()["cpus"] or 1)
    remote = ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)(infer_shard)
    shard_ep = dataclasses.replace(endpoint, concurrency=shard_concurrency(endpoint, n_tasks))
    ep_refs = [ray.put(dataclasses.replace(shard_ep, api_base=b)) for b in api_bases] or [ray.put(shard_ep)]
    pending: Iterator[Request] = iter(requests)
    in_flight: dict[Any, list[Request]] = {}
    submitted = 0

    def submit() -> None:
        nonlocal submitted
        shard = list(islice(pending, shard_size))
        if shard:
            in_flight[remote.remote(ep_refs[submitted % len(ep_refs)], shard)] = shard
            submitted += 1

    try:
        for _ in range(n_tasks):
            submit()
        while in_flight:
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.5)
            for ref in ready:
                in_flight.pop(ref)
                for record in ray.get(ref):
                    on_record(record)
                submit()
    except BaseException:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        raise


# ----------------------------------------------------------------------------- code execution


def run_programs_task(programs: Sequence[str], timeout: float, kwargs: dict[str, Any]) -> list[Any]:
    """A Ray task: run a chunk of programs in the sandbox of the worker's machine."""
    from .sandbox import run_programs

    return run_programs(programs, timeout, **kwargs)


def run_programs(programs: Sequence[str], timeout: float, **kwargs: Any) -> list[Any]:
    """sandbox.run_programs, spread over the cluster in chunks; outcomes in input order."""
    ray = _ray()
    if not programs:
        return []
    remote = ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)(run_programs_task)
    kwargs = {**kwargs, "workers": 1}  # one program at a time per task: a task holds one CPU
    chunks = [list(programs[i : i + DEFAULT_PROGRAMS_PER_TASK]) for i in range(0, len(programs), DEFAULT_PROGRAMS_PER_TASK)]
    refs = [remote.remote(chunk, timeout, kwargs) for chunk in chunks]
    try:
        out: list[Any] = []
        for part in ray.get(refs):
            out.extend(part)
        return out  # redacted by sandbox.run_programs, which called us
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise


def _isolation_task() -> dict[str, Any]:
    from .sandbox import isolation

    return isolation().describe()


def worker_isolation() -> dict[str, Any]:
    """How a worker of the cluster isolates programs (one worker asked; for the manifest)."""
    ray = _ray()
    return ray.get(ray.remote(num_cpus=1)(_isolation_task).remote())
