"""A whole run: probe, infer, score, write, report (`execute`), and `rescore`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
import yaml

from .. import __version__, ray_runner, sandbox
from .. import summary as summary_mod
from ..benchmark import resolve
from ..benchmarks.code import SANDBOXED_BENCHMARKS
from ..benchmarks.code import extraction as code_extraction
from ..client import Endpoint
from ..config import ModelConfig, RunConfig, normalize_api_base
from ..data import default_data_dir
from ..errors import CompassliteError, ServerError
from ..progress import BoardView, ProgressBoard
from ..replicas import probe_replicas
from ..report import write_report_quietly
from ..rundir import RecordWriter, RunDir, atomic_write, read_records
from ..types import DatasetResult
from .infer import Redactor, infer_model, make_endpoint, probe
from .outputs import ScoringStop, write_outputs_from_records, write_summary
from .plan import (
    LOCAL_DEMO_MAX_TOKENS,
    Plan,
    budget_notes,
    check_budget_keys,
    fetch_missing_data,
    load_plans,
    output_budget,
    template_fingerprint,
)

log = logging.getLogger("compasslite")


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
    from ..local import local_endpoint  # lazy: only runs without an API base need it

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    benchmarks = resolve(run_cfg.datasets)
    data_dir = Path(run_cfg.data_dir) if run_cfg.data_dir else default_data_dir()
    fetch_missing_data(benchmarks, data_dir, run_cfg.download)
    skipped: dict[str, str] = {}
    plans = load_plans(benchmarks, data_dir, run_cfg.limit, run_cfg.limit_mode, skipped)
    check_budget_keys(run_cfg, plans)
    if plans and not any(p.indices for p in plans):
        raise CompassliteError(
            f"limit {run_cfg.limit!r} selects no rows of any sub-dataset; nothing to evaluate"
        )
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
