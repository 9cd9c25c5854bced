"""A run directory read into what the report and the comparison show.

One loader for both pages. `load_run` reads the small things at once (manifest, summary,
results metrics, and a light index of records/<model>.jsonl: per sample its latency, tokens
and the byte offset of its latest line); `RunData.samples(model, abbr)` then yields the
samples of one sub-dataset, reading its prompts and replies only when asked, so the full suite
(150k samples, prompts of several kB each) never sits in memory at once.
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..config import RunConfig, select_indices
from ..errors import CompassliteError, RunDirError
from ..rundir import RunDir, _record_problem

# Fields a scorer's per-sample detail may hold that are not a per-sample score.
_DETAIL_BOOKKEEPING = {"index", "prediction", "answer", "reference", "scored_text", "unfinished_reasoning",
                       "correct", "pred", "task_id", "result", "program", "predicted_index", "label",
                       "points", "possible", "scored"}  # fmt: skip

# What an extractor returns when it found nothing (gsm8k's postprocessor says 'NULL').
_EMPTY_EXTRACTIONS = {"", "NULL"}


@dataclass
class RecordInfo:
    """What the index of a records file keeps per sample: enough for the charts and to find
    the line again; the prompt and reply are read from `offset` when the sample is shown."""

    offset: int
    answered: bool
    fingerprint: str
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


@dataclass
class Sample:
    """One selected sample of one sub-dataset for one model, normalised for display."""

    model: str
    dataset: str
    abbr: str
    index: int
    prompt: str | list[dict[str, str]] | None  # a string, or chat turns [{role, prompt}]
    reply: str | None
    extracted: Any
    gold: Any
    verdict: bool | None  # None: failed, not requested, or the metric is not per-sample (ROUGE)
    score: float | None  # the per-sample score when there is no verdict (e.g. rouge1)
    error: str | None
    latency_s: float | None
    tokens: int | None  # completion tokens
    finish_reason: str | None
    fingerprint: str | None
    state: str  # correct | wrong | failed | missing | scored (no verdict) | unscored (no results yet)

    @property
    def extraction_empty(self) -> bool:
        return self.state in ("correct", "wrong", "scored") and (
            self.extracted is None
            or (isinstance(self.extracted, str) and self.extracted.strip() in _EMPTY_EXTRACTIONS)
        )


@dataclass
class SubsetFacts:
    """One sub-dataset for one model: results/<model>/<abbr>.json without its details."""

    model: str
    dataset: str  # the benchmark's short name (gsm8k, mmlu, ...)
    abbr: str
    version: str
    prompt_fingerprint: str
    indices: list[int]  # the selected rows, in the run's order
    metrics: dict[str, float]
    total: int = 0
    scored: int = 0
    failed: int = 0
    not_requested: int = 0
    unfinished: int = 0
    error_messages: dict[str, int] = field(default_factory=dict)
    correct: int = 0
    wrong: int = 0
    empty: int = 0
    latency_sum: float = 0.0
    completion_tokens: int = 0
    prompt_tokens: int = 0
    fingerprints: set[str] = field(default_factory=set)  # of its records' prompts

    @property
    def first_metric(self) -> tuple[str, float] | None:
        for k, v in self.metrics.items():
            return k, v
        return None


@dataclass
class SummaryTable:
    header: list[str]
    rows: list[list[str]]

    @staticmethod
    def is_group(row: list[str]) -> bool:
        return len(row) > 2 and row[2] in ("naive_average", "weighted_average")


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise RunDirError(f"cannot read {path}: {exc}") from None


def index_records(path: Path) -> dict[tuple[str, int], RecordInfo]:
    """The latest line per (abbr, index), by the rules of rundir.read_records (an answer is
    never replaced by a later error for the same prompt; malformed lines are skipped), keeping
    only small facts and the line's offset."""
    out: dict[tuple[str, int], RecordInfo] = {}
    if not path.is_file():
        return out
    offset = 0
    with open(path, "rb") as f:
        for line in f:
            here = offset
            offset += len(line)
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if _record_problem(obj) is not None:
                continue
            answered = obj.get("error") is None and obj.get("prediction") is not None
            key = (obj["abbr"], obj["index"])
            previous = out.get(key)
            if previous is not None and previous.answered and not answered:
                if previous.fingerprint == obj["fingerprint"]:
                    continue
            usage = obj.get("usage") or {}
            out[key] = RecordInfo(
                offset=here,
                answered=answered,
                fingerprint=obj["fingerprint"],
                latency_s=float(obj.get("latency_s") or 0.0),
                prompt_tokens=_int(usage.get("prompt_tokens")),
                completion_tokens=_int(usage.get("completion_tokens")),
                finish_reason=obj.get("finish_reason"),
            )
    return out


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _verdict_and_score(detail: dict[str, Any]) -> tuple[bool | None, float | None]:
    correct = detail.get("correct")
    if isinstance(correct, bool):
        return correct, None
    for k, v in detail.items():
        if k not in _DETAIL_BOOKKEEPING and isinstance(v, int | float) and not isinstance(v, bool):
            return None, float(v)
    return None, None


