"""A real end-to-end evaluation against the embedded llama.cpp model (the `local` extra).

Scores of a 135M model are near chance: this asserts the pipeline, not the score."""

from __future__ import annotations

import json

import pytest

from compasslite import run_task
from conftest import local_model_or_skip

pytestmark = [pytest.mark.local_model, pytest.mark.slow]


def test_local_model_end_to_end(real_data, tmp_path):
    local_model_or_skip()
    datasets = ["gsm8k", "ARC_c", "ceval-computer_network", "humaneval"]
    scores = run_task(
        {
            "datasets": datasets,
            "models": [{"path": "local", "max_tokens_cap": 48}],
            "data_dir": str(real_data),
            "work_dir": str(tmp_path),
            "limit": 2,
            "progress": False,
        }
    )
    assert set(scores["local"]) >= {"gsm8k", "ARC-c", "ceval-computer_network", "openai_humaneval"}
    (run,) = list(tmp_path.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    summary = (run / f"summary/summary_{run.name}.csv").read_text().splitlines()
    assert summary[0] == "dataset,version,metric,mode,local"
    assert [line.split(",")[0] for line in summary[1:]] == [
        "gsm8k", "ARC-c", "ceval-computer_network", "openai_humaneval",
    ]  # fmt: skip
    for line in summary[1:]:
        value = float(line.split(",")[-1])
        assert 0.0 <= value <= 100.0
    replies = [json.loads(line) for line in (run / "records/local.jsonl").read_text().splitlines()]
    assert len(replies) == 8
    assert all(r["error"] is None for r in replies), [r["error"] for r in replies]
    texts = [r["prediction"] for r in replies]
    # Real generated text: non-empty, mostly letters, not all the same.
    assert all(t and sum(c.isalpha() for c in t) >= 3 for t in texts), texts
    assert len(set(texts)) > 1
