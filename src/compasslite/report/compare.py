"""`compasslite compare RUN_DIR RUN_DIR...`: runs side by side, with paired bootstrap
confidence intervals for the differences and the samples that flipped right <-> wrong.

Each (run, model) is a column named run/model; the first column is the baseline. Two
columns are compared on a sub-dataset only when they asked the same questions: the same
template fingerprint (manifest), the same selected rows, and, sample by sample, the same
prompt fingerprint in their records. Anything else is refused with one line naming the
sub-datasets, because a difference would then measure the prompts, not the models.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import CompassliteError
from . import page
from .data import RunData, Sample, _verdict_and_score, load_run

RESAMPLES = 1000
SEED = 20240601
FLIP_STATES = [("fixed", "wrong → right"), ("broke", "right → wrong")]


class IncomparableError(CompassliteError):
    """Sub-datasets whose prompts or selected samples differ between the compared runs."""


@dataclass
class Column:
    run: RunData
    model: str
    label: str  # run/model
    key: str = ""  # A, B, C...: short names in the page's lists


@dataclass
class Delta:
    """One sub-dataset (or group) of one column against the baseline."""

    delta: float | None  # official score difference (column - baseline)
    low: float | None = None  # 95% paired bootstrap interval of the per-sample difference
    high: float | None = None
    paired: int = 0  # samples scored in both
    fixed: int = 0  # wrong in the baseline, right here
    broke: int = 0  # right in the baseline, wrong here

    @property
    def significant(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


@dataclass
class Row:
    name: str  # sub-dataset abbr or group name
    metric: str
    is_group: bool
    scores: list[float | None]  # one per column
    deltas: list[Delta | None]  # one per column (None for the baseline)


@dataclass
class Comparison:
    columns: list[Column]
    rows: list[Row]
    only_in: dict[str, list[str]] = field(default_factory=dict)  # column label -> abbrs missing elsewhere
    flips: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # (column, abbr) -> indices
    base_of: list[int | None] = field(default_factory=list)  # each column's baseline column

    def pairs(self) -> list[tuple[int, int]]:
        """(baseline column, compared column) in column order."""
        return [(b, c) for c, b in enumerate(self.base_of) if b is not None]


# -------------------------------------------------------------- bootstrap
def _binomial(rng: random.Random, n: int, p: float) -> int:
    """A Binomial(n, p) draw: exact by geometric waiting times while n*p*(1-p) is small,
    a rounded normal beyond (where the two agree to well under a sample)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - _binomial(rng, n, 1.0 - p)
    if n * p * (1.0 - p) > 25.0:
        return min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1.0 - p))))))
    log_q = math.log1p(-p)
    successes = trials = 0
    while True:
        trials += int(math.log(1.0 - rng.random()) / log_q) + 1
        if trials > n:
            return successes
        successes += 1


def bootstrap_binary(
    fixed: int, broke: int, n: int, rng: random.Random, resamples: int = RESAMPLES
) -> list[float]:
    """Resampled differences (in points of 100) of paired right/wrong verdicts: resampling n
    pairs with replacement only changes how many of the `fixed` (+1) and `broke` (-1) pairs
    are drawn, a multinomial drawn here as two binomials, so the cost does not grow with n."""
    if n == 0:
        return []
    p_fixed, p_broke = fixed / n, broke / n
    out = []
    for _ in range(resamples):
        k_fixed = _binomial(rng, n, p_fixed)
        k_broke = _binomial(rng, n - k_fixed, p_broke / (1.0 - p_fixed)) if p_fixed < 1.0 else 0
        out.append(100.0 * (k_fixed - k_broke) / n)
    return out


def bootstrap_values(diffs: Sequence[float], rng: random.Random, resamples: int = RESAMPLES) -> list[float]:
    """Resampled means of paired per-sample score differences (ROUGE and other scores)."""
    n = len(diffs)
    if n == 0:
        return []
    return [math.fsum(rng.choices(diffs, k=n)) / n for _ in range(resamples)]


def interval(resampled: Sequence[float]) -> tuple[float, float] | None:
    """The 95% percentile interval."""
    if not resampled:
        return None
    ordered = sorted(resampled)
    lo = ordered[int(0.025 * (len(ordered) - 1))]
    hi = ordered[int(math.ceil(0.975 * (len(ordered) - 1)))]
    return lo, hi