def _extracted(detail: dict[str, Any]) -> Any:
    # Scorers that keep their own copy of the prediction ("pred") overwrite "answer" with the gold.
    return detail["pred"] if "pred" in detail else detail.get("answer")


@dataclass
class RunData:
    root: Path
    manifest: dict[str, Any]
    models: list[str]
    endpoints: dict[str, str]  # model -> api base
    subsets: list[SubsetFacts]  # every (model, sub-dataset) of the manifest, in its order
    summary: SummaryTable | None
    latencies: dict[str, list[float]]  # model -> every answered request's latency
    record_index: dict[str, dict[tuple[str, int], RecordInfo]]
    version: str = ""
    duration_s: float | None = None
    tokens: dict[str, int] = field(default_factory=dict)  # prompt / completion / total

    def subset(self, model: str, abbr: str) -> SubsetFacts | None:
        for s in self.subsets:
            if s.model == model and s.abbr == abbr:
                return s
        return None

    def details(self, model: str, abbr: str) -> list[dict[str, Any]]:
        body = _read_json(self.root / "results" / model / f"{abbr}.json")
        details = body.get("details") if isinstance(body, dict) else None
        return details if isinstance(details, list) else []

    def samples(self, model: str, abbr: str) -> Iterator[Sample]:
        """Every selected sample of a sub-dataset, in the run's order: the prompt and reply
        from its latest record line, the extraction, gold and verdict from results/ details."""
        facts = self.subset(model, abbr)
        if facts is None:
            return
        by_index = {d["index"]: d for d in self.details(model, abbr) if isinstance(d, dict) and "index" in d}
        index = self.record_index.get(model, {})
        golds: dict[int, Any] | None = None
        path = self.root / "records" / f"{model}.jsonl"
        with contextlib.ExitStack() as stack:
            f = stack.enter_context(open(path, "rb")) if path.is_file() else None
            for idx in facts.indices:
                info = index.get((abbr, idx))
                rec: dict[str, Any] = {}
                if info is not None and f is not None:
                    f.seek(info.offset)
                    with contextlib.suppress(orjson.JSONDecodeError):
                        rec = orjson.loads(f.readline())
                detail = by_index.get(idx)
                if detail is not None:
                    verdict, score = _verdict_and_score(detail)
                    state = "scored" if verdict is None else ("correct" if verdict else "wrong")
                    extracted, gold = _extracted(detail), detail.get("reference")
                else:
                    verdict = score = extracted = None
                    # An answer without results/ details: the run stopped before scoring.
                    state = "missing" if info is None else ("unscored" if info.answered else "failed")
                    if golds is None:
                        golds = self._golds(model, facts)
                    gold = golds.get(idx)
                yield Sample(
                    model=model, dataset=facts.dataset, abbr=abbr, index=idx,
                    prompt=rec.get("origin_prompt"), reply=rec.get("prediction"),
                    extracted=extracted, gold=gold, verdict=verdict, score=score,
                    error=rec.get("error") or (None if info is not None else "not requested (the run was interrupted)"),
                    latency_s=info.latency_s if info is not None and info.latency_s > 0 else None,
                    tokens=info.completion_tokens if info is not None and info.completion_tokens else None,
                    finish_reason=info.finish_reason if info is not None else None,
                    fingerprint=info.fingerprint if info is not None else None,
                    state=state,
                )  # fmt: skip

    def _golds(self, model: str, facts: SubsetFacts) -> dict[int, Any]:
        """predictions/<model>/<abbr>.json keys entries by position in the selection."""
        body = _read_json(self.root / "predictions" / model / f"{facts.abbr}.json")
        out: dict[int, Any] = {}
        if isinstance(body, dict):
            for pos, entry in body.items():
                with contextlib.suppress(ValueError, IndexError, TypeError):
                    out[facts.indices[int(pos)]] = entry.get("gold")
        return out


