"""summary/report.html: one self-contained page for a run (overview, latency, samples)."""

from __future__ import annotations

import logging
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from . import page
from .data import RunData, Sample, SubsetFacts, load_run

log = logging.getLogger("compasslite")

STATES = [("correct", "correct"), ("wrong", "wrong"), ("failed", "failed request"),
          ("empty", "extraction empty"), ("scored", "scored"), ("missing", "not requested"), ("unscored", "not scored yet")]  # fmt: skip


def sample_item(s: Sample) -> dict[str, Any]:
    """The compact form the page's script reads (absent fields are left out)."""
    item: dict[str, Any] = {
        "i": s.index,
        "s": s.state,
        "p": s.prompt,
        "r": s.reply,
        "x": s.extracted,
        "g": s.gold,
    }
    if s.extraction_empty:
        item["e"] = 1
    for key, value in (
        ("sc", s.score),
        ("er", s.error),
        ("l", s.latency_s),
        ("tk", s.tokens),
        ("fr", s.finish_reason),
    ):
        if value is not None:
            item[key] = value
    return item


def _fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


# --------------------------------------------------------------- overview
def dataset_scores(data: RunData) -> tuple[list[str], dict[str, list[float | None]]]:
    """One score per dataset and model for the bars: the dataset's own group average when the
    summary has one (mmlu, ceval, ...), else its single sub-dataset's first metric, else the
    mean of its sub-datasets' first metrics."""
    summary = data.summary
    names = list(dict.fromkeys(s.dataset for s in data.subsets))
    per: dict[str, list[float | None]] = {m: [] for m in data.models}
    rows = summary.rows if summary else []
    col = {m: summary.header.index(m) for m in data.models if summary and m in summary.header}

    def value(row: list[str], model: str) -> float | None:
        try:
            return float(row[col[model]])
        except (KeyError, ValueError, IndexError):
            return None

    for name in names:
        group = next((r for r in rows if r[0] == name and summary and summary.is_group(r)), None)
        subs = list(dict.fromkeys(s.abbr for s in data.subsets if s.dataset == name))
        for model in data.models:
            if group is not None:
                per[model].append(value(group, model))
                continue
            firsts = []
            for abbr in subs:
                first = next((r for r in rows if r[0] == abbr and r[2] != "-"), None)
                firsts.append(value(first, model) if first else None)
            present = [v for v in firsts if v is not None]
            per[model].append(statistics.fmean(present) if present and len(present) == len(firsts) else None)
    return names, per


def _run_facts(data: RunData) -> str:
    m = data.manifest
    cfg = m.get("config") or {}
    n_samples = sum(s.total for s in data.subsets) // max(1, len(data.models))
    facts = [
        ("run directory", str(data.root)),
        ("status", m.get("status", "-")),
        ("started / last update", f"{m.get('created', '-')} / {m.get('updated', '-')}"),
        ("duration", _duration(data.duration_s)),
        ("compasslite", f"{data.version} (Python {m.get('python', '-')}, {m.get('platform', '-')})"),
        ("datasets", f"{len({s.dataset for s in data.subsets})} datasets, "
                     f"{len({s.abbr for s in data.subsets})} sub-datasets, {n_samples} samples per model"),
        ("tokens used", f"{data.tokens.get('total', 0):,} ({data.tokens.get('prompt', 0):,} prompt + "
                        f"{data.tokens.get('completion', 0):,} completion, as the server counted)"),
        ("data dir", m.get("data_dir", "-")),
    ]  # fmt: skip
    out = ['<div class="card" id="run-facts"><h2>Run</h2><dl class="facts">']
    for k, v in facts:
        out.append(f"<dt>{page.esc(k)}</dt><dd>{page.esc(v)}</dd>")
    out.append("</dl>")
    model_rows = []
    for i, mc in enumerate(cfg.get("models") or []):
        name = data.models[i] if i < len(data.models) else mc.get("path", "")
        model_rows.append([
            name, mc.get("path", ""), data.endpoints.get(name, ""),
            "meta template" if mc.get("meta_template") else ("chat" if mc.get("is_chat") is not False else "completion"),
            mc.get("temperature", ""), mc.get("max_out_len", ""),
        ])  # fmt: skip
    out.append('<h2 style="margin-top:14px">Models</h2>')
    out.append(
        page.table(
            ["model", "path", "endpoint", "API", "temperature", "max_out_len"], model_rows, table_id="models"
        )
    )
    out.append('<details style="margin-top:10px"><summary>Configuration (no secrets)</summary><pre>')
    out.append(page.esc(orjson.dumps(cfg, option=orjson.OPT_INDENT_2).decode()))
    out.append("</pre></details></div>")
    return "".join(out)