# --------------------------------------------------------------- pairing
def _label(runs: Sequence[RunData], run: RunData, model: str) -> str:
    names = [r.root.name for r in runs]
    name = run.root.name if names.count(run.root.name) == 1 else str(run.root)
    return f"{name}/{model}"


def _columns(runs: Sequence[RunData]) -> list[Column]:
    cols = [Column(run, model, _label(runs, run, model)) for run in runs for model in run.models]
    for i, col in enumerate(cols):
        col.key = chr(ord("A") + i) if i < 26 else f"C{i + 1}"
    return cols


def check_comparable(columns: Sequence[Column]) -> None:
    """Raise IncomparableError naming every sub-dataset the columns share but whose prompts or
    selected samples differ."""
    problems: dict[str, set[str]] = {}
    base_of: dict[str, tuple[Column, Any]] = {}
    for col in columns:
        for facts in col.run.subsets:
            if facts.model != col.model:
                continue
            first = base_of.get(facts.abbr)
            if first is None:
                base_of[facts.abbr] = (col, facts)
                continue
            base_col, base = first
            why = []
            if base.prompt_fingerprint != facts.prompt_fingerprint:
                why.append("prompt template")
            if base.indices != facts.indices:
                why.append("selected samples")
            else:
                a = base_col.run.record_index.get(base_col.model, {})
                b = col.run.record_index.get(col.model, {})
                if any(
                    (ra := a.get((facts.abbr, i))) is not None and (rb := b.get((facts.abbr, i))) is not None
                    and ra.fingerprint != rb.fingerprint
                    for i in facts.indices
                ):  # fmt: skip
                    why.append("prompts sent")
            if why:
                problems.setdefault(facts.abbr, set()).update(why)
    if problems:
        named = "; ".join(f"{abbr} ({', '.join(sorted(why))})" for abbr, why in sorted(problems.items()))
        raise IncomparableError(
            f"cannot compare: these sub-datasets differ between the runs, so their scores measure different "
            f"questions: {named}"
        )


def _groups(run: RunData) -> list[tuple[str, tuple[str, ...], tuple[float, ...] | None]]:
    from ..benchmark import resolve

    try:
        benchmarks = resolve((run.manifest.get("config") or {}).get("datasets") or [])
    except Exception:  # noqa: BLE001 - a custom dataset file gone since: no groups, still a comparison
        return []
    return [(g.name, g.members, g.weights) for b in benchmarks for g in b.groups]


def _summary_scores(
    col: Column,
) -> tuple[dict[str, tuple[str, float | None]], dict[str, tuple[str, float | None]]]:
    """(abbr -> (first metric, value), group -> (metric, value)) from the run's summary table."""
    subs: dict[str, tuple[str, float | None]] = {}
    groups: dict[str, tuple[str, float | None]] = {}
    summary = col.run.summary
    if summary is None or col.model not in summary.header:
        return subs, groups
    at = summary.header.index(col.model)
    for row in summary.rows:
        try:
            value: float | None = float(row[at])
        except (ValueError, IndexError):
            value = None
        if summary.is_group(row):
            groups.setdefault(row[0], (row[2], value))
        elif row[2] != "-":
            subs.setdefault(row[0], (row[2], value))
    return subs, groups


def _verdicts(col: Column, abbr: str) -> dict[int, tuple[bool | None, float | None]]:
    """index -> (verdict, per-sample score) from results/ details alone (no prompts read)."""
    return {d["index"]: _verdict_and_score(d) for d in col.run.details(col.model, abbr)
            if isinstance(d, dict) and isinstance(d.get("index"), int)}  # fmt: skip


def _pairs(base: Column, other: Column, abbr: str) -> Iterator[tuple[Sample, Sample]]:
    a = base.run.samples(base.model, abbr)
    b = other.run.samples(other.model, abbr)
    yield from zip(a, b, strict=False)


def baselines(columns: Sequence[Column]) -> list[int | None]:
    """The column each column is compared with (None: it is a baseline). With several runs,
    a model is compared with the same model of the first run when that run has it (per model);
    otherwise, and with one run of several models, with the first column."""
    first_run = columns[0].run
    out: list[int | None] = []
    for ci, col in enumerate(columns):
        if col.run is first_run:
            multi_run = any(c.run is not first_run for c in columns)
            out.append(None if ci == 0 or multi_run else 0)
            continue
        same = next((k for k, c in enumerate(columns) if c.run is first_run and c.model == col.model), None)
        out.append(same if same is not None else 0)
    return out


