"""The page shell shared by the report and the comparison: CSS, the sample browser's script,
inline SVG charts, and the safe embedding of data.

Everything a page needs is inside the one HTML file (no CDN, no server): it opens from disk,
offline. Text from a run (prompts, model replies, server messages) is hostile: the static
parts are escaped with html.escape, the sample browser builds its DOM with textContent only,
embedded JSON has every `<`, `>` and `&` written as \\u003c..., and per-sample data is gzip +
base64 (no `<` at all), so a reply holding `</script>` cannot end its block.
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]


def write_page(path: str | Path, render: Callable[[IO[str]], None]) -> Path:
    """Write a page through `render(file)` to a temporary file beside `path`, then rename it:
    never a half-written page."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            render(f)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return target


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def json_for_script(obj: Any) -> str:
    """JSON safe inside <script type="application/json">: `<`, `>` and `&` occur only inside
    JSON strings, where their \\u escapes mean the same characters."""
    raw = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026").decode()


def packed_chunk(items: Iterable[Any]) -> str:
    """A JSON array compressed with gzip and written as base64: about a tenth of the raw size
    for few-shot prompts, and decoded by the browser only when the chunk is shown."""
    raw = orjson.dumps(list(items), option=orjson.OPT_NON_STR_KEYS)  # one sub-dataset at a time
    comp = zlib.compressobj(3, zlib.DEFLATED, 31)  # wbits 31: a gzip stream (DecompressionStream)
    parts = [comp.compress(raw), comp.flush()]
    return base64.b64encode(b"".join(parts)).decode()


def write_chunk(out: IO[str], chunk_id: str, items: Iterable[Any]) -> None:
    out.write(f'<script type="application/octet-stream" class="chunk" id="{esc(chunk_id)}">')
    out.write(packed_chunk(items))
    out.write("</script>\n")


