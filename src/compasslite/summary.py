"""The summary table (spec A.11) and group averages (A.12), computed in one place."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from .benchmark import Benchmark, Group
from .types import DatasetResult

FAILED_SHOWN = 20  # failed sample indices listed per sub-dataset in the summary


@dataclass
class Row:
    dataset: str
    version: str
    metric: str
    mode: str
    values: list[str]
    is_group: bool = False


@dataclass
class Summary:
    models: list[str]
    rows: list[Row]
    group_notes: list[str] = field(default_factory=list)  # groups skipped for missing members
    skipped: dict[str, str] = field(default_factory=dict)  # abbr -> why it was not evaluated
    errors: list[str] = field(default_factory=list)  # per-subset error counts
    unfinished: list[str] = field(default_factory=list)  # per-subset unfinished-reasoning counts
    notes: list[str] = field(default_factory=list)  # run facts worth a line (overridden output budgets)
    failed_samples: list[str] = field(default_factory=list)  # per-subset indices of failed requests

    @property
    def header(self) -> list[str]:
        return ["dataset", "version", "metric", "mode", *self.models]


def group_value(group: Group, first_metric: dict[str, float | None]) -> tuple[str, float | None, str | None]:
    """(metric name, value or None, problem) for one model."""
    metric = "weighted_average" if group.weights is not None else "naive_average"
    values = [first_metric.get(m) for m in group.members]
    present = [v for v in values if v is not None]
    if not present:
        return metric, None, None
    if len(present) != len(values):
        missing = [m for m, v in zip(group.members, values, strict=True) if v is None]
        return metric, None, f"missing metrics for {len(missing)} member(s), e.g. {missing[0]}"
    if group.weights is None:
        return metric, sum(present) / len(present), None
    total_weight = sum(group.weights)
    return metric, sum(v * w for v, w in zip(present, group.weights, strict=True)) / total_weight, None


def build(
    benchmarks: Sequence[Benchmark],
    results: dict[str, dict[str, DatasetResult]],  # model -> abbr -> result
    *,
    with_groups: bool = True,
    skipped: dict[str, str] | None = None,
) -> Summary:
    models = list(results)
    rows: list[Row] = []
    summary = Summary(models=models, rows=rows, skipped=dict(skipped or {}))
    for bench in benchmarks:
        for sub in bench.subsets:
            per_model = [results[m].get(sub.abbr) for m in models]
            if all(r is None or not r.metrics for r in per_model):
                rows.append(Row(sub.abbr, "-", "-", "-", ["-"] * len(models)))
            else:
                for metric in sub.metrics:
                    values = []
                    for r in per_model:
                        v = r.metrics.get(metric) if r is not None else None
                        values.append(f"{v:.2f}" if isinstance(v, int | float) else "-")
                    rows.append(Row(sub.abbr, sub.version, metric, "gen", values))
                    if any(r is not None and metric in r.repeat_std for r in per_model):
                        stds = [
                            f"{r.repeat_std[metric]:.2f}" if r is not None and metric in r.repeat_std else "-"
                            for r in per_model
                        ]
                        rows.append(Row(sub.abbr, sub.version, f"{metric}_std", "gen", stds))
                        n = max(len(r.repeat_metrics) for r in per_model if r is not None)
                        note = (
                            f"Scores are means over {n} repeats (avg@{n}); rows <metric>_std give the sample "
                            "standard deviation across the repeats."
                        )
                        if note not in summary.notes:
                            summary.notes.append(note)
            # Also for a sub-dataset with no answer yet (interrupted, or every request failed).
            for m, r in zip(models, per_model, strict=True):
                if r is not None and r.scoring_interrupted:
                    summary.errors.append(
                        f"{m} / {sub.abbr}: not scored, the run was interrupted while scoring; "
                        f"{r.answered} answered sample(s) are kept (`compasslite run --resume` scores them)"
                    )
                if r is not None and r.failed_indices:
                    shown = ", ".join(map(str, r.failed_indices[:FAILED_SHOWN]))
                    more = f" and {len(r.failed_indices) - FAILED_SHOWN} more" if len(r.failed_indices) > FAILED_SHOWN else ""
                    summary.failed_samples.append(f"{m} / {sub.abbr}: {shown}{more}")
                if r is not None and (r.errors or r.missing):
                    parts = []
                    if r.errors:
                        top = (
                            max(r.error_messages.items(), key=lambda kv: kv[1])[0] if r.error_messages else ""
                        )
                        parts.append(f"{r.errors} failed request(s)" + (f", e.g. {top}" if top else ""))
                    if r.missing:
                        parts.append(f"{r.missing} not yet requested")
                    summary.errors.append(
                        f"{m} / {sub.abbr}: {r.answered}/{r.total} scored; " + "; ".join(parts)
                    )
                if r is not None and r.unfinished:
                    summary.unfinished.append(
                        f"{m} / {sub.abbr}: {r.unfinished} of {r.answered} replies ended inside their thinking"
                    )
    if with_groups:
        first_metric = {sub.abbr: sub.metrics[0] for bench in benchmarks for sub in bench.subsets}
        for bench in benchmarks:
            for group in bench.groups:
                # Each member contributes its first metric in summary order (spec A.11/A.12).
                first = {
                    m: {
                        abbr: (res.metrics.get(first_metric[abbr]) if res.metrics else None)
                        for abbr, res in results[m].items()
                        if abbr in first_metric
                    }
                    for m in models
                }
                values: list[str] = []
                metric_name = ""
                any_value = False
                for m in models:
                    metric_name, value, problem = group_value(group, first[m])
                    if problem:
                        summary.group_notes.append(f"{m} / {group.name}: {problem}")
                    values.append(f"{value:.2f}" if value is not None else "-")
                    any_value |= value is not None
                if any_value:
                    rows.append(Row(group.name, "-", metric_name, "gen", values, is_group=True))
    return summary


def to_csv(summary: Summary) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(summary.header)
    for row in summary.rows:
        writer.writerow([row.dataset, row.version, row.metric, row.mode, *row.values])
    return buf.getvalue()


def _plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _footer(summary: Summary) -> list[str]:
    out = []
    if any(r.is_group for r in summary.rows):
        out.append(
            "Rows with metric naive_average / weighted_average are group averages (OpenCompass groups)."
        )
    if summary.errors:
        out.append("Samples not scored (failed requests are never counted as wrong answers):")
        out.extend(f"  {e}" for e in summary.errors)
    if summary.failed_samples:
        out.append("Failed requests by sample (row index in the test split; a resume asks them again):")
        out.extend(f"  {f}" for f in summary.failed_samples)
    if summary.unfinished:
        out.append("Unfinished reasoning (scored as empty answers; raise --max-out-len):")
        out.extend(f"  {u}" for u in summary.unfinished)
    if summary.skipped:
        out.append("Not evaluated (data missing):")
        out.extend(f"  {abbr}: {why}" for abbr, why in summary.skipped.items())
    if summary.group_notes:
        out.append("Groups left out:")
        out.extend(f"  {n}" for n in summary.group_notes)
    out.extend(summary.notes)
    return out


def to_text(summary: Summary) -> str:
    body = [[r.dataset, r.version, r.metric, r.mode, *r.values] for r in summary.rows if not r.is_group]
    groups = [[r.dataset, r.version, r.metric, r.mode, *r.values] for r in summary.rows if r.is_group]
    text = _plain_table(summary.header, body + groups)
    if groups:
        lines = text.split("\n")
        lines.insert(2 + len(body), "  ".join("-" * len(x) for x in lines[1].split("  ")))
        text = "\n".join(lines)
    footer = _footer(summary)
    return text + "\n" + ("\n" + "\n".join(footer) + "\n" if footer else "")


def to_markdown(summary: Summary) -> str:
    lines = ["| " + " | ".join(summary.header) + " |", "|" + "|".join("-----" for _ in summary.header) + "|"]
    for r in summary.rows:
        name = f"**{r.dataset}** (average)" if r.is_group else r.dataset
        lines.append("| " + " | ".join([name, r.version, r.metric, r.mode, *r.values]) + " |")
    footer = _footer(summary)
    return "\n".join(lines) + "\n" + ("\n" + "\n".join(footer) + "\n" if footer else "")