def compare(paths: Sequence[str | Path], *, resamples: int = RESAMPLES, seed: int = SEED) -> Comparison:
    """Load the runs, refuse incomparable ones, and compute scores, deltas and flips."""
    runs = [load_run(p) for p in paths]
    columns = _columns(runs)
    if len(columns) < 2:
        raise CompassliteError("compare needs at least two runs (or one run with several models)")
    check_comparable(columns)
    base_of = baselines(columns)
    per_col = [_summary_scores(c) for c in columns]
    facts_of = [{f.abbr: f for f in c.run.subsets if f.model == c.model} for c in columns]
    abbrs: list[str] = list(dict.fromkeys(a for facts in facts_of for a in facts))
    comparison = Comparison(columns, [], base_of=base_of)
    for ci, col in enumerate(columns):
        missing = [a for a in abbrs if a not in facts_of[ci]]
        if missing:
            comparison.only_in[col.label] = missing
    rng = random.Random(seed)
    resampled: dict[tuple[int, str], list[float]] = {}
    for abbr in abbrs:
        metric = next((s[0][abbr][0] for s in per_col if abbr in s[0]), "-")
        # Unrounded values from results/ where the summary's metric is there.
        scores: list[float | None] = []
        for ci in range(len(columns)):
            facts = facts_of[ci].get(abbr)
            value = facts.metrics.get(metric) if facts is not None else None
            scores.append(value if value is not None else per_col[ci][0].get(abbr, ("", None))[1])
        deltas: list[Delta | None] = []
        for ci, col in enumerate(columns):
            bi = base_of[ci]
            if bi is None or abbr not in facts_of[bi] or abbr not in facts_of[ci]:
                deltas.append(None)
                continue
            a, b = scores[bi], scores[ci]
            d = Delta(delta=None if a is None or b is None else b - a)
            value_diffs: list[float] = []
            flips: list[int] = []
            va, vb = _verdicts(columns[bi], abbr), _verdicts(col, abbr)
            for idx in facts_of[ci][abbr].indices:
                (a_ok, a_score), (b_ok, b_score) = va.get(idx, (None, None)), vb.get(idx, (None, None))
                if a_ok is not None and b_ok is not None:
                    d.paired += 1
                    if b_ok and not a_ok:
                        d.fixed += 1
                        flips.append(idx)
                    elif a_ok and not b_ok:
                        d.broke += 1
                        flips.append(idx)
                elif a_score is not None and b_score is not None:
                    d.paired += 1
                    value_diffs.append(b_score - a_score)
            if value_diffs:
                samples = bootstrap_values(value_diffs, rng, resamples)
            else:
                samples = bootstrap_binary(d.fixed, d.broke, d.paired, rng, resamples)
            resampled[(ci, abbr)] = samples
            ci95 = interval(samples)
            if ci95:
                d.low, d.high = ci95
            if flips:
                comparison.flips[(ci, abbr)] = flips
            deltas.append(d)
        comparison.rows.append(Row(abbr, metric, False, scores, deltas))
    # Groups: the same average of the members' resampled differences as the group of scores.
    by_name = {r.name: r for r in comparison.rows}
    seen: set[str] = set()
    for run in runs:
        for name, members, weights in _groups(run):
            if name in seen:
                continue
            seen.add(name)
            group_scores = [s[1].get(name, ("", None))[1] for s in per_col]
            if all(v is None for v in group_scores):
                continue
            metric = next((s[1][name][0] for s in per_col if name in s[1]), "naive_average")
            group_deltas: list[Delta | None] = []
            for ci in range(len(columns)):
                bi = base_of[ci]
                if bi is None:
                    group_deltas.append(None)
                    continue
                a, b = group_scores[bi], group_scores[ci]
                d = Delta(delta=None if a is None or b is None else b - a)
                parts = [resampled.get((ci, m)) for m in members]
                if d.delta is not None and parts and all(parts):
                    w = list(weights) if weights else [1.0] * len(members)
                    total = sum(w)
                    n = min(len(p) for p in parts if p)
                    combined = [
                        sum(wi * p[k] for wi, p in zip(w, parts, strict=True) if p) / total for k in range(n)
                    ]
                    ci95 = interval(combined)
                    if ci95:
                        d.low, d.high = ci95
                for m in members:
                    member = by_name.get(m)
                    md = member.deltas[ci] if member is not None else None
                    if md is not None:
                        d.paired += md.paired
                        d.fixed += md.fixed
                        d.broke += md.broke
                group_deltas.append(d)
            comparison.rows.append(Row(name, metric, True, group_scores, group_deltas))
    return comparison


