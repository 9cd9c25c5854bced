"""From a RunConfig to scores on disk: plan, infer (resumably), score, report."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
import yaml

from . import __version__, ray_runner, sandbox
from . import summary as summary_mod
from .benchmark import Benchmark, Subset, resolve
from .benchmarks.code import SANDBOXED_BENCHMARKS
from .benchmarks.code import extraction as code_extraction
from .client import Client, Endpoint, guess_context_window
from .config import DEFAULT_CONCURRENCY, ModelConfig, RunConfig, normalize_api_base, select_indices
from .data import default_data_dir
from .errors import CompassliteError, DataError, MissingDataError, ServerError
from .progress import BoardView, ProgressBoard
from .prompt import render_sample, with_system_prompt
from .reasoning import answer_part
from .replicas import ReplicaPool, probe_replicas
from .report import write_report_quietly
from .rundir import RecordWriter, RunDir, atomic_write, read_records, slim_record, split_records, write_json
from .types import DatasetResult, Prompt, Record

log = logging.getLogger("compasslite")

LOCAL_DEMO_MAX_TOKENS = 64
CONTEXT_MARGIN = 100  # tokens OpenCompass keeps free between prompt estimate and context window


@dataclass
class Plan:
    """One sub-dataset to evaluate: its rows, the selected indices, its in-context examples."""

    benchmark: Benchmark
    subset: Subset
    rows: list[dict[str, Any]]
    indices: list[int]
    ice_rows: list[dict[str, Any]] = field(default_factory=list)

    def prompt(self, index: int, model: ModelConfig) -> Prompt:
        sub = self.subset
        prompt = render_sample(
            sub.template,
            self.rows[index],
            sub.output_column,
            meta_template=model.meta_template is not None,
            ice_template=sub.ice_template,
            ice_rows=self.ice_rows,
            max_seq_len=model.max_seq_len,
        )
        return with_system_prompt(prompt, model.system_prompt) if model.system_prompt else prompt


def check_budget_keys(run_cfg: RunConfig, plans: list[Plan]) -> None:
    """Every key of a max_out_len mapping names a dataset or sub-dataset of the run, or "*"."""
    if not isinstance(run_cfg.max_out_len, dict):
        return
    known = {"*"} | {p.benchmark.name for p in plans} | {p.subset.abbr for p in plans}
    unknown = sorted(set(run_cfg.max_out_len) - known)
    if unknown:
        raise CompassliteError(
            f"max_out_len names {', '.join(map(repr, unknown))}, not a dataset or sub-dataset of this run "
            "(use the short name, e.g. gsm8k, a sub-dataset such as ceval-law, or '*' for the rest)"
        )


def budget_notes(run_cfg: RunConfig, plans: list[Plan]) -> list[str]:
    """One summary line per model saying the output budget used, when the run overrides it."""
    if run_cfg.max_out_len is None:
        return []
    notes = []
    for model in run_cfg.models:
        per: dict[str, set[int]] = {}
        for plan in plans:
            per.setdefault(plan.benchmark.name, set()).add(output_budget(run_cfg, model, plan))
        used = ", ".join(f"{name} {'/'.join(map(str, sorted(v)))}" for name, v in per.items())
        notes.append(f"Output budget (max_out_len) of {model.name}: {used}")
    return notes


def output_budget(run_cfg: RunConfig, model: ModelConfig, plan: Plan) -> int:
    """max_tokens asked for: the run's override (for this sub-dataset, this dataset, or "*"),
    else the dataset's own, else the model's; never above the model's max_tokens_cap."""
    over = run_cfg.max_out_len
    if isinstance(over, dict):
        chosen = over.get(plan.subset.abbr, over.get(plan.benchmark.name, over.get("*")))
    else:
        chosen = over
    budget = chosen or plan.subset.max_out_len or model.max_out_len
    return min(budget, model.max_tokens_cap) if model.max_tokens_cap else budget


def template_fingerprint(sub: Subset) -> str:
    parts = [repr(sub.template), repr(sub.ice_template), sub.output_column]
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=6).hexdigest()


