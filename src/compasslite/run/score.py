"""Scoring: a pure function of stored replies and the data (rescoring needs no server)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from ..reasoning import answer_part
from ..types import DatasetResult, Record
from .plan import Plan

log = logging.getLogger("compasslite")


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
            part = answer_part(
                rec.prediction or "", think, finish_reason=rec.finish_reason, reasoning=rec.reasoning
            )
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