def _read_summary(root: Path) -> SummaryTable | None:
    files = sorted((root / "summary").glob("summary_*.csv"))
    if not files:
        return None
    try:
        with open(files[-1], encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise RunDirError(f"cannot read {files[-1]}: {exc}") from None
    return SummaryTable(rows[0], rows[1:]) if rows else None


def _duration(manifest: dict[str, Any]) -> float | None:
    import time

    try:
        start = time.mktime(time.strptime(manifest["created"], "%Y-%m-%d %H:%M:%S"))
        end = time.mktime(time.strptime(manifest["updated"], "%Y-%m-%d %H:%M:%S"))
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, end - start)


def load_run(path: str | Path) -> RunData:
    """Read a run directory (finished, interrupted or rescored); raises CompassliteError with
    one line naming the file when it is not a run directory or a file is damaged."""
    run_dir = RunDir.open(path)
    manifest = run_dir.read_manifest()
    try:
        cfg = RunConfig.model_validate(manifest["config"])
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign manifest
        raise CompassliteError(f"{run_dir.manifest_path}: cannot read the run's config ({exc})") from None
    models = [m.name for m in cfg.models]
    endpoints = {m.name: (", ".join(m.api_bases) or ("local model" if m.is_local else "")) for m in cfg.models}
    datasets = manifest.get("datasets") or {}
    record_index = {m: index_records(run_dir.records_path(m)) for m in models}
    latencies: dict[str, list[float]] = {m: [] for m in models}
    tokens = {"prompt": 0, "completion": 0, "total": 0}
    subsets: list[SubsetFacts] = []
    for model in models:
        index = record_index[model]
        for name, subs in datasets.items():
            for abbr, entry in subs.items():
                indices = select_indices(int(entry.get("rows", 0)), cfg.limit, cfg.limit_mode)
                body = _read_json(run_dir.results_path(model, abbr)) or {}
                counts = body.get("samples") or {}
                facts = SubsetFacts(
                    model=model, dataset=name, abbr=abbr, version=str(entry.get("version", "")),
                    prompt_fingerprint=str(entry.get("prompt_fingerprint", "")), indices=indices,
                    metrics={k: float(v) for k, v in body.items()
                             if isinstance(v, int | float) and not isinstance(v, bool)},
                    total=len(indices), scored=_int(counts.get("scored")),
                    failed=_int(counts.get("failed_requests")), not_requested=_int(counts.get("not_requested")),
                    unfinished=_int(counts.get("unfinished_reasoning")),
                    error_messages=dict(body.get("failed_request_messages") or {}),
                )  # fmt: skip
                if not body:  # no results yet (an interrupted run before scoring): count from records
                    facts.not_requested = sum(1 for i in indices if (abbr, i) not in index)
                    facts.failed = sum(
                        1 for i in indices if (r := index.get((abbr, i))) is not None and not r.answered
                    )
                for d in body.get("details") or []:
                    if not isinstance(d, dict):
                        continue
                    verdict, _ = _verdict_and_score(d)
                    if verdict is True:
                        facts.correct += 1
                    elif verdict is False:
                        facts.wrong += 1
                    ex = _extracted(d)
                    if ex is None or (isinstance(ex, str) and ex.strip() in _EMPTY_EXTRACTIONS):
                        facts.empty += 1
                for i in indices:
                    info = index.get((abbr, i))
                    if info is None:
                        continue
                    facts.fingerprints.add(info.fingerprint)
                    if info.answered and info.latency_s > 0 and math.isfinite(info.latency_s):
                        latencies[model].append(info.latency_s)
                        facts.latency_sum += info.latency_s
                    facts.completion_tokens += info.completion_tokens
                    facts.prompt_tokens += info.prompt_tokens
                tokens["prompt"] += facts.prompt_tokens
                tokens["completion"] += facts.completion_tokens
                subsets.append(facts)
    tokens["total"] = tokens["prompt"] + tokens["completion"]
    return RunData(
        root=run_dir.root,
        manifest=manifest,
        models=models,
        endpoints=endpoints,
        subsets=subsets,
        summary=_read_summary(run_dir.root),
        latencies=latencies,
        record_index=record_index,
        version=str(manifest.get("compasslite_version", "")),
        duration_s=_duration(manifest),
        tokens=tokens,
    )
