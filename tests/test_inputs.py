"""Inputs that used to end in a traceback or a silent merge: each is one clear line now."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from compasslite.runner import execute, rescore
from compasslite.testing import oracle
from helpers import config, oracle_mapping, plans_for

CLI = [sys.executable, "-m", "compasslite.cli"]


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize(
    "models,message",
    [
        ("[m]", "models.0 must be a mapping such as {path: 'm'}, not a str"),
        ("{path: m}", "'models' must be a list of model entries"),
        ("[{path: Qwen/Qwen2.5-7B, openai_api_base: 'http://127.0.0.1:9/v1'}, "
         "{path: Qwen_Qwen2.5-7B, openai_api_base: 'http://127.0.0.1:8/v1'}]",
         "models 'Qwen/Qwen2.5-7B' and 'Qwen_Qwen2.5-7B' would share the output name 'Qwen_Qwen2.5-7B'"),
        ("[{path: 通义千问, openai_api_base: 'http://127.0.0.1:9/v1'}, {path: 文心一言, openai_api_base: 'http://127.0.0.1:8/v1'}]",
         "models '通义千问' and '文心一言' would share the output name 'model'"),
        ("[{path: m, openai_api_base: 'http://127.0.0.1:9/v1'}, {path: m, openai_api_base: 'http://127.0.0.1:8/v1'}]",
         "models 'm' and 'm' would share the output name 'm'"),
    ],
)  # fmt: skip
def test_model_list_problems_are_one_line(models, message, tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text(f"datasets: [gsm8k]\nmodels: {models}\n", encoding="utf-8")
    proc = _cli("run", str(task), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_url_credentials_with_a_key_and_a_password_in_a_mistyped_url(tmp_path):
    proc = _cli("run", "--datasets", "gsm8k", "--api-base", "http://alice:pw1234@127.0.0.1:9/v1", "--api-key", "sk-x")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "holds credentials (user:password@) and an API key is given too" in proc.stderr
    proc = _cli("run", "--datasets", "gsm8k", "--api-base", "htp://alice:pw1234@x/v1")
    assert proc.returncode == 2 and "pw1234" not in proc.stderr and "htp://***@x/v1" in proc.stderr


def test_record_lines_with_wrong_types_are_reported_and_asked_again(merged_data, tmp_path, fake_server, caplog):
    cfg = config(["ARC_c"], merged_data, tmp_path, limit=4)
    mapping, _ = oracle_mapping(cfg, plans_for(cfg), "right")
    server = fake_server(oracle(mapping))
    cfg.models[0].openai_api_base = server.base_url
    out = execute(cfg)
    path = out.run_dir.records_path("fake-model")
    lines = path.read_text().splitlines()
    bad = [json.loads(x) for x in lines[:3]]
    bad[0]["index"] = "zero"
    bad[1]["prediction"] = {"text": "A"}
    del bad[2]["fingerprint"]
    path.write_text("\n".join([json.dumps(b) for b in bad] + lines[3:]) + "\n")
    with caplog.at_level("WARNING", logger="compasslite"):
        again = rescore(out.run_dir.root)
    assert f"{path}:1: record skipped (field 'index' is a str)" in caplog.text
    assert f"{path}:2: record skipped (field 'prediction' is a dict)" in caplog.text
    assert f"{path}:3: record skipped (no 'fingerprint' field)" in caplog.text
    assert again.results["fake-model"]["ARC-c"].missing == 3
    # A resume asks exactly those three again and ends where a clean run ends.
    server.reset_stats()
    resumed = execute(cfg, resume=out.run_dir)
    assert sum(server.requests.values()) == 3
    assert resumed.scores()["fake-model"]["ARC-c"] == {"accuracy": 100.0}