# ------------------------------------------------------------------ charts
def hbar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    chart_id: str,
    max_value: float | None = None,
    unit: str = "",
    digits: int = 2,
) -> str:
    """Horizontal grouped bars, one group per label, one colour per series (model)."""
    bar_h, gap, label_w, width = 14, 8, 230, 760
    n = max(1, len(series))
    group_h = n * bar_h + gap
    values = [v for _, vs in series for v in vs if v is not None]
    top = max_value if max_value is not None else (max(values) if values else 1.0) or 1.0
    plot_w = width - label_w - 70
    height = len(labels) * group_h + 10
    out = [f'<svg class="chart" id="{esc(chart_id)}" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img">']  # fmt: skip
    for gi, label in enumerate(labels):
        y0 = 5 + gi * group_h
        out.append(
            f'<text class="lbl" x="{label_w - 6}" y="{y0 + n * bar_h / 2 + 4}" text-anchor="end">{esc(label)}</text>'
        )
        for si, (name, vs) in enumerate(series):
            v = vs[gi]
            y = y0 + si * bar_h
            if v is None:
                out.append(f'<text class="val" x="{label_w + 4}" y="{y + bar_h - 3}">-</text>')
                continue
            w = max(0.0, min(1.0, v / top)) * plot_w
            shown = f"{v:.{digits}f}{unit}"
            out.append(
                f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{color(si)}" '
                f'data-series="{esc(name)}" data-label="{esc(label)}" data-value="{shown}">'
                f"<title>{esc(name)} / {esc(label)}: {shown}</title></rect>"
                f'<text class="val" x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}">{shown}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def histogram(
    values: Sequence[float], *, chart_id: str, series: str, colour: str, bins: int = 30, unit: str = "s"
) -> str:
    """Counts of `values` in equal bins from 0 to their 99th percentile (the rest in the last bin)."""
    width, height, pad_l, pad_b = 760, 170, 50, 30
    if not values:
        return f'<p class="muted" id="{esc(chart_id)}">no answered requests</p>'
    ordered = sorted(values)
    hi = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] or ordered[-1] or 1.0
    step = hi / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / step))] += 1
    peak = max(counts) or 1
    bw = (width - pad_l - 10) / bins
    plot_h = height - pad_b - 10
    out = [f'<svg class="chart hist" id="{esc(chart_id)}" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" data-series="{esc(series)}" data-total="{len(values)}">']  # fmt: skip
    for i, c in enumerate(counts):
        h = c / peak * plot_h
        lo_edge, hi_edge = i * step, (i + 1) * step
        more = "+" if i == bins - 1 else ""
        out.append(
            f'<rect class="hbin" x="{pad_l + i * bw:.1f}" y="{10 + plot_h - h:.1f}" width="{max(bw - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="{colour}" data-count="{c}"><title>{lo_edge:.3g}-{hi_edge:.3g}{unit}{more}: '
            f"{c} requests</title></rect>"
        )
    for i in range(0, bins + 1, 5):
        x = pad_l + i * bw
        anchor = "end" if i == bins else ("start" if i == 0 else "middle")
        out.append(
            f'<text class="val" x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}">{i * step:.2g}{unit}</text>'
        )
    out.append(f'<text class="val" x="{pad_l - 6}" y="18" text-anchor="end">{peak}</text>')
    out.append(f'<text class="val" x="{pad_l - 6}" y="{10 + plot_h}" text-anchor="end">0</text>')
    out.append("</svg>")
    return "".join(out)


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    table_id: str = "",
    row_classes: Iterable[str] | None = None,
) -> str:
    classes = iter(row_classes) if row_classes is not None else None
    out = [f"<table{f' id={esc(table_id)!r}' if table_id else ''}><thead><tr>"]
    out.extend(f"<th>{esc(h)}</th>" for h in header)
    out.append("</tr></thead><tbody>")
    for row in rows:
        cls = next(classes, "") if classes is not None else ""
        out.append(f'<tr class="{esc(cls)}">' if cls else "<tr>")
        out.extend(f"<td>{esc(c)}</td>" for c in row)
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# ------------------------------------------------------------------- shell
CSS = """
:root{--fg:#1d2330;--muted:#6b7280;--bg:#f6f7f9;--card:#fff;--line:#e3e6eb;--ok:#2e8540;--bad:#c62828;--warn:#b26a00;--acc:#4e79a7}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:19px;font-weight:600}header .sub{color:#b8c0cc;font-size:13px}
nav{display:flex;gap:4px;padding:0 24px;background:#283042;position:sticky;top:0;z-index:5}
nav a{color:#cfd6e1;text-decoration:none;padding:9px 14px;display:block;border-bottom:3px solid transparent}
nav a.active,nav a:hover{color:#fff;border-bottom-color:#f28e2b}
main{padding:18px 24px;max-width:1280px}section.tab{display:none}section.tab.active{display:block}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin-bottom:16px;overflow-x:auto}
.card h2{font-size:16px;margin:0 0 10px}.muted{color:var(--muted)}.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px}
.facts dt{color:var(--muted)}.facts dd{margin:0;word-break:break-all}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:#eef1f5;position:sticky;top:0}tr.group td{font-weight:600;background:#f3f6fb}td.num,th.num{text-align:right}
.pos{color:var(--ok);font-weight:600}.neg{color:var(--bad);font-weight:600}.card h3{font-size:14px;margin:14px 0 6px}.legend span{display:inline-flex;align-items:center;margin-right:14px}
.legend i{width:12px;height:12px;display:inline-block;margin-right:5px;border-radius:2px}
svg.chart text{font-size:11px;fill:#374151}svg.chart text.lbl{font-size:12px}
.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:10px}
.filters select,.filters input{font:inherit;padding:4px 6px;border:1px solid var(--line);border-radius:5px;background:#fff}
.filters input{min-width:260px}.pager{display:flex;gap:8px;align-items:center;margin:8px 0}
button{font:inherit;padding:3px 10px;border:1px solid var(--line);border-radius:5px;background:#fff;cursor:pointer}
button:disabled{opacity:.4;cursor:default}
.srow{display:grid;grid-template-columns:80px 260px 110px 1fr;gap:8px;padding:6px 8px;border-bottom:1px solid var(--line);cursor:pointer}
.srow:hover{background:#f3f6fb}.srow.open{background:#eaf0f8}.srow .snip{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;color:#374151}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;color:#fff;background:var(--muted)}
.badge.correct,.badge.fixed{background:var(--ok)}.badge.wrong,.badge.broke{background:var(--bad)}.badge.failed,.badge.missing{background:var(--warn)}.badge.scored{background:var(--acc)}
.detail{padding:10px 14px;background:#fbfcfd;border:1px solid var(--line);border-radius:6px;margin:6px 0 12px}
.detail h3{font-size:13px;margin:10px 0 4px;color:var(--muted);letter-spacing:.02em}
.detail pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid var(--line);border-radius:5px;padding:8px;margin:0;max-height:420px;overflow:auto;font-size:12.5px}
.turn{margin-bottom:6px}.turn b{display:block;font-size:12px;color:var(--muted)}.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px}
.kv span:nth-child(odd){color:var(--muted)}a.sample-link{cursor:pointer;color:var(--acc)}
"""