def _scores(data: RunData) -> str:
    names, per = dataset_scores(data)
    out = ['<div class="card" id="scores"><h2>Scores per dataset</h2>', page.legend(data.models)]
    out.append(
        page.hbar_chart(names, [(m, per[m]) for m in data.models], chart_id="chart-scores", max_value=100.0)
    )
    out.append('<p class="muted">A dataset with groups shows its own group average (as in the summary); '
               "others their sub-dataset's first metric, or the mean over their sub-datasets.</p>")  # fmt: skip
    summary = data.summary
    if summary:
        groups = [r for r in summary.rows if summary.is_group(r)]
        if groups:
            out.append("<h2>Group averages</h2>")
            out.append(page.table(summary.header, groups, table_id="group-table"))
    out.append("</div>")
    return "".join(out)


def _summary_table(data: RunData) -> str:
    summary = data.summary
    if not summary:
        return ""
    opened = " open" if len(summary.rows) <= 40 else ""
    return (
        f'<div class="card"><details id="summary-details"{opened}><summary><b>Summary table</b> '
        f"({len(summary.rows)} rows, as summary/summary_*.csv)</summary>"
        + page.table(summary.header, summary.rows, table_id="summary-table",
                     row_classes=("group" if summary.is_group(r) else "" for r in summary.rows))
        + "</details></div>"
    )  # fmt: skip


def _failures(data: RunData) -> str:
    rows = []
    for s in data.subsets:
        if s.failed or s.not_requested:
            top = max(s.error_messages.items(), key=lambda kv: kv[1])[0] if s.error_messages else ""
            rows.append([s.model, s.abbr, f"{s.scored}/{s.total}", s.failed, s.not_requested, top])
    total_failed = sum(s.failed for s in data.subsets)
    total_missing = sum(s.not_requested for s in data.subsets)
    out = [f'<div class="card" id="failures" data-failed="{total_failed}" data-missing="{total_missing}">'
           f"<h2>Failed requests: {total_failed}</h2>"]  # fmt: skip
    if rows:
        out.append('<p class="muted">A failed request is not scored (never counted as a wrong answer); '
                   "<code>compasslite run --resume RUN_DIR</code> asks it again.</p>")  # fmt: skip
        out.append(page.table(["model", "sub-dataset", "scored", "failed", "not requested", "most frequent error"],
                              rows, table_id="failures-table"))  # fmt: skip
    else:
        out.append('<p class="muted">Every selected sample was answered.</p>')
    out.append("</div>")
    return "".join(out)


