"""What a run writes from its records: predictions/, results/ and the summary, one sub-dataset at a time."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .. import summary as summary_mod
from ..rundir import RunDir, atomic_write, read_records, split_records, write_json
from ..types import DatasetResult, Record
from .plan import Plan
from .score import combine_repeats, score_plan

log = logging.getLogger("compasslite")

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


def _write_predictions(
    run_dir: RunDir, model: str, plan: Plan, records: dict[tuple[str, int], Record]
) -> None:
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
        body["repeats"] = {
            "n": len(res.repeat_metrics),
            "std": res.repeat_std,
            "per_repeat": res.repeat_metrics,
        }
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
                    log.warning(
                        "interrupted while scoring %s; what is not scored yet is saved unscored", abbr
                    )
            if stop.stopped and abbr not in results:
                results[abbr] = _write_plan_from_parts(run_dir, model, plan, parts, think, score=False)
            results[abbr].details = []
    return results


def write_summary(run_dir: RunDir, summary: summary_mod.Summary) -> None:
    atomic_write(run_dir.summary_path("csv"), summary_mod.to_csv(summary).encode())
    atomic_write(run_dir.summary_path("md"), summary_mod.to_markdown(summary).encode())
    atomic_write(run_dir.summary_path("txt"), summary_mod.to_text(summary).encode())