# The sample browser: reads the meta block, decodes a chunk when its samples are shown, pages
# the filtered list 50 at a time. All text goes in through textContent.
JS = r"""
(function(){
'use strict';
const meta = JSON.parse(document.getElementById('meta').textContent);
const PAGE = 50;
const cache = new Map();
const $ = (id) => document.getElementById(id);
function el(tag, cls, text){ const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined && text !== null) e.textContent = text; return e; }
function show(tab){
  document.querySelectorAll('section.tab').forEach(s => s.classList.toggle('active', s.id === 'tab-' + tab));
  document.querySelectorAll('nav a').forEach(a => a.classList.toggle('active', a.dataset.tab === tab));
  if (tab === 'samples' && !state.started) { state.started = true; render(); }
}
document.querySelectorAll('nav a').forEach(a => a.addEventListener('click', ev => { ev.preventDefault(); show(a.dataset.tab); }));
async function decode(id){
  if (cache.has(id)) return cache.get(id);
  const p = (async () => {
    if (!document.getElementById(id)) await new Promise(ok => document.addEventListener('DOMContentLoaded', ok, {once: true}));
    const b64 = document.getElementById(id).textContent;
    const bin = atob(b64); const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (typeof DecompressionStream === 'undefined') throw new Error('this browser cannot decompress the sample data (needs DecompressionStream)');
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return JSON.parse(await new Response(stream).text());
  })();
  cache.set(id, p);
  return p;
}
const state = {started: false, page: 0, open: null, token: 0};
const fModel = $('f-model'), fDataset = $('f-dataset'), fSubset = $('f-subset'), fState = $('f-state'), fSearch = $('f-search');
function option(sel, value, label){ const o = el('option', null, label); o.value = value; sel.appendChild(o); }
function fillSelect(sel, values, allLabel){ const keep = sel.value; sel.textContent = ''; option(sel, '', allLabel); values.forEach(v => option(sel, v, v)); if (values.includes(keep)) sel.value = keep; }
const uniq = (xs) => [...new Set(xs)];
fillSelect(fModel, uniq(meta.chunks.map(c => c.model)), meta.modelLabel || 'all models');
fillSelect(fDataset, uniq(meta.chunks.map(c => c.dataset)), 'all datasets');
function refreshSubsets(){ fillSelect(fSubset, uniq(meta.chunks.filter(c => !fDataset.value || c.dataset === fDataset.value).map(c => c.abbr)), 'all sub-datasets'); }
refreshSubsets();
option(fState, '', 'any verdict');
meta.states.forEach(([k, label]) => option(fState, k, label));
function scope(){ return meta.chunks.filter(c => (!fModel.value || c.model === fModel.value) && (!fDataset.value || c.dataset === fDataset.value) && (!fSubset.value || c.abbr === fSubset.value)); }
function matchesState(s, st){ return !st || (st === 'empty' ? s.e === 1 : s.s === st); }
function countIn(c, st){ return st ? (c.counts[st] || 0) : c.n; }
function text(v){ if (v === null || v === undefined) return ''; return typeof v === 'string' ? v : JSON.stringify(v); }
function haystack(s){ if (s._h === undefined) { s._h = [text(s.p), text(s.r), text(s.x), text(s.g), text(s.er), String(s.i), ...(s.sides || []).flatMap(d => [text(d.r), text(d.x)])].join('\n').toLowerCase(); } return s._h; }
async function collect(chunks, st, query, from, to, token){
  // Without a search the meta counts tell which chunks hold the page: only those are decoded.
  const out = []; let seen = 0, total = 0;
  if (!query) {
    for (const c of chunks) {
      const n = countIn(c, st);
      if (seen + n > from && seen < to) {
        const items = (await decode(c.id)).filter(s => matchesState(s, st));
        for (let k = Math.max(0, from - seen); k < items.length && seen + k < to; k++) out.push([c, items[k]]);
      }
      seen += n;
    }
    return {rows: out, total: seen};
  }
  const q = query.toLowerCase();
  let done = 0;
  for (const c of chunks) {
    if (token !== state.token) return null;
    const items = await decode(c.id);
    for (const s of items) if (matchesState(s, st) && haystack(s).includes(q)) { if (total >= from && total < to) out.push([c, s]); total++; }
    done++; if (done % 20 === 0) $('s-status').textContent = 'searching… ' + done + '/' + chunks.length + ' sub-datasets';
  }
  return {rows: out, total};
}
async function render(){
  const token = ++state.token;
  const chunks = scope(), st = fState.value, query = fSearch.value.trim();
  $('s-status').textContent = 'loading…';
  let res;
  try { res = await collect(chunks, st, query, state.page * PAGE, (state.page + 1) * PAGE, token); }
  catch (e) { $('s-status').textContent = String(e.message || e); return; }
  if (res === null || token !== state.token) return;
  const list = $('s-list'); list.textContent = '';
  const pages = Math.max(1, Math.ceil(res.total / PAGE));
  if (state.page >= pages && state.page > 0) { state.page = pages - 1; return render(); }
  $('s-count').textContent = res.total + ' sample' + (res.total === 1 ? '' : 's');
  $('s-page').textContent = 'page ' + (state.page + 1) + ' of ' + pages;
  $('s-prev').disabled = state.page === 0; $('s-next').disabled = state.page + 1 >= pages;
  for (const [c, s] of res.rows) list.appendChild(row(c, s));
  $('s-status').textContent = res.total ? '' : 'no sample matches these filters';
  document.body.dataset.samplesRendered = String(token);
}
function stateLabel(s){ const found = meta.states.find(([k]) => k === s.s); return found ? found[1] : s.s; }
function row(c, s){
  const r = el('div', 'srow'); r.dataset.index = s.i; r.dataset.abbr = c.abbr; r.dataset.model = c.model; r.dataset.state = s.s;
  r.appendChild(el('span', 'idx', '#' + s.i));
  r.appendChild(el('span', 'where', c.abbr + ' · ' + (c.short || c.model)));
  const b = el('span'); b.appendChild(el('span', 'badge ' + s.s, stateLabel(s))); r.appendChild(b);
  const snip = s.sides ? s.sides.map(d => d.key + ': ' + JSON.stringify(d.x === undefined ? null : d.x)).join(' · ') + ' · gold ' + text(s.g) : ('answer ' + JSON.stringify(s.x === undefined ? null : s.x) + ' · gold ' + text(s.g) + ' · ' + text(s.r || s.er));
  r.appendChild(el('span', 'snip', snip));
  r.addEventListener('click', () => toggle(r, c, s));
  return r;
}
function pre(v){ return el('pre', null, text(v)); }
function promptNode(p){
  if (Array.isArray(p)) { const d = el('div'); p.forEach(t => { const w = el('div', 'turn'); w.appendChild(el('b', null, (t && (t.role || '')) + '')); w.appendChild(pre(t && (t.prompt !== undefined ? t.prompt : t.content))); d.appendChild(w); }); return d; }
  return pre(p);
}
function detail(c, s){
  const d = el('div', 'detail'); d.id = 'sample-detail';
  const kv = el('div', 'kv');
  const add = (k, v) => { if (v === null || v === undefined || v === '') return; kv.appendChild(el('span', null, k)); kv.appendChild(el('span', 'v-' + k.replace(/\W+/g, '-'), text(v))); };
  add('model', c.model); add('sub-dataset', c.abbr); add('index', s.i); add('verdict', stateLabel(s)); add('score', s.sc);
  add('latency', s.l !== undefined && s.l !== null ? s.l.toFixed(3) + ' s' : null); add('tokens', s.tk); add('finish reason', s.fr);
  d.appendChild(kv);
  const sec = (title, node) => { d.appendChild(el('h3', null, title)); d.appendChild(node); };
  if (s.er) sec('error', pre(s.er));
  sec(Array.isArray(s.p) ? 'prompt (chat turns)' : 'prompt', promptNode(s.p));
  if (s.sides) { s.sides.forEach(side => { const who = side.key + ': ' + side.label; sec(who + ' — reply', pre(side.r)); sec(who + ' — extracted answer', pre(side.x)); }); }
  else { sec('raw reply', pre(s.r)); sec('extracted answer', pre(s.x)); }
  sec('gold', pre(s.g));
  return d;
}
function toggle(r, c, s){
  const old = document.getElementById('sample-detail'); const wasOpen = r.classList.contains('open');
  if (old) old.remove(); document.querySelectorAll('.srow.open').forEach(x => x.classList.remove('open'));
  if (wasOpen) return;
  r.classList.add('open'); r.after(detail(c, s));
}
function reset(){ state.page = 0; render(); }
fModel.addEventListener('change', reset); fState.addEventListener('change', reset); fSubset.addEventListener('change', reset);
fDataset.addEventListener('change', () => { refreshSubsets(); reset(); });
let timer = null; fSearch.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(reset, 250); });
$('s-prev').addEventListener('click', () => { state.page--; render(); });
$('s-next').addEventListener('click', () => { state.page++; render(); });
// Links elsewhere in the page (agreement, flips) open one sample in the browser.
window.openSample = async function(model, abbr, index){
  const c = meta.chunks.find(x => x.abbr === abbr && (!model || x.model === model)); if (!c) return;
  state.started = true; fModel.value = c.model; fDataset.value = c.dataset; refreshSubsets(); fSubset.value = abbr; fState.value = ''; fSearch.value = String(index);
  show('samples'); state.page = 0; await render();
  const r = [...document.querySelectorAll('.srow')].find(x => x.dataset.index === String(index));
  if (r) { r.click(); r.scrollIntoView({block: 'center'}); }
};
document.querySelectorAll('a.sample-link').forEach(a => a.addEventListener('click', ev => { ev.preventDefault(); window.openSample(a.dataset.model, a.dataset.abbr, Number(a.dataset.index)); }));
show(meta.firstTab || 'overview');
window.__reportReadyAt = performance.now();
})();
"""

