"""Helpers for end-to-end tests: plans, oracle mappings, configs."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from compasslite import benchmark
from compasslite.config import RunConfig, from_task_config
from compasslite.runner import Plan, load_plans
from oracles import all_oracles, raw


def config(
    datasets: list[str], data_dir: Path, work_dir: Path, api_base: str = "http://127.0.0.1:9/v1", **kw: Any
) -> RunConfig:
    model = {"path": "fake-model", "openai_api_base": api_base, **kw.pop("model", {})}
    return from_task_config(
        {
            "datasets": datasets,
            "models": [model],
            "data_dir": str(data_dir),
            "work_dir": str(work_dir),
            "progress": False,
            **kw,
        }
    )


def plans_for(cfg: RunConfig) -> list[Plan]:
    return load_plans(
        benchmark.resolve(cfg.datasets), Path(cfg.data_dir or "data"), cfg.limit, cfg.limit_mode
    )


def mixed(abbr: str, index: int) -> bool:
    """The deterministic right-or-wrong choice of the mix tests: right for about 2 in 3."""
    return zlib.crc32(f"{abbr}:{index}".encode()) % 3 != 0


def oracle_mapping(
    cfg: RunConfig, plans: list[Plan], mode: str = "right"
) -> tuple[dict[str, str], dict[str, list[bool]]]:
    """{prompt text: reply} for every selected sample, and which samples got the right reply."""
    oracles = all_oracles()
    if cfg.data_dir:
        raw.register_data_dir(Path(cfg.data_dir))  # the oracles read gold answers from raw files
    mapping: dict[str, str] = {}
    truth: dict[str, list[bool]] = {}
    model = cfg.models[0]
    for plan in plans:
        right, wrong = oracles[plan.benchmark.name]
        for idx in plan.indices:
            ok = mode == "right" or (mode == "mixed" and mixed(plan.subset.abbr, idx))
            reply = (right if ok else wrong)(plan.subset, plan.rows[idx])
            mapping[plan.prompt(idx, model).text] = reply
    # Judged after the mapping is complete: two samples with the same prompt get one reply.
    for plan in plans:
        right, _ = oracles[plan.benchmark.name]
        truth[plan.subset.abbr] = [
            mapping[plan.prompt(idx, model).text] == right(plan.subset, plan.rows[idx])
            for idx in plan.indices
        ]
    return mapping, truth


def check_worked_example(
    sub: Any, row: dict[str, Any], example: dict[str, Any], ice_rows: list[dict[str, Any]]
) -> Any:
    """Assert a spec worked example end to end for one row: both renderings byte for byte,
    the extracted answer, the reference and the per-sample score. Returns the Score."""
    from compasslite.prompt import render_sample

    for meta in (False, True):
        prompt = render_sample(sub.template, row, sub.output_column, meta_template=meta,
                               ice_template=sub.ice_template, ice_rows=ice_rows, max_seq_len=4096)  # fmt: skip
        if meta:
            assert prompt.messages == example["chat_messages_with_meta_template"]
        else:
            assert prompt.text == example["rendered_prompt_no_meta_template"]
    answer = sub.extract(example["reply"])
    assert answer == example["extracted_by_config_postprocessor"]
    reference = sub.reference_of(row)
    assert reference == example["reference_after_dataset_postprocessor"]
    score = sub.score([answer], [reference], [row])
    assert score.metrics == example["per_sample_result"]
    return score
