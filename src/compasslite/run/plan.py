"""Plans: which rows of which sub-datasets are evaluated, their prompts and output budgets."""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset
from ..config import ModelConfig, RunConfig, select_indices
from ..errors import CompassliteError, DataError, MissingDataError
from ..prompt import render_sample, with_system_prompt
from ..types import Prompt

log = logging.getLogger("compasslite")

LOCAL_DEMO_MAX_TOKENS = 64
CONTEXT_MARGIN = 100  # tokens OpenCompass keeps free between prompt estimate and context window


@dataclass
class Plan:
    """One sub-dataset to evaluate: its rows, the selected indices, its in-context examples."""

    benchmark: Benchmark
    subset: Subset
    rows: list[dict[str, Any]]
    indices: list[int]
    ice_rows: list[dict[str, Any]] = field(default_factory=list)

    def prompt(self, index: int, model: ModelConfig) -> Prompt:
        sub = self.subset
        prompt = render_sample(
            sub.template,
            self.rows[index],
            sub.output_column,
            meta_template=model.meta_template is not None,
            ice_template=sub.ice_template,
            ice_rows=self.ice_rows,
            max_seq_len=model.max_seq_len,
        )
        return with_system_prompt(prompt, model.system_prompt) if model.system_prompt else prompt


def check_budget_keys(run_cfg: RunConfig, plans: list[Plan]) -> None:
    """Every key of a max_out_len mapping names a dataset or sub-dataset of the run, or "*"."""
    if not isinstance(run_cfg.max_out_len, dict):
        return
    known = {"*"} | {p.benchmark.name for p in plans} | {p.subset.abbr for p in plans}
    unknown = sorted(set(run_cfg.max_out_len) - known)
    if unknown:
        raise CompassliteError(
            f"max_out_len names {', '.join(map(repr, unknown))}, not a dataset or sub-dataset of this run "
            "(use the short name, e.g. gsm8k, a sub-dataset such as ceval-law, or '*' for the rest)"
        )


def budget_notes(run_cfg: RunConfig, plans: list[Plan]) -> list[str]:
    """One summary line per model saying the output budget used, when the run overrides it."""
    if run_cfg.max_out_len is None:
        return []
    notes = []
    for model in run_cfg.models:
        per: dict[str, set[int]] = {}
        for plan in plans:
            per.setdefault(plan.benchmark.name, set()).add(output_budget(run_cfg, model, plan))
        used = ", ".join(f"{name} {'/'.join(map(str, sorted(v)))}" for name, v in per.items())
        notes.append(f"Output budget (max_out_len) of {model.name}: {used}")
    return notes


def output_budget(run_cfg: RunConfig, model: ModelConfig, plan: Plan) -> int:
    """max_tokens asked for: the run's override (for this sub-dataset, this dataset, or "*"),
    else the dataset's own, else the model's; never above the model's max_tokens_cap."""
    over = run_cfg.max_out_len
    if isinstance(over, dict):
        chosen = over.get(plan.subset.abbr, over.get(plan.benchmark.name, over.get("*")))
    else:
        chosen = over
    budget = chosen or plan.subset.max_out_len or model.max_out_len
    return min(budget, model.max_tokens_cap) if model.max_tokens_cap else budget


def template_fingerprint(sub: Subset) -> str:
    parts = [repr(sub.template), repr(sub.ice_template), sub.output_column]
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=6).hexdigest()


def load_plans(
    benchmarks: list[Benchmark],
    data_dir: Path,
    limit: Any,
    limit_mode: str,
    skipped: dict[str, str] | None = None,
) -> list[Plan]:
    """Load every selected sub-dataset before any request is sent: data problems show first.

    A sub-dataset whose file is missing while others of its dataset load (race-high without
    high.jsonl) is left out and reported in `skipped`; a dataset with no loadable sub-dataset,
    or any malformed file, is an error."""
    plans = []
    problems: list[str] = []
    for bench in benchmarks:
        missing: dict[str, str] = {}
        loaded = 0
        for sub in bench.subsets:
            try:
                rows = sub.load(data_dir)
                ice = sub.load_ice(data_dir) if sub.load_ice else []
            except MissingDataError as exc:
                missing[sub.abbr] = str(exc)
                continue
            except DataError as exc:
                problems.append(f"{bench.name} ({sub.abbr}): {exc}")
                continue
            loaded += 1
            plans.append(Plan(bench, sub, rows, select_indices(len(rows), limit, limit_mode), ice))
        if missing and (loaded == 0 or skipped is None):
            first = next(iter(missing.values()))
            more = f" (and {len(missing) - 1} more file(s) of {bench.name})" if len(missing) > 1 else ""
            problems.append(f"{bench.name}: {first}{more}")
        elif missing and skipped is not None:
            for abbr, msg in missing.items():
                log.warning("%s: not evaluated: %s", abbr, msg)
                skipped[abbr] = msg
    if problems:
        raise DataError("\n".join(problems) if len(problems) > 1 else problems[0])
    return plans


def fetch_missing_data(benchmarks: list[Benchmark], data_dir: Path, download: bool | None) -> None:
    """Download the datasets of which no evaluated file is present, when allowed:
    `download` True (--yes), or None with a person at a terminal who says yes.
    Partly present datasets are left alone (their missing sub-datasets are reported)."""
    if download is False:
        return
    absent = [
        b.name for b in benchmarks if not any((data_dir / s.files[0]).is_file() for s in b.subsets if s.files)
    ]
    if not absent:
        return
    if download is None:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            return  # no one to ask: loading reports the missing files with their paths
        answer = input(
            f"Data for {', '.join(absent)} is not in {data_dir}. Download it from OpenCompass? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            return
    from ..datastore import download as fetch

    fetch(absent, data_dir, log=lambda msg: log.warning("%s", msg))
