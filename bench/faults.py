"""Healing under faults: a run through the fault-injecting proxy against a clean run.

The issue-11 mix (20% 5xx, 10% 429 half with Retry-After, 5% dropped connections, 3% stalls
past the client timeout, 2% truncated and 2% empty bodies) is injected by
compasslite.testing.faultproxy in front of the built-in server. The same synthetic gsm8k
samples are evaluated three times with compasslite's default retries and backoffs:

  clean          straight to the server
  faults         through the proxy (healing rounds on, --retry-budget 600)
  faults, no heal  through the proxy with --retry-budget 0 (what a run did before healing)
  faults, no AIMD  healing on, but 429/503 do not lower the requests in flight: what adaptive
                   concurrency costs when the 429s are random rather than a sign of load

and the script prints failed samples, duplicate requests (a prompt answered by the server
more than once), requests sent, wall time and its ratio to the clean run, and whether the
scores equal the clean run's.

    python bench/faults.py [--samples 200] [--concurrency 16] [--latency 0.05] [--seed 25]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def make_gsm8k(root: Path, n: int) -> Path:
    (root / "gsm8k").mkdir(parents=True, exist_ok=True)
    with open(root / "gsm8k" / "test.jsonl", "w", encoding="utf-8") as f:
        for i in range(n):
            a, b = 3 * i + 1, 7 * i + 2
            question = f"Sam has {a} apples and buys {b} more. How many apples does he have (case {i})?"
            f.write(json.dumps({"question": question, "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}) + "\n")
    return root


def scores_and_outputs(root: Path) -> str:
    """What a user reads, without run-specific names: results and the summary table."""
    parts = []
    for path in sorted((root / "results").rglob("*.json")):
        parts.append(path.read_text(encoding="utf-8"))
    for path in sorted((root / "summary").glob("summary_*.csv")):
        parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="the server's seconds per request")
    parser.add_argument("--timeout", type=float, default=3.0, help="client timeout; stalls last 3x longer")
    parser.add_argument("--seed", type=int, default=25, help="seed of the proxy's fault draws")
    args = parser.parse_args()

    from compasslite.benchmark import resolve
    from compasslite.client import AdaptiveConcurrency
    from compasslite.config import from_task_config
    from compasslite.runner import execute, load_plans
    from compasslite.testing import FakeServer, oracle
    from compasslite.testing.faultproxy import HEAVY_MIX, FaultProxy

    logging.basicConfig(level=logging.ERROR)
    for handler in logging.getLogger().handlers:  # the healing notes go to each run's logs/run.log
        handler.setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_gsm8k(Path(tmp) / "data", args.samples)

        def cfg(work: str, base: str, **over: Any) -> Any:
            return from_task_config({
                "datasets": ["gsm8k"], "data_dir": str(data), "work_dir": str(Path(tmp) / work),
                "concurrency": args.concurrency, "progress": False,
                "models": [{"path": "fake-model", "openai_api_base": base, "timeout": args.timeout}], **over,
            })  # fmt: skip

        # Right for two prompts in three, so a lost or misplaced reply would change the score.
        plans = load_plans(resolve(["gsm8k"]), data, None, "first")
        model = cfg("x", "http://127.0.0.1:9/v1").models[0]
        mapping = {}
        for plan in plans:
            for idx in plan.indices:
                gold = plan.rows[idx]["answer"].split("#### ")[-1]
                mapping[plan.prompt(idx, model).text] = f"The answer is {gold if idx % 3 else int(gold) + 1}."

        rows = []
        with FakeServer(oracle(mapping), latency_s=args.latency) as server:
            runs = [("clean", server.base_url, {}, None),
                    ("faults", None, {}, HEAVY_MIX),
                    ("faults, no heal", None, {"retry_budget": 0}, HEAVY_MIX),
                    ("faults, no AIMD", None, {}, HEAVY_MIX)]  # fmt: skip
            reference = None
            for name, base, over, mix in runs:
                AdaptiveConcurrency.DECREASE_FACTOR = 1.0 if name.endswith("no AIMD") else 0.5
                server.reset_stats()
                proxy = None
                if mix is not None:
                    proxy = FaultProxy(server.base_url, rates=mix, seed=args.seed, stall_s=3 * args.timeout).start()
                    base = proxy.base_url
                try:
                    t0 = time.perf_counter()
                    out = execute(cfg(name.replace(", ", "_"), base, **over))
                    wall = time.perf_counter() - t0
                finally:
                    if proxy is not None:
                        proxy.stop()
                sent = proxy.requests if proxy is not None else sum(server.requests.values())
                failed = sum(r.errors for per in out.results.values() for r in per.values())
                dupes = sum(n - 1 for n in server.answered.values())
                log = (out.run_dir.root / "logs" / "run.log").read_text(encoding="utf-8")
                rounds = len(re.findall(r"healing round \d+: \d+ of \d+ recovered", log))
                outputs = scores_and_outputs(out.run_dir.root)
                reference = reference or outputs
                rows.append((name, failed, dupes, sent, rounds, wall, outputs == reference))

    clean_wall = rows[0][5]
    print(f"{args.samples} gsm8k samples, concurrency {args.concurrency}, server latency {args.latency:g} s, "
          f"client timeout {args.timeout:g} s, fault mix: "
          + ", ".join(f"{k} {v:.0%}" for k, v in HEAVY_MIX.items()))  # fmt: skip
    header = f"{'run':<16} {'failed':>6} {'dup req':>7} {'requests':>8} {'rounds':>6} {'wall s':>7} {'x clean':>7}  scores"
    print(header)
    print("-" * len(header))
    for name, failed, dupes, requests, rounds, wall, same in rows:
        print(f"{name:<16} {failed:>6} {dupes:>7} {requests:>8} {rounds:>6} {wall:>7.1f} {wall / clean_wall:>7.1f}  "
              f"{'= clean' if same else 'DIFFER'}")  # fmt: skip
    print("failed: samples left unscored; dup req: prompts the server answered more than once (replies the proxy\n"
          "destroyed on the way back); requests: sent by the client; rounds: healing rounds run.")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