def _latency(data: RunData) -> str:
    out = ['<div class="card" id="latency"><h2>Request latency</h2>']
    stats_rows = []
    for i, model in enumerate(data.models):
        lat = data.latencies.get(model, [])
        if lat:
            q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
            stats_rows.append([model, len(lat), f"{statistics.fmean(lat):.3f}", f"{q[49]:.3f}", f"{q[89]:.3f}",
                               f"{q[98]:.3f}", f"{max(lat):.3f}"])  # fmt: skip
        else:
            stats_rows.append([model, 0, "-", "-", "-", "-", "-"])
        out.append(f"<h3>{page.esc(model)}</h3>")
        out.append(page.histogram(lat, chart_id=f"hist-{i}", series=model, colour=page.color(i)))
    out.append(page.table(["model", "requests", "mean s", "p50 s", "p90 s", "p99 s", "max s"], stats_rows,
                          table_id="latency-table"))  # fmt: skip
    out.append("</div>")
    # Tokens per second per dataset: completion tokens over the summed latency of its requests.
    names = list(dict.fromkeys(s.dataset for s in data.subsets))
    series = []
    rows = []
    for model in data.models:
        values: list[float | None] = []
        for name in names:
            subs = [s for s in data.subsets if s.model == model and s.dataset == name]
            toks = sum(s.completion_tokens for s in subs)
            secs = sum(s.latency_sum for s in subs)
            values.append(toks / secs if secs > 0 and toks else None)
            rows.append([model, name, toks, f"{secs:.1f}", _fmt(values[-1], 1)])
        series.append((model, values))
    out.append('<div class="card" id="throughput"><h2>Tokens per second per dataset</h2>')
    out.append('<p class="muted">Completion tokens (as the server reported them) divided by the summed latency of '
               "the dataset's requests: the speed of one request, not the run's throughput.</p>")  # fmt: skip
    out.append(page.legend(data.models))
    out.append(page.hbar_chart(names, series, chart_id="chart-tps", digits=1))
    out.append("<details><summary>Table</summary>")
    out.append(page.table(["model", "dataset", "completion tokens", "latency s (sum)", "tokens/s"], rows,
                          table_id="tps-table"))  # fmt: skip
    out.append("</details></div>")
    return "".join(out)


# -------------------------------------------------------------- agreement
def _agreement_fn() -> Any:
    """compasslite.report.agreement.agreement when that module is present and working."""
    try:
        from . import agreement as mod
    except Exception:  # noqa: BLE001 - absent or broken: the report goes on without it
        return None
    fn = getattr(mod, "agreement", None)
    return fn if callable(fn) else None


def _agreement(data: RunData) -> str | None:
    fn = _agreement_fn()
    if fn is None:
        return None
    rows: list[tuple[SubsetFacts, Any]] = []
    for facts in data.subsets:
        if not facts.scored:
            continue
        try:
            result = fn(data.details(facts.model, facts.abbr), dataset=facts.dataset, abbr=facts.abbr)
        except Exception as exc:  # noqa: BLE001 - one sub-dataset's problem must not cost the report
            log.warning("report: extraction agreement of %s / %s failed: %s", facts.model, facts.abbr, exc)
            continue
        if result is not None:
            rows.append((facts, result))
    if not rows:
        return None
    # The sub-datasets where the extractions disagree most first.
    rows.sort(key=lambda fr: (-abs(fr[1].robust_score - fr[1].official_score), -len(fr[1].disagreements)))
    out = ['<div class="card" id="agreement"><h2>Extraction agreement</h2>'
           '<p class="muted">Beside the official (OpenCompass-exact) score, a score from a robust extraction '
           "(tolerant letter and number extraction, &lt;think&gt; removed, full-width characters normalised). "
           "A large gap means the official score reflects the answer extraction more than the model. "
           "The official score stays the one reported.</p>"]  # fmt: skip
    header = ["model", "sub-dataset", "official", "robust", "difference", "samples", "disagreements"]
    out.append('<table id="agreement-table"><thead><tr>' + "".join(f"<th>{page.esc(h)}</th>" for h in header))
    out.append("</tr></thead><tbody>")
    for facts, r in rows:
        diff = r.robust_score - r.official_score
        cls = "pos" if diff > 0 else ("neg" if diff < 0 else "")
        out.append(
            f'<tr data-model="{page.esc(facts.model)}" data-abbr="{page.esc(facts.abbr)}"><td>{page.esc(facts.model)}</td>'
            f"<td>{page.esc(facts.abbr)}</td><td>{r.official_score:.2f}</td><td>{r.robust_score:.2f}</td>"
            f'<td class="{cls}">{diff:+.2f}</td><td>{r.n}</td><td>{len(r.disagreements)}</td></tr>'
        )
    out.append("</tbody></table>")
    for facts, r in rows:
        if not r.disagreements:
            continue
        shown = r.disagreements[:100]
        out.append(f"<details><summary>{page.esc(facts.model)} / {page.esc(facts.abbr)}: {len(r.disagreements)} "
                   f"sample(s) where the extractions disagree</summary>")  # fmt: skip
        out.append("<table><thead><tr><th>sample</th><th>official answer</th><th>robust answer</th><th>gold</th>"
                   "<th>official</th><th>robust</th></tr></thead><tbody>")  # fmt: skip
        for d in shown:
            idx = d.get("index")
            link = (f'<a class="sample-link" href="#samples" data-model="{page.esc(facts.model)}" '
                    f'data-abbr="{page.esc(facts.abbr)}" data-index="{page.esc(idx)}">#{page.esc(idx)}</a>')  # fmt: skip
            out.append(
                f"<tr><td>{link}</td><td>{page.esc(d.get('official_answer'))}</td><td>{page.esc(d.get('robust_answer'))}</td>"
                f"<td>{page.esc(d.get('reference'))}</td><td>{_mark(d.get('official_correct'))}</td>"
                f"<td>{_mark(d.get('robust_correct'))}</td></tr>"
            )
        out.append("</tbody></table>")
        if len(r.disagreements) > len(shown):
            out.append(f'<p class="muted">and {len(r.disagreements) - len(shown)} more</p>')
        out.append("</details>")
    out.append("</div>")
    return "".join(out)


