"""Throughput of compasslite against the built-in server (issue: wall within 10% of ideal).

Runs gsm8k (all 1319 samples by default) against `compasslite serve-fake` in its own
process with a fixed latency, and prints wall time against the ideal
(samples x latency / concurrency) and our own CPU seconds per request.

    python bench/throughput.py [--data-dir ../shared/data] [--latency 0.1] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from fake_servers import fake_servers  # bench/ is on sys.path


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=str(here.parent.parent / "shared" / "data"))
    parser.add_argument("--dataset", default="gsm8k")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    from compasslite import benchmark
    from compasslite.config import from_task_config
    from compasslite.runner import execute

    benchmark.available()  # import every benchmark module up front: a one-time start-up cost

    with fake_servers(1, "--latency", str(args.latency), "--reply", "The answer is 42.") as (url,):
        with tempfile.TemporaryDirectory() as work:
            cfg = from_task_config(
                {
                    "datasets": [args.dataset],
                    "models": [{"path": "fake-model", "openai_api_base": url}],
                    "data_dir": args.data_dir,
                    "work_dir": work,
                    "concurrency": args.concurrency,
                    "limit": args.limit,
                    "progress": False,
                }
            )
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            outcome = execute(cfg)
            wall = time.perf_counter() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)

    n = sum(r.total for r in next(iter(outcome.results.values())).values())
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    ideal = n * args.latency / args.concurrency
    print(f"dataset            {args.dataset}")
    print(f"samples            {n}")
    print(f"latency            {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    print(f"ideal wall         {ideal:.2f} s")
    print(f"wall (whole run)   {wall:.2f} s   ratio {wall / ideal:.3f}")
    for phase, seconds in outcome.timings.items():
        print(f"  {phase:<16} {seconds:.2f} s")
    print(f"inference / ideal  {outcome.timings['inference'] / ideal:.3f}")
    print(
        f"CPU in inference   {outcome.timings['inference_cpu'] / n * 1000:.3f} ms per request (render, send, parse, record)"
    )
    print(
        f"our CPU            {cpu:.2f} s   = {cpu / n * 1000:.3f} ms per request (load, render, send, record, score, write)"
    )


if __name__ == "__main__":
    main()