SAMPLE_BROWSER = """
<div class="card"><div class="filters">
<select id="f-model" aria-label="model"></select><select id="f-dataset" aria-label="dataset"></select>
<select id="f-subset" aria-label="sub-dataset"></select><select id="f-state" aria-label="verdict"></select>
<input id="f-search" type="search" placeholder="search prompts, replies, answers, errors, index" aria-label="search">
<span id="s-count" class="muted"></span></div>
<div class="pager"><button id="s-prev">&larr; prev</button><span id="s-page" class="muted"></span><button id="s-next">next &rarr;</button>
<span id="s-status" class="muted"></span></div>
<div id="s-list"></div></div>
"""


def head(out: IO[str], title: str, subtitle: str, tabs: Sequence[tuple[str, str]]) -> None:
    out.write('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">')
    out.write('<meta name="viewport" content="width=device-width,initial-scale=1">')
    # No network at all: a page opened from disk must not fetch (or leak) anything.
    out.write("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">")  # fmt: skip
    out.write(f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n")
    out.write(f'<header><h1>{esc(title)}</h1><div class="sub">{esc(subtitle)}</div></header>\n<nav>')
    for key, label in tabs:
        out.write(f'<a href="#{esc(key)}" data-tab="{esc(key)}">{esc(label)}</a>')
    out.write("</nav>\n<main>\n")


def tail(out: IO[str], meta: dict[str, Any], chunks: IO[str] | None = None) -> None:
    """The meta block and the script, then the sample chunks: the page works (tabs, overview)
    while the browser is still reading the chunks, which are decoded only when shown."""
    out.write("</main>\n")
    out.write(f'<script type="application/json" id="meta">{json_for_script(meta)}</script>\n')
    out.write(f"<script>{JS}</script>\n")
    if chunks is not None:
        chunks.seek(0)
        while block := chunks.read(1 << 20):
            out.write(block)
    out.write("</body></html>\n")


def legend(names: Sequence[str]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span><i style="background:{color(i)}"></i>{esc(n)}</span>' for i, n in enumerate(names))
        + "</div>"
    )
