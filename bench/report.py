"""Report generation and page load for the full suite (issue 12).

Makes a run of every dataset whose data is present (every row) against `compasslite
serve-fake` at zero latency (or reuses one given with --run-dir), then prints the seconds
to write summary/report.html, its size, and, with Debian's `chromium` installed, the
browser's time to first paint and to the load event (Navigation Timing through the Chrome
DevTools Protocol).

    python bench/report.py [--data-dir ../shared/data] [--run-dir RUN] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the CDP driver of the browser tests

from fake_servers import fake_servers  # noqa: E402  (bench/ is on sys.path)


def datasets_with_data(data_dir: Path) -> list[str]:
    from compasslite.benchmark import available

    return sorted(
        name
        for name, bench in available().items()
        if all(s.files and (data_dir / s.files[0]).is_file() for s in bench.subsets)
    )


def full_run(data_dir: Path, work: Path) -> Path:
    from compasslite import benchmark
    from compasslite.config import from_task_config
    from compasslite.runner import execute

    benchmark.available()
    names = datasets_with_data(data_dir)
    choices = ["--choices", "The answer is A.", "The answer is B.", "The answer is 42.", "C"]
    faults = ["--fault", "error_500=0.002"]
    with fake_servers(1, *choices, *faults, entry=("compasslite.testing.server",)) as (url,):
        cfg = from_task_config(
            {
                "datasets": names,
                "models": [
                    {"path": "fake-model", "openai_api_base": url, "retries": 0}
                ],
                "data_dir": str(data_dir),
                "work_dir": str(work),
                "concurrency": 64,
                "progress": False,
            }
        )
        t0 = time.perf_counter()
        outcome = execute(cfg)
        print(f"run                {len(names)} datasets in {time.perf_counter() - t0:.1f} s")
        print(f"report at run end  {outcome.timings.get('report', float('nan')):.2f} s (inside the run)")
    return outcome.run_dir.root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--run-dir", help="measure the report of this run instead of making one")
    parser.add_argument("--keep", help="make the run in this work dir and keep it")
    parser.add_argument("--run-only", action="store_true", help="make the run, print its path, stop")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run_dir) if args.run_dir else full_run(Path(args.data_dir), Path(args.keep or tmp))
        print(f"run dir            {run}")
        if args.run_only:
            return
        from compasslite.report import write_report
        from compasslite.report.data import load_run

        t0 = time.perf_counter()
        data = load_run(run)
        out = write_report(run, data=data)
        seconds = time.perf_counter() - t0
        n = sum(f.total for f in data.subsets)
        print(f"samples            {n} in {len(data.subsets)} sub-datasets x models")
        print(f"report written in  {seconds:.2f} s")
        print(f"report size        {out.stat().st_size / 2**20:.1f} MiB  ({out})")

        from browser import Browser, chromium_path

        if chromium_path() is None:
            print("browser            skipped: chromium not installed (apt-get install chromium)")
            return

        async def measure() -> dict[str, float]:
            async with Browser(Path(tmp) / "profile") as browser:
                page = await browser.new_page()
                t0 = time.perf_counter()
                await page.navigate(out.as_uri(), timeout=600)
                opened = time.perf_counter() - t0
                timing = await page.evaluate(
                    """(() => {
                      const nav = performance.getEntriesByType('navigation')[0];
                      const paint = Object.fromEntries(performance.getEntriesByType('paint').map(p => [p.name, p.startTime]));
                      return {fcp: paint['first-contentful-paint'] || -1, dcl: nav.domContentLoadedEventEnd,
                              load: nav.loadEventEnd, ready: window.__reportReadyAt || -1};
                    })()"""
                )
                timing["opened"] = opened * 1000
                count = "/^\\d+ sample/.test(document.getElementById('s-count').textContent)"
                t1 = time.perf_counter()
                await page.click("nav a[data-tab=samples]")
                await page.wait_for(count, timeout=600)
                timing["first_page"] = (time.perf_counter() - t1) * 1000
                before = await page.evaluate("document.body.dataset.samplesRendered")
                t2 = time.perf_counter()
                await page.set_value("#f-state", "wrong")
                await page.wait_for(
                    f"document.body.dataset.samplesRendered !== {json.dumps(before)}", timeout=600
                )
                timing["wrong_page"] = (time.perf_counter() - t2) * 1000
                before = await page.evaluate("document.body.dataset.samplesRendered")
                t3 = time.perf_counter()
                await page.set_value("#f-search", "the answer is 42", "input")
                await page.wait_for(
                    f"document.body.dataset.samplesRendered !== {json.dumps(before)}", timeout=600
                )
                timing["search_all"] = (time.perf_counter() - t3) * 1000
                return timing

        t = asyncio.run(measure())
        print(f"first contentful paint  {t['fcp'] / 1000:.2f} s")
        print(f"DOMContentLoaded        {t['dcl'] / 1000:.2f} s")
        print(f"load event              {t['load'] / 1000:.2f} s")
        print(f"script ready            {t['ready'] / 1000:.2f} s  (tabs and filters work)")
        print(f"first sample page       {t['first_page'] / 1000:.2f} s  (Samples tab, all datasets)")
        print(f"filter to wrong         {t['wrong_page'] / 1000:.2f} s")
        print(f"search every sample     {t['search_all'] / 1000:.2f} s  (decodes every sub-dataset)")


if __name__ == "__main__":
    main()
