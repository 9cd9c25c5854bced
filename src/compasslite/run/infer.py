"""Inference: asking the server(s) for every pending sample, healing rounds, the Ray pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from .. import ray_runner
from ..client import Client, Endpoint, guess_context_window
from ..config import DEFAULT_CONCURRENCY, ModelConfig, RunConfig, normalize_api_base
from ..progress import ProgressBoard
from ..replicas import ReplicaPool
from ..rundir import RecordWriter, slim_record
from ..types import Prompt, Record
from .plan import CONTEXT_MARGIN, Plan

log = logging.getLogger("compasslite")


class Redactor:
    """Removes the API key from any text before it reaches a file, a log or the console."""

    def __init__(self, secrets: list[str | None]):
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return text


def _pending(
    plans: list[Plan], model: ModelConfig, done: dict[tuple[str, int], Record]
) -> Iterator[tuple[Plan, int, Prompt]]:
    for plan in plans:
        for idx in plan.indices:
            prompt = plan.prompt(idx, model)
            rec = done.get((plan.subset.abbr, idx))
            if rec is not None and rec.answered and rec.fingerprint == prompt.fingerprint:
                continue
            yield plan, idx, prompt


async def infer_model(
    model: ModelConfig,
    endpoint: Endpoint,
    plans: list[Plan],
    writer: RecordWriter,
    done: dict[tuple[str, int], Record],
    board: ProgressBoard,
    context_length: int | None,
    redact: Redactor,
    budgets: dict[str, int],
    retry_budget: float = 0.0,
    api_bases: list[str] | None = None,
    ray_tasks: int | None = None,
) -> None:
    """Ask the server for every pending sample, `endpoint.concurrency` at a time; `budgets`
    gives each sub-dataset's max_tokens (output_budget). Then, for up to `retry_budget`
    seconds, healing rounds ask again the samples whose requests failed transiently.
    With `ray_tasks` (0: as many as the cluster has CPUs) the requests are sent from the
    workers of the Ray cluster the process has joined (ray_runner.py)."""
    window = context_length or guess_context_window(model.path)
    for plan in plans:
        n_done = sum(
            1 for i in plan.indices if (r := done.get((plan.subset.abbr, i))) is not None and r.answered
        )
        board.add(plan.benchmark.name, len(plan.indices), n_done)

    # Several replicas (api_bases) of the model share the requests; one is the endpoint itself.
    async with ReplicaPool(endpoint, api_bases) as client:

        async def ask(plan: Plan, idx: int, prompt: Prompt) -> Record:
            """One sample: one request (with its retries), or a record saying why none was sent."""
            sub = plan.subset
            too_long = too_long_record(plan, idx, prompt, window)
            if too_long is not None:
                return too_long
            room = window - prompt.estimate - CONTEXT_MARGIN
            board.begin(plan.benchmark.name)
            reply = await client.complete(prompt, min(budgets[sub.abbr], room))
            rec = Record.of_reply(sub.abbr, idx, prompt, reply)
            if rec.error:
                rec.error = redact(rec.error)
            return rec

        def finished(plan: Plan, rec: Record) -> None:
            writer.append(rec)
            done[(rec.abbr, rec.index)] = slim_record(rec)  # its texts are on disk now
            board.advance(plan.benchmark.name, error=not rec.answered)

        def healed(plan: Plan, rec: Record) -> None:
            # A failure that stays transient keeps its first record (it says the same); an
            # answer, or a failure now known to be permanent, is appended (the last line wins).
            if rec.answered or not rec.heals:
                writer.append(rec)
                done[(rec.abbr, rec.index)] = slim_record(rec)
            if rec.answered:
                board.recovered(plan.benchmark.name)

        async def local_pass(work: Iterator[SampleWork], on_record: Any) -> None:
            await run_pass(ask, work, client.capacity, on_record)

        async def ray_pass(work: Iterator[SampleWork], on_record: Any) -> None:
            await ray_infer(
                work, on_record, endpoint, api_bases or [], window, budgets, board, redact, ray_tasks or None
            )

        one_pass = local_pass if ray_tasks is None else ray_pass
        await one_pass(_pending(plans, model, done), finished)
        await heal(one_pass, plans, model, done, endpoint, retry_budget, board, healed)


SampleWork = tuple[Plan, int, Prompt]


def too_long_record(plan: Plan, idx: int, prompt: Prompt, window: int) -> Record | None:
    """The record of a prompt that leaves no room for a reply (nothing is sent), else None."""
    if window - prompt.estimate - CONTEXT_MARGIN > 0:
        return None
    return Record(
        plan.subset.abbr, idx, prompt.fingerprint, prompt.origin_prompt, None,
        error=f"prompt too long: about {prompt.estimate} tokens for a {window}-token context",
        attempts=0, error_kind="permanent",
    )  # fmt: skip


async def ray_infer(
    work: Iterator[SampleWork],
    on_record: Any,
    endpoint: Endpoint,
    api_bases: list[str],
    window: int,
    budgets: dict[str, int],
    board: Any,
    redact: Redactor,
    tasks: int | None,
) -> None:
    """One pass on the Ray cluster: the driver thread of ray_runner.infer submits shards and
    hands each record back to this event loop, which writes it (`on_record(plan, record)`)."""
    import threading

    loop = asyncio.get_running_loop()
    plan_of: dict[str, Plan] = {}

    def deliver(plan: Plan, rec: Record) -> None:
        with contextlib.suppress(RuntimeError):  # the loop already closed: an interrupted run
            loop.call_soon_threadsafe(on_record, plan, rec)

    def requests() -> Iterator[ray_runner.Request]:
        for plan, idx, prompt in work:
            rec = too_long_record(plan, idx, prompt, window)
            if rec is not None:
                deliver(plan, rec)
                continue
            plan_of[plan.subset.abbr] = plan
            loop.call_soon_threadsafe(board.begin, plan.benchmark.name)
            room = window - prompt.estimate - CONTEXT_MARGIN
            yield ray_runner.Request(plan.subset.abbr, idx, prompt, min(budgets[plan.subset.abbr], room))

    def returned(rec: Record) -> None:
        if rec.error:
            rec.error = redact(rec.error)
        deliver(plan_of[rec.abbr], rec)

    stop = threading.Event()
    try:
        await asyncio.to_thread(
            ray_runner.infer, endpoint, requests(), returned, tasks=tasks, stop=stop, api_bases=api_bases
        )
    finally:
        stop.set()  # cancelled (Ctrl-C): the driver thread cancels the shards in flight and returns
    await asyncio.sleep(0)  # let the last call_soon_threadsafe deliveries run


async def run_pass(ask: Any, work: Iterator[SampleWork], concurrency: int, finished: Any) -> None:
    """`concurrency` workers take samples from `work`, ask each (`await ask(plan, idx,
    prompt)`) and hand its record to `finished(plan, record)`."""

    async def worker() -> None:
        for plan, idx, prompt in work:
            finished(plan, await ask(plan, idx, prompt))

    tasks = [asyncio.create_task(worker()) for _ in range(max(1, concurrency))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# Healing rounds wait round_backoff(1), (2), ... before asking the failed samples again.
HEAL_BACKOFF_FACTOR = 4.0  # the first wait is 4 x the per-request backoff base (2 s by default)
HEAL_BACKOFF_MAX_S = 60.0


def round_backoff(endpoint: Endpoint, round_no: int) -> float:
    return min(HEAL_BACKOFF_MAX_S, endpoint.backoff_base_s * HEAL_BACKOFF_FACTOR * 2 ** (round_no - 1))


async def heal(
    one_pass: Any,
    plans: list[Plan],
    model: ModelConfig,
    done: dict[tuple[str, int], Record],
    endpoint: Endpoint,
    retry_budget: float,
    board: Any,
    healed: Any,
) -> None:
    """Healing rounds: the samples whose requests failed transiently (each used all its
    attempts) are asked again after a backoff, round after round, while a round recovers
    at least one and the time budget lasts. A round that recovers nothing ends the healing:
    a server that is simply broken must not keep the run waiting."""
    if retry_budget <= 0:
        return
    deadline = time.monotonic() + retry_budget
    round_no = 0
    while True:
        failed: list[SampleWork] = []
        for plan in plans:
            for idx in plan.indices:
                rec = done.get((plan.subset.abbr, idx))
                if rec is not None and rec.heals:
                    prompt = plan.prompt(idx, model)
                    if prompt.fingerprint == rec.fingerprint:
                        failed.append((plan, idx, prompt))
        if not failed:
            return
        round_no += 1
        wait = round_backoff(endpoint, round_no)
        left = deadline - time.monotonic()
        if left <= wait:
            _heal_note(board, f"healing stopped: {len(failed)} sample(s) still failed, retry budget "
                              f"({retry_budget:g} s, --retry-budget) used up")  # fmt: skip
            return
        _heal_note(board, f"healing round {round_no}: asking {len(failed)} failed sample(s) again "
                          f"in {wait:.1f} s ({left:.0f} s of retry budget left)")  # fmt: skip
        await asyncio.sleep(wait)
        keys = [(plan.subset.abbr, idx) for plan, idx, _ in failed]
        timed_out = False
        try:
            await asyncio.wait_for(one_pass(iter(failed), healed), deadline - time.monotonic())
        except asyncio.TimeoutError:
            timed_out = True
        recovered = sum(1 for k in keys if done[k].answered)
        _heal_note(board, f"healing round {round_no}: {recovered} of {len(failed)} recovered"
                          + (" (stopped: retry budget used up)" if timed_out else ""))  # fmt: skip
        if timed_out or recovered == 0:
            if recovered == 0 and not timed_out:
                _heal_note(board, "healing stopped: the round recovered nothing")
            return


def _heal_note(board: Any, text: str) -> None:
    log.info("%s", text)
    board.message(text)


async def probe(endpoint: Endpoint) -> int | None:
    async with Client(endpoint) as client:
        info = await client.probe()
    return info.context_length


def make_endpoint(model: ModelConfig, run_cfg: RunConfig, api_base: str) -> Endpoint:
    base, chat_from_url = normalize_api_base(api_base)
    chat = (
        model.is_chat if model.is_chat is not None else (chat_from_url if chat_from_url is not None else True)
    )
    concurrency = run_cfg.concurrency or model.batch_size or DEFAULT_CONCURRENCY
    return Endpoint(
        api_base=base,
        model=model.path,
        api_key=model.api_key(),
        chat=chat,
        timeout_s=model.timeout,
        retries=model.retries,
        concurrency=concurrency,
        requests_per_second=model.query_per_second,
        temperature=model.temperature,
        extra_body=model.extra_body,
        stop=model.stop,
        seed=model.seed,
        max_reply_bytes=int(model.max_reply_mb * 2**20),
    )