# ----------------------------------------------------------------- output
def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _ci(d: Delta | None) -> str:
    if d is None or d.low is None or d.high is None:
        return "-"
    return f"[{d.low:+.2f}, {d.high:+.2f}]"


def print_table(comparison: Comparison, console: Any) -> None:
    """One table per compared pair: the baseline's score, the other's, Δ, interval, flips."""
    from rich.table import Table
    from rich.text import Text

    cols = comparison.columns
    for bi, ci in comparison.pairs():
        table = Table(title=f"{cols[ci].label} vs {cols[bi].label}", title_justify="left")
        for name in ("dataset", "metric"):
            table.add_column(name)
        for name in ("baseline", "this", "Δ", "95% CI", "paired", "flips +/-"):
            table.add_column(name, justify="right")
        for row in sorted(comparison.rows, key=lambda r: r.is_group):
            d = row.deltas[ci]
            if d is None:
                continue
            delta = "-" if d.delta is None else f"{d.delta:+.2f}"
            style = "" if not d.significant else ("green" if (d.delta or 0) > 0 else "red")
            flips = "-" if not d.fixed and not d.broke else f"+{d.fixed}/-{d.broke}"
            table.add_row(
                Text(row.name), Text(row.metric), Text(_fmt(row.scores[bi])), Text(_fmt(row.scores[ci])),
                Text(delta, style=style), Text(_ci(d)), Text(str(d.paired)), Text(flips),
                style="bold cyan" if row.is_group else None,
            )  # fmt: skip
        console.print(table)
    for label, missing in comparison.only_in.items():
        console.print(f"not in {label}: {', '.join(missing)}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        "baseline: the first run's column of the same model (or the first column); Δ: this minus baseline; "
        f"95% CI: paired bootstrap over the samples scored in both ({RESAMPLES} resamples); flips: samples "
        "wrong->right (+) and right->wrong (-); a coloured Δ: its interval excludes 0.",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip


def _flip_items(comparison: Comparison, ci: int, abbr: str) -> Iterator[dict[str, Any]]:
    base, col = comparison.columns[comparison.base_of[ci] or 0], comparison.columns[ci]
    wanted = set(comparison.flips.get((ci, abbr), []))
    for sa, sb in _pairs(base, col, abbr):
        if sa.index not in wanted:
            continue
        yield {
            "i": sa.index,
            "s": "fixed" if sb.verdict else "broke",
            "p": sb.prompt if sb.prompt is not None else sa.prompt,
            "g": sb.gold if sb.gold is not None else sa.gold,
            "sides": [
                {"key": base.key, "label": base.label, "r": sa.reply, "x": sa.extracted, "v": sa.verdict},
                {"key": col.key, "label": col.label, "r": sb.reply, "x": sb.extracted, "v": sb.verdict},
            ],
        }


def render(comparison: Comparison, out: IO[str]) -> None:
    cols = comparison.columns
    with tempfile.TemporaryFile("w+", encoding="utf-8") as chunk_file:
        chunks = []
        for n, ((ci, abbr), flips) in enumerate(sorted(comparison.flips.items())):
            chunk_id = f"f{n}"
            page.write_chunk(chunk_file, chunk_id, _flip_items(comparison, ci, abbr))
            row = next(r for r in comparison.rows if r.name == abbr and not r.is_group)
            d = row.deltas[ci]
            dataset = next((f.dataset for f in cols[ci].run.subsets if f.abbr == abbr), abbr)
            base_label = cols[comparison.base_of[ci] or 0].label
            chunks.append({"id": chunk_id, "model": f"{base_label} → {cols[ci].label}",
                           "short": f"{cols[comparison.base_of[ci] or 0].key}→{cols[ci].key}", "dataset": dataset,
                           "abbr": abbr, "n": len(flips),
                           "counts": {"fixed": d.fixed if d else 0, "broke": d.broke if d else 0}})  # fmt: skip
        page.head(out, "compasslite compare", " vs ".join(c.label for c in cols),
                  [("overview", "Scores"), ("samples", "Flipped samples")])  # fmt: skip
        out.write('<section class="tab active" id="tab-overview">')
        out.write(_columns_card(comparison))
        out.write(_table(comparison))
        out.write(_bars(comparison))
        out.write('</section>\n<section class="tab" id="tab-samples">')
        out.write('<p class="muted">Samples right in a column and wrong in its baseline, or the other way round; '
                  "open one to read both replies.</p>")  # fmt: skip
        out.write(page.SAMPLE_BROWSER)
        out.write("</section>\n")
        page.tail(out, {"chunks": chunks, "states": FLIP_STATES, "modelLabel": "all pairs"}, chunk_file)


def _columns_card(comparison: Comparison) -> str:
    rows = []
    for c in comparison.columns:
        m = c.run.manifest
        rows.append([c.key, c.label, str(c.run.root), c.model, c.run.endpoints.get(c.model, ""), m.get("status", ""),
                     m.get("created", ""), c.run.version])  # fmt: skip
    return ('<div class="card"><h2>Compared</h2>'
            + page.table(["", "column", "run directory", "model", "endpoint", "status", "started", "compasslite"], rows,
                         table_id="columns-table")
            + "</div>")  # fmt: skip


def _bars(comparison: Comparison) -> str:
    groups = [r for r in comparison.rows if r.is_group]
    rows = groups if groups else comparison.rows
    rows = rows[:60]
    labels = [r.name for r in rows]
    series = [(c.key, [r.scores[i] for r in rows]) for i, c in enumerate(comparison.columns)]
    title = "Group averages" if groups else "Scores"
    return (f'<div class="card"><h2>{title}</h2>' + page.legend([f"{c.key}: {c.label}" for c in comparison.columns])
            + page.hbar_chart(labels, series, chart_id="chart-compare", max_value=100.0) + "</div>")  # fmt: skip


def _table(comparison: Comparison) -> str:
    """One table per compared pair, group averages first: baseline, this, Δ, interval, flips."""
    cols = comparison.columns
    out = ['<div class="card"><h2>Scores and differences</h2><p class="muted">Each column is compared with the '
           "first run's column of the same model (or the first column). Δ is its score minus that baseline's; "
           f"the 95% interval is a paired bootstrap over the samples scored in both ({RESAMPLES} resamples, "
           "seeded); flips count samples wrong→right (+) and right→wrong (−). A coloured Δ: its interval "
           "excludes 0.</p>"]  # fmt: skip
    for bi, ci in comparison.pairs():
        out.append(f"<h3>{page.esc(cols[ci].key)}: {page.esc(cols[ci].label)} vs "
                   f"{page.esc(cols[bi].key)}: {page.esc(cols[bi].label)}</h3>")  # fmt: skip
        head = [
            "dataset",
            "metric",
            f"{cols[bi].key} (baseline)",
            cols[ci].key,
            "Δ",
            "95% CI",
            "paired",
            "flips +/−",
        ]
        out.append(f'<table class="compare-table" id="compare-table-{ci}"><thead><tr>')
        out.append("".join(f"<th>{page.esc(h)}</th>" for h in head) + "</tr></thead><tbody>")
        for row in sorted(comparison.rows, key=lambda r: not r.is_group):
            d = row.deltas[ci]
            if d is None:
                continue
            cls = ' class="group"' if row.is_group else ""
            delta = "-" if d.delta is None else f"{d.delta:+.2f}"
            sign = "" if not d.significant else (" pos" if (d.delta or 0) > 0 else " neg")
            flips = "-" if not d.fixed and not d.broke else f"+{d.fixed}/−{d.broke}"
            out.append(
                f'<tr{cls} data-name="{page.esc(row.name)}"><td>{page.esc(row.name)}</td><td>{page.esc(row.metric)}</td>'
                f'<td class="num">{_fmt(row.scores[bi])}</td><td class="num">{_fmt(row.scores[ci])}</td>'
                f'<td class="num delta{sign}">{delta}</td><td class="num ci">{_ci(d)}</td>'
                f'<td class="num">{d.paired}</td><td class="num flips">{flips}</td></tr>'
            )
        out.append("</tbody></table>")
    for label, missing in comparison.only_in.items():
        out.append(f'<p class="muted">Not in {page.esc(label)}: {page.esc(", ".join(missing))}</p>')
    out.append("</div>")
    return "".join(out)


def write_html(comparison: Comparison, path: str | Path) -> Path:
    return page.write_page(path, lambda f: render(comparison, f))


__all__ = ["Comparison", "IncomparableError", "compare", "print_table", "write_html"]