def load_plans(
    benchmarks: list[Benchmark],
    data_dir: Path,
    limit: Any,
    limit_mode: str,
    skipped: dict[str, str] | None = None,
) -> list[Plan]:
    """Load every selected sub-dataset before any request is sent: data problems show first.

    A sub-dataset whose file is missing while others of its dataset load (race-high without
    high.jsonl) is left out and reported in `skipped`; a dataset with no loadable sub-dataset,
    or any malformed file, is an error."""
    plans = []
    problems: list[str] = []
    for bench in benchmarks:
        missing: dict[str, str] = {}
        loaded = 0
        for sub in bench.subsets:
            try:
                rows = sub.load(data_dir)
                ice = sub.load_ice(data_dir) if sub.load_ice else []
            except MissingDataError as exc:
                missing[sub.abbr] = str(exc)
                continue
            except DataError as exc:
                problems.append(f"{bench.name} ({sub.abbr}): {exc}")
                continue
            loaded += 1
            plans.append(Plan(bench, sub, rows, select_indices(len(rows), limit, limit_mode), ice))
        if missing and (loaded == 0 or skipped is None):
            first = next(iter(missing.values()))
            more = f" (and {len(missing) - 1} more file(s) of {bench.name})" if len(missing) > 1 else ""
            problems.append(f"{bench.name}: {first}{more}")
        elif missing and skipped is not None:
            for abbr, msg in missing.items():
                log.warning("%s: not evaluated: %s", abbr, msg)
                skipped[abbr] = msg
    if problems:
        raise DataError("\n".join(problems) if len(problems) > 1 else problems[0])
    return plans