def _mark(v: Any) -> str:
    return "right" if v is True else ("wrong" if v is False else page.esc(v))


# ----------------------------------------------------------------- writing
def _write_chunks(data: RunData, out: IO[str]) -> list[dict[str, Any]]:
    chunks = []
    for n, facts in enumerate(data.subsets):
        counts: dict[str, int] = {}

        def items(facts: SubsetFacts = facts, counts: dict[str, int] = counts) -> Iterator[dict[str, Any]]:
            for s in data.samples(facts.model, facts.abbr):
                item = sample_item(s)
                counts[s.state] = counts.get(s.state, 0) + 1
                if item.get("e"):
                    counts["empty"] = counts.get("empty", 0) + 1
                yield item

        chunk_id = f"c{n}"
        page.write_chunk(out, chunk_id, items())
        chunks.append({"id": chunk_id, "model": facts.model, "dataset": facts.dataset, "abbr": facts.abbr,
                       "n": sum(v for k, v in counts.items() if k != "empty"), "counts": counts})  # fmt: skip
    return chunks


def render(data: RunData, out: IO[str]) -> None:
    """Write the page to `out`, the sample data last (see page.tail)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as chunk_file:
        chunks = _write_chunks(data, chunk_file)
        agreement = _agreement(data)
        tabs = [("overview", "Overview"), ("latency", "Latency & throughput"), ("samples", "Samples")]
        if agreement:
            tabs.append(("agreement", "Extraction agreement"))
        m = data.manifest
        subtitle = (f"{', '.join(data.models)} · {m.get('status', '')} · {m.get('created', '')} · "
                    f"compasslite {data.version}")  # fmt: skip
        page.head(out, f"compasslite report: {data.root.name}", subtitle, tabs)
        out.write('<section class="tab active" id="tab-overview">')
        out.write(_scores(data))
        out.write(_failures(data))
        out.write(_run_facts(data))
        out.write(_summary_table(data))
        out.write('</section>\n<section class="tab" id="tab-latency">')
        out.write(_latency(data))
        out.write('</section>\n<section class="tab" id="tab-samples">')
        out.write(page.SAMPLE_BROWSER)
        out.write("</section>\n")
        if agreement:
            out.write(f'<section class="tab" id="tab-agreement">{agreement}</section>\n')
        meta = {"chunks": chunks, "states": STATES}
        page.tail(out, meta, chunk_file)


def default_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "summary" / "report.html"


def write_report(
    run_dir: str | Path, out_path: str | Path | None = None, *, data: RunData | None = None
) -> Path:
    """Write the report of a run (default RUN_DIR/summary/report.html) and return its path.
    Written to a temporary file beside the target and renamed: never a half-written page."""
    data = data or load_run(run_dir)
    return page.write_page(out_path or default_path(data.root), lambda f: render(data, f))


def write_report_quietly(run_dir: str | Path) -> Path | None:
    """For the end of a run or rescore: a report that cannot be written is a warning, never a
    failed run (the scores are already on disk)."""
    try:
        return write_report(run_dir)
    except Exception as exc:  # noqa: BLE001 - any failure, including a bug here
        log.warning("could not write the HTML report of %s: %s", run_dir, exc)
        return None
