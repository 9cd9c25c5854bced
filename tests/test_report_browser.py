"""The report and compare pages in a real headless Chromium, driven over the DevTools
Protocol: what a person sees is checked against the run's own files.

Needs Debian's `chromium` package (`apt-get install chromium`); skipped where it is absent.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from browser import Browser, Page, chromium_path
from compasslite.report.compare import compare, write_html
from compasslite.report.data import load_run
from compasslite.rundir import read_records
from report_runs import HOSTILE, make_run, rule

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="chromium not installed (Debian: apt-get install chromium); browser tests skipped",
)

HOSTILE_AT = frozenset({("Xsum", 1), ("Xsum", 2), ("gsm8k", 1), ("ARC-c", 3)})
FULLWIDTH_AT = frozenset({("ARC-c", 4), ("ARC-c", 5), ("ARC-c", 6)})


@pytest.fixture(scope="module")
def runs(merged_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("browser_runs")
    first = make_run(merged_data, work, [("alpha", rule("a", 70)), ("beta", rule("b", 40))],
                     fault_rate=0.08, hostile_at=HOSTILE_AT, fullwidth_at=FULLWIDTH_AT)  # fmt: skip
    second = make_run(merged_data, work, [("alpha", rule("c", 70)), ("beta", rule("b", 40))], fault_rate=0.08)
    return first.run_dir.root, second.run_dir.root


def in_browser(url: str, steps: Callable[[Page], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with Browser() as browser:
            page = await browser.new_page()
            await page.send("Emulation.setDeviceMetricsOverride",
                            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip
            await page.navigate(url)
            result = await steps(page)
            # Nothing thrown, and the hostile replies ran no script (neither <script> nor onerror).
            assert page.exceptions == []
            assert await page.evaluate("window.__pwned === undefined")
            return result

    return asyncio.run(asyncio.wait_for(go(), 300))


async def texts(page: Page, selector: str) -> list[str]:
    return await page.evaluate(f"[...document.querySelectorAll({selector!r})].map(e => e.textContent)")


async def shown_samples(page: Page) -> int:
    await page.wait_for("document.getElementById('s-status').textContent !== 'loading…' && "
                        "/^\\d+ sample/.test(document.getElementById('s-count').textContent)")  # fmt: skip
    return int((await page.evaluate("document.getElementById('s-count').textContent")).split()[0])


async def render_done(page: Page, action: Callable[[], Awaitable[None]]) -> None:
    before = await page.evaluate("document.body.dataset.samplesRendered || ''")
    await action()
    await page.wait_for(f"(document.body.dataset.samplesRendered || '') !== {before!r}")


def test_report_page_shows_the_run(runs: tuple[Path, Path], tmp_path: Path) -> None:
    root = runs[0]
    data = load_run(root)
    csv_rows = list(csv.reader((next((root / "summary").glob("summary_*.csv"))).open()))
    failed = sum(f.failed for f in data.subsets)
    wrong = sum(f.wrong for f in data.subsets)
    total = sum(f.total for f in data.subsets)
    answered = {m: sum(1 for r in read_records(root / "records" / f"{m}.jsonl").values() if r.answered and r.latency_s > 0)
                for m in data.models}  # fmt: skip
    results = json.loads((root / "results" / "alpha" / "ARC-c.json").read_text())
    assert failed > 0 and wrong > 0

    async def steps(page: Page) -> None:
        # Overview: the summary table is the CSV, cell for cell; failures; the models.
        rows = await page.evaluate(
            "[...document.querySelectorAll('#summary-table tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
        )
        assert rows == csv_rows[1:]
        assert await page.evaluate("document.querySelector('#summary-table thead').textContent") == "".join(
            csv_rows[0]
        )
        assert int(await page.evaluate("document.getElementById('failures').dataset.failed")) == failed
        assert f"Failed requests: {failed}" in await page.evaluate(
            "document.getElementById('failures').textContent"
        )
        assert [r[0] for r in await page.evaluate(
            "[...document.querySelectorAll('#models tbody tr')].map(r => [...r.cells].map(c => c.textContent))")] == [
            "alpha", "beta"]  # fmt: skip
        # The bars: one per dataset and model; ARC-c's is its accuracy.
        bars = await page.evaluate(
            "[...document.querySelectorAll('#chart-scores rect.bar')].map(b => [b.dataset.series, b.dataset.label, b.dataset.value])"
        )
        assert ["alpha", "ARC_c", f"{results['accuracy']:.2f}"] in bars
        assert {b[0] for b in bars} == {"alpha", "beta"}
        # The latency histogram counts every answered request.
        await page.click("nav a[data-tab=latency]")
        for i, model in enumerate(data.models):
            counts = await page.evaluate(
                f"[...document.querySelectorAll('#hist-{i} rect.hbin')].map(r => Number(r.dataset.count))"
            )
            assert sum(counts) == answered[model]
        assert (
            await page.evaluate("getComputedStyle(document.getElementById('tab-latency')).display") == "block"
        )
        await page.screenshot(tmp_path / "latency.png")

        # The sample browser: every selected sample, then only the wrong ones.
        await page.click("nav a[data-tab=samples]")
        assert await shown_samples(page) == total
        await render_done(page, lambda: page.set_value("#f-state", "wrong"))
        assert await shown_samples(page) == wrong
        states = await page.evaluate("[...document.querySelectorAll('.srow')].map(r => r.dataset.state)")
        assert states and set(states) == {"wrong"} and len(states) == min(50, wrong)
        # One dataset, one model: the counts of the results file.
        await render_done(page, lambda: page.set_value("#f-model", "alpha"))
        await render_done(page, lambda: page.set_value("#f-dataset", "ARC_c"))
        arc_wrong = sum(1 for d in results["details"] if d.get("correct") is False)
        assert await shown_samples(page) == arc_wrong
        # Open one sample: its reply, extracted answer and gold are the run's.
        first = await page.evaluate("document.querySelector('.srow').dataset.index")
        detail = next(d for d in results["details"] if str(d["index"]) == first)
        await page.click(".srow")
        await page.wait_for("!!document.getElementById('sample-detail')")
        blocks = await texts(page, "#sample-detail pre")
        assert detail["prediction"] in blocks and detail["reference"] in blocks
        assert str(detail["answer"] if "pred" not in detail else detail["pred"]) in blocks
        assert "wrong" in await page.evaluate("document.querySelector('#sample-detail .kv').textContent")
        await page.screenshot(tmp_path / "report.png")

        # Failed requests are their own filter, with the server's message.
        await page.set_value("#f-dataset", "")
        await page.set_value("#f-model", "")
        await render_done(page, lambda: page.set_value("#f-state", "failed"))
        assert await shown_samples(page) == failed
        await page.click(".srow")
        assert "HTTP 500" in await page.evaluate("document.getElementById('sample-detail').textContent")
        # Full-text search finds the hostile reply, shown as text.
        await render_done(page, lambda: page.set_value("#f-state", ""))
        await render_done(page, lambda: page.set_value("#f-search", "window.__pwned = 2", "input"))
        assert await shown_samples(page) >= 1
        await page.click(".srow")
        assert HOSTILE in await texts(page, "#sample-detail pre")

    in_browser((runs[0] / "summary" / "report.html").as_uri(), steps)
    shot = tmp_path / "report.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_report_lists_extraction_disagreements_and_links_to_the_sample(runs: tuple[Path, Path]) -> None:
    pytest.importorskip("compasslite.report.agreement")
    root = runs[0]
    records = read_records(root / "records" / "alpha.jsonl")
    wide = sorted(
        i
        for (abbr, i), r in records.items()
        if abbr == "ARC-c" and r.answered and any(ch in (r.prediction or "") for ch in "ＡＢＣＤ")
    )
    assert wide, "the full-width replies should have been answered"

    async def steps(page: Page) -> None:
        await page.click("nav a[data-tab=agreement]")
        row = await page.evaluate(
            "[...document.querySelector('#agreement-table tr[data-model=alpha][data-abbr=ARC-c]').cells].map(c => c.textContent)"
        )
        assert int(row[6]) >= len(wide)  # every full-width reply is a disagreement
        assert float(row[3]) > float(row[2])  # the robust score counts them right
        links = await page.evaluate(
            "[...document.querySelectorAll('a.sample-link[data-model=alpha][data-abbr=ARC-c]')].map(a => Number(a.dataset.index))"
        )
        assert set(wide) <= set(links)
        await page.click(f"a.sample-link[data-model=alpha][data-abbr=ARC-c][data-index='{wide[0]}']")
        await page.wait_for("!!document.getElementById('sample-detail')")
        assert (
            await page.evaluate("getComputedStyle(document.getElementById('tab-samples')).display") == "block"
        )
        assert records[("ARC-c", wide[0])].prediction in await texts(page, "#sample-detail pre")

    in_browser((root / "summary" / "report.html").as_uri(), steps)


def test_report_shows_chat_turns_of_a_meta_template_run(merged_data: Path, tmp_path: Path) -> None:
    out = make_run(
        merged_data, tmp_path, [("alpha", rule("a", 50))], datasets=["gsm8k"], limit=3, meta_template=True
    )

    async def steps(page: Page) -> None:
        await page.click("nav a[data-tab=samples]")
        assert await shown_samples(page) == 3
        await page.click(".srow")
        roles = await texts(page, "#sample-detail .turn b")
        assert roles[:2] == ["HUMAN", "BOT"] and roles[-1] == "HUMAN"  # few-shot turns, then the question
        assert "prompt (chat turns)" in await texts(page, "#sample-detail h3")

    in_browser((out.run_dir.root / "summary" / "report.html").as_uri(), steps)


def test_compare_page_shows_deltas_and_flipped_samples(runs: tuple[Path, Path], tmp_path: Path) -> None:
    comp = compare(list(runs))
    page_path = write_html(comp, tmp_path / "compare.html")
    arc = next(r for r in comp.rows if r.name == "ARC-c")
    d = arc.deltas[2]
    assert d is not None
    total_flips = sum(len(v) for v in comp.flips.values())
    broke = sum(r.deltas[c].broke for r in comp.rows if not r.is_group for c in (2, 3) if r.deltas[c])  # type: ignore[union-attr]
    assert total_flips > 0

    async def steps(page: Page) -> None:
        cells = await page.evaluate(
            "[...document.querySelector('#compare-table-2 tr[data-name=\"ARC-c\"]').cells].map(c => c.textContent)"
        )
        assert cells[:4] == ["ARC-c", "accuracy", f"{arc.scores[0]:.2f}", f"{arc.scores[2]:.2f}"]
        assert cells[4] == (f"{d.delta:+.2f}" if d.delta is not None else "-")
        assert cells[5] == f"[{d.low:+.2f}, {d.high:+.2f}]"
        assert cells[6] == str(d.paired)
        assert cells[7] == (f"+{d.fixed}/−{d.broke}" if d.fixed or d.broke else "-")
        # Group rows come first, with their own interval.
        first = await page.evaluate("document.querySelector('#compare-table-2 tbody tr').className")
        assert first == "group"
        await page.screenshot(tmp_path / "compare.png")
        await page.click("nav a[data-tab=samples]")
        assert await shown_samples(page) == total_flips
        await render_done(page, lambda: page.set_value("#f-state", "broke"))
        assert await shown_samples(page) == broke
        await page.click(".srow")
        heads = await texts(page, "#sample-detail h3")
        assert sum("reply" in h for h in heads) == 2  # both runs' replies, side by side
        assert "right → wrong" in await page.evaluate(
            "document.querySelector('#sample-detail .kv').textContent"
        )

    in_browser(page_path.as_uri(), steps)
    assert (tmp_path / "compare.png").stat().st_size > 10_000