def fetch_missing_data(benchmarks: list[Benchmark], data_dir: Path, download: bool | None) -> None:
    """Download the datasets of which no evaluated file is present, when allowed:
    `download` True (--yes), or None with a person at a terminal who says yes.
    Partly present datasets are left alone (their missing sub-datasets are reported)."""
    if download is False:
        return
    absent = [
        b.name for b in benchmarks if not any((data_dir / s.files[0]).is_file() for s in b.subsets if s.files)
    ]
    if not absent:
        return
    if download is None:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            return  # no one to ask: loading reports the missing files with their paths
        answer = input(
            f"Data for {', '.join(absent)} is not in {data_dir}. Download it from OpenCompass? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            return
    from .datastore import download as fetch

    fetch(absent, data_dir, log=lambda msg: log.warning("%s", msg))


# ------------------------------------------------------------------ scoring
def score_plan(
    plan: Plan, records: dict[tuple[str, int], Record], think: str = "auto", score: bool = True
) -> DatasetResult:
    """A pure function of stored replies and the data: rescoring needs no server.

    `think` picks the part of each reply that is scored (see reasoning.py); `keep` scores
    the whole reply, as OpenCompass does. With `score` False only the counts are made (a run
    interrupted while scoring: nothing is extracted, no program is run)."""
    sub = plan.subset
    answered_idx: list[int] = []
    predictions: list[str] = []
    unfinished: list[bool] = []
    raw: list[str] = []
    errors = 0
    missing = 0
    messages: Counter[str] = Counter()
    failed_indices: list[int] = []
    for idx in plan.indices:
        rec = records.get((sub.abbr, idx))
        if rec is None:
            missing += 1
        elif rec.answered:
            part = answer_part(rec.prediction or "", think, finish_reason=rec.finish_reason, reasoning=rec.reasoning)
            answered_idx.append(idx)
            predictions.append(part.text)
            unfinished.append(part.unfinished)
            raw.append(rec.prediction or "")
        else:
            errors += 1
            messages[rec.error or "unknown error"] += 1
            failed_indices.append(idx)
    result = DatasetResult(
        abbr=sub.abbr,
        metrics={},
        total=len(plan.indices),
        answered=len(answered_idx),
        errors=errors,
        missing=missing,
        error_messages=dict(messages),
        unfinished=sum(unfinished),
        failed_indices=failed_indices,
        scoring_interrupted=not score,
    )
    if not answered_idx or not score:
        return result
    rows = [plan.rows[i] for i in answered_idx]
    answers = [sub.extract(p) for p in predictions]
    references = [sub.reference_of(r) for r in rows]
    score = sub.score(answers, references, rows)
    result.metrics = dict(score.metrics)
    details = []
    for k, idx in enumerate(answered_idx):
        entry: dict[str, Any] = {
            "index": idx,
            "prediction": raw[k],
            "answer": answers[k],
            "reference": references[k],
        }
        if predictions[k] != raw[k]:
            entry["scored_text"] = predictions[k]  # the reply without its thinking
        if unfinished[k]:
            entry["unfinished_reasoning"] = True
        if k < len(score.details):
            entry.update(score.details[k])
        details.append(entry)
    result.details = details
    return result


def combine_repeats(results: list[DatasetResult]) -> DatasetResult:
    """avg@N: each metric's mean over the repeats that scored something, its sample standard
    deviation, and the sample counts of all repeats together; details are the first repeat's."""
    import statistics

    first = results[0]
    scored = [r for r in results if r.metrics]
    metrics: dict[str, float | int] = {}
    std: dict[str, float] = {}
    for key in scored[0].metrics if scored else {}:
        values = [float(r.metrics[key]) for r in scored if key in r.metrics]
        metrics[key] = statistics.fmean(values)
        std[key] = statistics.stdev(values) if len(values) > 1 else 0.0
    messages: Counter[str] = Counter()
    for r in results:
        messages.update(r.error_messages)
    return DatasetResult(
        abbr=first.abbr,
        metrics=metrics,
        total=sum(r.total for r in results),
        answered=sum(r.answered for r in results),
        errors=sum(r.errors for r in results),
        missing=sum(r.missing for r in results),
        details=first.details,
        error_messages=dict(messages),
        unfinished=sum(r.unfinished for r in results),
        repeat_metrics=[dict(r.metrics) for r in results],
        repeat_std=std,
        failed_indices=sorted({i for r in results for i in r.failed_indices}),
        scoring_interrupted=any(r.scoring_interrupted for r in results),
    )


NOT_SCORED = "not scored: the run was interrupted while scoring (`compasslite run --resume` scores it)"


class ScoringStop:
    """Set when Ctrl-C comes while scoring: what is left is written unscored, not lost."""

    def __init__(self) -> None:
        self.stopped = False


def write_outputs(
    run_dir: RunDir,
    model: str,
    plans: list[Plan],
    repeats: list[dict[tuple[str, int], Record]] | dict[tuple[str, int], Record],
    think: str = "auto",
    score: bool = True,
) -> dict[str, DatasetResult]:
    """predictions/ (the first repeat's replies) and results/ for each sub-dataset; with
    several repeats the results hold their mean, standard deviation and each repeat's metrics.
    With `score` False (Ctrl-C while scoring) results/ holds the counts and says it is not scored."""
    if isinstance(repeats, dict):
        repeats = [repeats]
    records = repeats[0]
    results: dict[str, DatasetResult] = {}
    for plan in plans:
        _write_predictions(run_dir, model, plan, records)
        res = score_plan(plan, records, think, score)
        if len(repeats) > 1:
            res = combine_repeats([res] + [score_plan(plan, more, think, score) for more in repeats[1:]])
        results[plan.subset.abbr] = res
        _write_result(run_dir, model, plan, res)
    return results


def _write_predictions(run_dir: RunDir, model: str, plan: Plan, records: dict[tuple[str, int], Record]) -> None:
    """predictions/<model>/<abbr>.json: OpenCompass's {position: {origin_prompt, prediction, gold}}."""
    sub = plan.subset
    predictions: dict[str, Any] = {}
    for pos, idx in enumerate(plan.indices):
        rec = records.get((sub.abbr, idx))
        if rec is None:
            continue
        entry: dict[str, Any] = {
            "origin_prompt": rec.origin_prompt,
            "prediction": rec.prediction if rec.prediction is not None else "",
            "gold": plan.rows[idx].get(sub.output_column),
        }
        if rec.error:
            entry["error"] = rec.error
        predictions[str(pos)] = entry
    write_json(run_dir.predictions_path(model, sub.abbr), predictions)


def _write_result(run_dir: RunDir, model: str, plan: Plan, res: DatasetResult) -> None:
    """results/<model>/<abbr>.json: metrics, sample counts, failures, repeats and details."""
    sub = plan.subset
    body: dict[str, Any] = dict(res.metrics) if res.metrics else {"error": "No predictions found."}
    body["samples"] = {
        "total": res.total,
        "scored": res.answered,
        "failed_requests": res.errors,
        "not_requested": res.missing,
        "unfinished_reasoning": res.unfinished,
    }
    if res.scoring_interrupted:
        body["error"] = NOT_SCORED
        body["samples"]["scored"] = 0
        body["samples"]["answered_not_scored"] = res.answered
    if res.error_messages:
        body["failed_request_messages"] = res.error_messages
        body["failed_request_indices"] = res.failed_indices
    if res.repeat_metrics:
        body["repeats"] = {"n": len(res.repeat_metrics), "std": res.repeat_std, "per_repeat": res.repeat_metrics}
    body["details"] = res.details
    write_json(run_dir.results_path(model, sub.abbr), body)


def _write_plan_from_parts(
    run_dir: RunDir, model: str, plan: Plan, parts: list[dict[str, Path]], think: str, score: bool
) -> DatasetResult:
    """write_outputs for one sub-dataset with one repeat's records in memory at a time (its
    split file, see split_records): the first repeat's for predictions, details and scores,
    then each further repeat's for its scores only, as combine_repeats keeps no more."""
    abbr = plan.subset.abbr

    def records_of(repeat: int) -> dict[tuple[str, int], Record]:
        return read_records(parts[repeat][abbr]) if abbr in parts[repeat] else {}

    first = records_of(0)
    _write_predictions(run_dir, model, plan, first)
    res = score_plan(plan, first, think, score)
    del first
    if len(parts) > 1:
        more = []
        for repeat in range(1, len(parts)):
            extra = score_plan(plan, records_of(repeat), think, score)
            extra.details = []
            more.append(extra)
        res = combine_repeats([res, *more])
    _write_result(run_dir, model, plan, res)
    return res


def write_outputs_from_records(
    run_dir: RunDir,
    model: str,
    plans: list[Plan],
    repeats: int,
    think: str = "auto",
    stop: ScoringStop | None = None,
) -> dict[str, DatasetResult]:
    """write_outputs for a whole run in bounded memory: each repeat's records file is split by
    sub-dataset in one pass, then each sub-dataset's records are read, written out, scored
    and dropped before the next. The files are byte for byte those of write_outputs on all
    records at once; the results returned keep no per-sample details (results/ has them).

    Ctrl-C while scoring (code runs for minutes) sets `stop`: the sub-dataset being scored
    and those after it get their predictions and an unscored results file."""
    stop = stop or ScoringStop()
    results: dict[str, DatasetResult] = {}
    for stale in run_dir.root.glob(".scoring-*"):  # left by a scorer that was killed (the run dir is locked)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=run_dir.root, prefix=".scoring-") as tmp:
        parts = [split_records(run_dir.records_path(model, r), Path(tmp) / str(r)) for r in range(repeats)]
        for plan in plans:
            abbr = plan.subset.abbr
            if not stop.stopped:
                try:
                    results[abbr] = _write_plan_from_parts(run_dir, model, plan, parts, think, score=True)
                except KeyboardInterrupt:
                    stop.stopped = True
                    log.warning("interrupted while scoring %s; what is not scored yet is saved unscored", abbr)
            if stop.stopped and abbr not in results:
                results[abbr] = _write_plan_from_parts(run_dir, model, plan, parts, think, score=False)
            results[abbr].details = []
    return results


def write_summary(run_dir: RunDir, summary: summary_mod.Summary) -> None:
    atomic_write(run_dir.summary_path("csv"), summary_mod.to_csv(summary).encode())
    atomic_write(run_dir.summary_path("md"), summary_mod.to_markdown(summary).encode())
    atomic_write(run_dir.summary_path("txt"), summary_mod.to_text(summary).encode())


# ---------------------------------------------------------------- inference
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
            await ray_infer(work, on_record, endpoint, api_bases or [], window, budgets, board, redact, ray_tasks or None)

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


async def run_pass(
    ask: Any, work: Iterator[SampleWork], concurrency: int, finished: Any
) -> None:
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
            await asyncio.wait_for(
                one_pass(iter(failed), healed), deadline - time.monotonic()
            )
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


# -------------------------------------------------------------------- runs
@dataclass
class RunOutcome:
    run_dir: RunDir
    results: dict[str, dict[str, DatasetResult]]  # model -> abbr -> result
    summary: summary_mod.Summary
    interrupted: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds

    def scores(self) -> dict[str, dict[str, dict[str, float | int]]]:
        out: dict[str, dict[str, dict[str, float | int]]] = {}
        for model, per in self.results.items():
            out[model] = {abbr: dict(r.metrics) for abbr, r in per.items()}
        for row in self.summary.rows:
            if row.is_group:
                for model, value in zip(self.summary.models, row.values, strict=True):
                    if value != "-":
                        out[model][row.dataset] = {row.metric: float(value)}
        return out


def _manifest(
    run_cfg: RunConfig,
    plans: list[Plan],
    data_dir: Path,
    status: str,
    created: str,
    runner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    datasets: dict[str, Any] = {}
    for plan in plans:
        entry = datasets.setdefault(plan.benchmark.name, {})
        entry[plan.subset.abbr] = {
            "version": plan.subset.version,
            "prompt_fingerprint": template_fingerprint(plan.subset),
            "selected": len(plan.indices),
            "rows": len(plan.rows),
            "max_out_len": {m.name: output_budget(run_cfg, m, plan) for m in run_cfg.models},
        }
    return {
        "compasslite_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "created": created,
        "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "status": status,
        "data_dir": str(data_dir.resolve()),
        "config": run_cfg.public_dict(),
        "datasets": datasets,
        # On a Ray cluster programs run in the workers' sandboxes, described in `runner`.
        **({"runner": runner} if runner else _sandbox_entry(plans)),
    }


def _sandbox_entry(plans: list[Plan]) -> dict[str, Any]:
    """How model-written code is isolated on this machine, when the run scores code."""
    if not any(plan.benchmark.name in SANDBOXED_BENCHMARKS and plan.indices for plan in plans):
        return {}
    return {"sandbox": sandbox.isolation().describe()}


def _setup_file_log(run_dir: RunDir, redact: Redactor) -> logging.Handler:
    run_dir.log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir.log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    class _Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = redact(record.getMessage())
            record.args = ()
            return True

    handler.addFilter(_Redact())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def execute(
    run_cfg: RunConfig,
    *,
    resume: RunDir | None = None,
    console: Any = None,
    on_start: Any = None,
) -> RunOutcome:
    """Run (or resume) an evaluation. Raises CompassliteError subclasses for user errors.

    `on_start()`, if given, is called once everything that can refuse the run (config, data,
    servers) has passed and the run directory exists: the CLI prints its held-back warnings
    then, so a warning never stands just before an unrelated error."""
    from .local import local_endpoint  # lazy: only runs without an API base need it

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    benchmarks = resolve(run_cfg.datasets)
    data_dir = Path(run_cfg.data_dir) if run_cfg.data_dir else default_data_dir()
    fetch_missing_data(benchmarks, data_dir, run_cfg.download)
    skipped: dict[str, str] = {}
    plans = load_plans(benchmarks, data_dir, run_cfg.limit, run_cfg.limit_mode, skipped)
    check_budget_keys(run_cfg, plans)
    if plans and not any(p.indices for p in plans):
        raise CompassliteError(f"limit {run_cfg.limit!r} selects no rows of any sub-dataset; nothing to evaluate")
    url_secrets = [urlparse(base).password for m in run_cfg.models for base in m.api_bases]
    redact = Redactor([m.api_key() for m in run_cfg.models] + url_secrets)
    timings["load"] = time.perf_counter() - t0

    with contextlib.ExitStack() as stack:
        runner_facts: dict[str, Any] | None = None
        on_ray = run_cfg.runner.type == "ray"
        if on_ray:  # join the cluster before anything is written: no cluster, no run directory
            runner_facts = ray_runner.connect(run_cfg.runner.address)
            stack.callback(ray_runner.shutdown)
            if _sandbox_entry(plans):
                runner_facts["sandbox"] = ray_runner.worker_isolation()
            log.info("Ray cluster: %d node(s), %d CPU(s)", runner_facts["nodes"], runner_facts["cpus"])
        # Resolve endpoints and probe each server once before creating anything on disk.
        endpoints: dict[str, tuple[Endpoint, int | None]] = {}
        replica_bases: dict[str, list[str]] = {}  # model -> its replicas' API bases (when several)
        for model in run_cfg.models:
            if model.is_local:
                if model.local_model is None and model.max_tokens_cap is None:
                    # The embedded 135M demo model rambles to the length limit; on a laptop
                    # that is minutes per gsm8k sample. Cap replies unless the user says otherwise.
                    model.max_tokens_cap = LOCAL_DEMO_MAX_TOKENS
                    log.warning(
                        "local demo model: replies capped at %d tokens (--max-tokens-cap N, or max_tokens_cap in a config, changes it)",
                        LOCAL_DEMO_MAX_TOKENS,
                    )
                local = stack.enter_context(local_endpoint(model))
                ep = make_endpoint(
                    model.model_copy(update={"path": local.model_name}), run_cfg, local.api_base
                )
                if run_cfg.concurrency is None:
                    ep.concurrency = local.slots
                probed = asyncio.run(probe(ep))
                endpoints[model.name] = (ep, local.context_length or probed)
            else:
                ep = make_endpoint(model, run_cfg, model.api_bases[0])
                bases = [normalize_api_base(b)[0] for b in model.api_bases]
                try:
                    if len(bases) > 1:
                        ctx = asyncio.run(probe_replicas(ep, bases))  # every replica serves the model
                        replica_bases[model.name] = bases
                    else:
                        ctx = asyncio.run(probe(ep))
                except ServerError as exc:
                    raise ServerError(redact(str(exc))) from None
                if not model.path:  # the probe chose the server's only model
                    model.path = ep.model
                endpoints[model.name] = (ep, ctx)

        run_dir = resume or RunDir.create(run_cfg.work_dir)
        run_dir.lock()
        stack.callback(run_dir.unlock)
        created = time.strftime("%Y-%m-%d %H:%M:%S")
        if resume is not None:
            created = resume.read_manifest().get("created", created)
        handler = _setup_file_log(run_dir, redact)
        stack.callback(lambda: (log.removeHandler(handler), handler.close()))
        run_dir.write_manifest(_manifest(run_cfg, plans, data_dir, "running", created, runner_facts))
        cfg_yaml = yaml.safe_dump(run_cfg.public_dict(), allow_unicode=True, sort_keys=False)
        atomic_write(run_dir.root / "configs" / "config.yaml", cfg_yaml.encode())
        log.info("run %s: %d sub-datasets, models %s", run_dir.root, len(plans), list(endpoints))
        if on_start is not None:
            on_start()

        timings["probe_and_setup"] = time.perf_counter() - t0 - timings["load"]
        t1 = time.perf_counter()
        cpu1 = time.process_time()

        def mark_failed() -> None:
            # A fatal error (disk full, ...) after the run dir exists: say so in the manifest
            # if it can still be written; the records so far stay valid for a resume.
            with contextlib.suppress(CompassliteError, OSError):
                run_dir.write_manifest(_manifest(run_cfg, plans, data_dir, "failed", created, runner_facts))

        failed = stack.enter_context(contextlib.ExitStack())
        failed.callback(mark_failed)
        interrupted = False
        n_rep = run_cfg.repeats
        if n_rep > 1 and any(m.temperature == 0 for m in run_cfg.models):
            log.warning("--repeats %d at temperature 0: most servers give the same reply every time", n_rep)
        board = ProgressBoard(enabled=run_cfg.progress, console=console)

        async def evaluate(model: ModelConfig) -> None:
            """One model: its repeats one after another, each with the model's own concurrency."""
            ep, ctx = endpoints[model.name]
            budgets = {p.subset.abbr: output_budget(run_cfg, model, p) for p in plans}
            for rep in range(n_rep):
                path = run_dir.records_path(model.name, rep)
                records = read_records(path, slim=True)  # what is done, without the texts
                # Each repeat its own seed (seed, seed + 1, ...), so sampling servers differ.
                rep_ep = ep if n_rep == 1 else dataclasses.replace(ep, seed=(model.seed or 0) + rep)
                writer = RecordWriter(path)
                title = model.name if n_rep == 1 else f"{model.name} (repeat {rep + 1}/{n_rep})"
                try:
                    await infer_model(model, rep_ep, plans, writer, records, BoardView(board, title), ctx, redact,
                                      budgets, retry_budget=run_cfg.retry_budget,
                                      api_bases=replica_bases.get(model.name),
                                      ray_tasks=(run_cfg.runner.tasks or 0) if on_ray else None)  # fmt: skip
                finally:
                    writer.close()

        async def evaluate_all() -> None:
            # The models of a run are evaluated at the same time, each against its own servers.
            await asyncio.gather(*(evaluate(m) for m in run_cfg.models))

        try:
            with board:
                asyncio.run(evaluate_all())
        except KeyboardInterrupt:
            interrupted = True

        timings["inference"] = time.perf_counter() - t1
        timings["inference_cpu"] = time.process_time() - cpu1
        t2 = time.perf_counter()
        results = {}
        scoring = ScoringStop()  # Ctrl-C while scoring: the rest is written unscored
        # Programs' output and exceptions are redacted; the unshare fallback hides the run dir.
        executor = ray_runner.run_programs if on_ray else None  # code runs on the cluster's workers
        with code_extraction(run_cfg.code_extraction), sandbox.scoring(redact, [str(run_dir.root)], executor):
            for model in run_cfg.models:
                # Read back from records/ one sub-dataset at a time: memory stays flat.
                results[model.name] = write_outputs_from_records(
                    run_dir, model.name, plans, n_rep, run_cfg.think, stop=scoring
                )
        interrupted = interrupted or scoring.stopped
        summ = summary_mod.build(benchmarks, results, with_groups=run_cfg.groups, skipped=skipped)
        summ.notes.extend(budget_notes(run_cfg, plans))
        write_summary(run_dir, summ)
        failed.pop_all()  # reached the end: not failed
        status = "interrupted" if interrupted else "finished"
        run_dir.write_manifest(_manifest(run_cfg, plans, data_dir, status, created, runner_facts))
        timings["score_and_write"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        write_report_quietly(run_dir.root)  # summary/report.html; a failure is only a warning
        timings["report"] = time.perf_counter() - t3
        log.info("run %s %s; timings %s", run_dir.root, status, {k: round(v, 3) for k, v in timings.items()})
        return RunOutcome(run_dir, results, summ, interrupted, timings)


def rescore(run_path: str | Path, data_dir: str | Path | None = None) -> RunOutcome:
    """Recompute predictions, results and summary from stored replies; no server needed."""
    run_dir = RunDir.open(run_path)
    manifest = run_dir.read_manifest()
    try:
        run_cfg = RunConfig.model_validate(manifest["config"])
    except Exception as exc:  # noqa: BLE001 - a damaged manifest
        raise CompassliteError(f"{run_dir.manifest_path}: cannot read the run's config ({exc})") from None
    data = Path(data_dir) if data_dir else Path(manifest.get("data_dir") or default_data_dir())
    benchmarks = resolve(run_cfg.datasets)
    skipped: dict[str, str] = {}
    plans = load_plans(benchmarks, data, run_cfg.limit, run_cfg.limit_mode, skipped)
    results = {}
    redact = Redactor([m.api_key() for m in run_cfg.models])
    run_dir.lock()  # not while a run (or another rescore) writes the same files
    try:
        with code_extraction(run_cfg.code_extraction), sandbox.scoring(redact, [str(run_dir.root)]):
            for model in run_cfg.models:
                results[model.name] = write_outputs_from_records(
                    run_dir, model.name, plans, run_cfg.repeats, run_cfg.think
                )
        summ = summary_mod.build(benchmarks, results, with_groups=run_cfg.groups, skipped=skipped)
        summ.notes.extend(budget_notes(run_cfg, plans))
        write_summary(run_dir, summ)
        write_report_quietly(run_dir.root)
    finally:
        run_dir.unlock()
    return RunOutcome(run_dir, results, summ)


def load_resume_config(run_dir: RunDir) -> RunConfig:
    manifest = run_dir.read_manifest()
    try:
        return RunConfig.model_validate(manifest["config"])
    except Exception as exc:  # noqa: BLE001
        raise CompassliteError(f"{run_dir.manifest_path}: cannot read the run's config ({exc})") from None


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()
