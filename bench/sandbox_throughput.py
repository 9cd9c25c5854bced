"""Throughput of the code sandbox: HumanEval's canonical solutions, programs per second.

Builds the 164 HumanEval programs exactly as the humaneval scorer does (prompt + canonical
solution + test + check(...)), runs them through `compasslite.sandbox.run_programs` with
humaneval's settings (3 s limit, reliability guard), and prints the isolation in use,
programs per second, and the evaluator's and the sandboxes' CPU seconds per program.

    python bench/sandbox_throughput.py [--data-dir ../shared/data] [--workers N] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=str(here.parent.parent / "shared" / "data"))
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel programs (default: sandbox.default_workers(), CPUs + 1)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="run the 164 programs this many times")
    args = parser.parse_args()

    from compasslite import sandbox
    from compasslite.benchmarks import code

    rows = code.load_humaneval(Path(args.data_dir))
    programs = [code.humaneval_program(r, r["canonical_solution"], "opencompass") for r in rows] * args.repeat

    started = time.perf_counter()
    iso = sandbox.isolation()
    probe_s = time.perf_counter() - started
    described = getattr(iso, "describe", lambda: {})()  # older versions have no describe()
    print(f"isolation: mechanism={described.get('mechanism', '-')} prefix={' '.join(iso.prefix) or '-'} "
          f"network={iso.network} pid_ns={iso.pid_namespace} dropped_uid={iso.drop_uid} tools={iso.tools} "
          f"memory_limit={described.get('memory_limit', '-')} python={iso.python} (probe {probe_s:.2f}s)")  # fmt: skip
    for note in iso.notes:
        print(f"  note: {note}")

    workers = args.workers or sandbox.default_workers()
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    before_child = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    outcomes = sandbox.run_programs(programs, code.HUMANEVAL_TIMEOUT, guard="humaneval", workers=workers)
    wall = time.perf_counter() - t0
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    after_child = resource.getrusage(resource.RUSAGE_CHILDREN)

    n = len(programs)
    passed = sum(o.passed for o in outcomes)
    own = (after_self.ru_utime + after_self.ru_stime) - (before_self.ru_utime + before_self.ru_stime)
    kids = (after_child.ru_utime + after_child.ru_stime) - (before_child.ru_utime + before_child.ru_stime)
    print(
        f"{n} programs on {workers} workers ({os.cpu_count()} CPUs): {wall:.2f}s wall, {n / wall:.1f} programs/s"
    )
    print(
        f"passed {passed}/{n}; CPU per program: evaluator {1000 * own / n:.1f} ms, sandboxes {1000 * kids / n:.1f} ms"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average (1 min) at the end: {load:.2f}")
    if passed != n:
        failed = [
            (r["task_id"], o.humaneval_result)
            for r, o in zip(rows * args.repeat, outcomes, strict=True)
            if not o.passed
        ]
        print("not passed:", failed[:10], file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
