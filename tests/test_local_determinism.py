"""The README's local demo gives the same replies and scores every time it runs (temperature 0,
the embedded llama.cpp model): two runs of a small slice of it are compared reply by reply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compasslite import run_task
from compasslite.local import RUN_SLOTS
from conftest import local_model_or_skip

pytestmark = [pytest.mark.local_model, pytest.mark.slow]


def _replies(work_dir: Path) -> dict[tuple[str, int], str]:
    (run,) = list(work_dir.iterdir())
    records = [json.loads(line) for line in (run / "records/local.jsonl").read_text().splitlines()]
    assert all(r["error"] is None for r in records), [r["error"] for r in records]
    return {(r["abbr"], r["index"]): r["prediction"] for r in records}


def test_two_runs_of_the_local_demo_give_the_same_replies(real_data, tmp_path):
    local_model_or_skip()
    assert RUN_SLOTS == 1
    task = {"datasets": ["gsm8k", "ARC_c"], "models": [{"path": "local", "max_tokens_cap": 48}],
            "data_dir": str(real_data), "limit": 6, "progress": False}  # fmt: skip
    first = run_task({**task, "work_dir": str(tmp_path / "first")})
    second = run_task({**task, "work_dir": str(tmp_path / "second")})
    a, b = _replies(tmp_path / "first"), _replies(tmp_path / "second")
    assert len(a) == 12 and a.keys() == b.keys()
    differing = [key for key in a if a[key] != b[key]]
    assert not differing, [(key, a[key], b[key]) for key in differing]
    assert first == second
