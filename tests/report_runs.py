"""Real runs for the report and compare tests: the built-in server over loopback, answers
right or wrong by a known rule (the oracles), some failed requests, a hostile reply."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compasslite.config import from_task_config
from compasslite.runner import RunOutcome, execute
from compasslite.testing import FakeServer, Faults
from helpers import plans_for
from oracles import all_oracles, raw

DATASETS = ["gsm8k", "ARC_c", "BoolQ", "Xsum", "ceval"]
# A reply that would run script if the page pasted it as HTML, or ended its <script> block.
HOSTILE = (
    '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> The answer is B.'
)

Rule = Callable[[str, int], bool]


def rule(salt: str, percent: int) -> Rule:
    """Right for about `percent` % of the samples, by a hash: the same in every process."""
    return lambda abbr, idx: zlib.crc32(f"{salt}:{abbr}:{idx}".encode()) % 100 < percent


def fullwidth_reply(gold: str) -> str:
    """The right letter, but full-width (Ｂ): OpenCompass's extraction finds nothing, a robust one
    finds the answer: a sample where the two extractions disagree."""
    return "The answer is " + "".join(chr(ord(c) + 0xFEE0) if "A" <= c <= "Z" else c for c in gold) + "."


def policy(
    cfg: Any,
    right_for: Rule,
    hostile_at: frozenset[tuple[str, int]] = frozenset(),
    fullwidth_at: frozenset[tuple[str, int]] = frozenset(),
) -> Callable[[str, dict[str, Any]], str]:
    """{prompt text: reply}: the oracle's right or wrong reply as `right_for` says."""
    oracles = all_oracles()
    raw.register_data_dir(Path(cfg.data_dir))
    mapping: dict[str, str] = {}
    model = cfg.models[0]
    for plan in plans_for(cfg):
        right, wrong = oracles[plan.benchmark.name]
        for idx in plan.indices:
            ok = right_for(plan.subset.abbr, idx)
            reply = (right if ok else wrong)(plan.subset, plan.rows[idx])
            if (plan.subset.abbr, idx) in hostile_at:
                reply = HOSTILE
            if (plan.subset.abbr, idx) in fullwidth_at:
                reply = fullwidth_reply(str(plan.subset.reference_of(plan.rows[idx])))
            mapping.setdefault(plan.prompt(idx, model).text, reply)
    return lambda prompt, request: mapping.get(prompt, "NO ORACLE REPLY")


def make_run(
    data_dir: Path,
    work_dir: Path,
    models: list[tuple[str, Rule]],
    *,
    datasets: list[str] | None = None,
    limit: int = 10,
    fault_rate: float = 0.0,
    hostile_at: frozenset[tuple[str, int]] = frozenset(),
    fullwidth_at: frozenset[tuple[str, int]] = frozenset(),
    meta_template: bool = False,
) -> RunOutcome:
    """One run of several models, each its own FakeServer with its own answers; with
    `fault_rate`, that share of requests fails (HTTP 500, no retry): failed, not wrong."""
    base = {
        "datasets": datasets or DATASETS,
        "limit": limit,
        "data_dir": str(data_dir),
        "work_dir": str(work_dir),
        "progress": False,
        "retry_budget": 0,
    }  # fmt: skip  (no healing rounds: failures stay)
    probe_cfg = from_task_config(
        {**base, "models": [{"path": "m", "openai_api_base": "http://127.0.0.1:9/v1"}]}
    )
    servers = []
    try:
        for i, (name, right_for) in enumerate(models):
            faults = Faults(rates={"error_500": fault_rate}, seed=7 + i) if fault_rate else Faults()
            servers.append(
                FakeServer(
                    policy(probe_cfg, right_for, hostile_at, fullwidth_at), model=name, faults=faults
                ).start()
            )
        entries = []
        for s in servers:
            entry: dict[str, Any] = {"path": s.model, "openai_api_base": s.base_url, "retries": 0}
            if meta_template:
                entry["meta_template"] = "default-api-meta-template-oc"
            entries.append(entry)
        return execute(from_task_config({**base, "models": entries}))
    finally:
        for s in servers:
            s.stop()
