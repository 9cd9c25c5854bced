"""End to end against the built-in server over loopback: scores, outputs, resume, rescore."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compasslite.rundir import read_records
from compasslite.runner import execute, rescore
from compasslite.testing import oracle
from helpers import config, oracle_mapping, plans_for

CORE = ["gsm8k", "ARC_c", "mmlu", "ceval"]


@pytest.mark.realdata
def test_core_datasets_score_100_with_natural_correct_replies(real_data, tmp_path, fake_server):
    cfg = config(CORE, real_data, tmp_path, concurrency=32)
    plans = plans_for(cfg)
    assert sum(len(p.indices) for p in plans) == 1319 + 295 + 14042 + 1346
    mapping, truth = oracle_mapping(cfg, plans, "right")
    server = fake_server(oracle(mapping, "NO ORACLE REPLY"))
    cfg.models[0].openai_api_base = server.base_url
    outcome = execute(cfg)
    scores = outcome.scores()["fake-model"]
    for plan in plans:
        flags = truth[plan.subset.abbr]
        # A prompt-to-reply oracle cannot answer two rows with byte-identical prompts but
        # different gold answers (ceval-college_economics rows 5 and 54): those score as the
        # test computes, every other subset 100.
        assert len(flags) - sum(flags) <= 1, plan.subset.abbr
        assert scores[plan.subset.abbr]["accuracy"] == pytest.approx(100.0 * sum(flags) / len(flags)), (
            plan.subset.abbr
        )
    for group in ("mmlu", "mmlu-weighted", "mmlu-stem", "ceval-hard"):
        assert list(scores[group].values()) == [100.0]
    # Every sample was asked exactly once (two samples with the same prompt count as two).
    assert sum(server.requests.values()) == sum(len(p.indices) for p in plans)


@pytest.mark.realdata
def test_deterministic_mix_scores_what_the_gold_labels_say(real_data, tmp_path, fake_server):
    cfg = config(CORE, real_data, tmp_path, limit=40)
    plans = plans_for(cfg)
    mapping, truth = oracle_mapping(cfg, plans, "mixed")
    server = fake_server(oracle(mapping))
    cfg.models[0].openai_api_base = server.base_url
    outcome = execute(cfg)
    scores = outcome.scores()["fake-model"]
    for plan in plans:
        flags = truth[plan.subset.abbr]
        expected = 100.0 * sum(flags) / len(flags)
        assert scores[plan.subset.abbr]["accuracy"] == pytest.approx(expected), plan.subset.abbr
    # Group averages are the plain mean of their member rows.
    mmlu_rows = [scores[p.subset.abbr]["accuracy"] for p in plans if p.benchmark.name == "mmlu"]
    assert scores["mmlu"]["naive_average"] == pytest.approx(float(f"{sum(mmlu_rows) / len(mmlu_rows):.2f}"))


@pytest.mark.realdata
def test_run_directory_layout_and_contents(real_data, tmp_path, fake_server):
    server = fake_server(lambda prompt, req: "The answer is 18.")
    cfg = config(["gsm8k", "ARC_c"], real_data, tmp_path, api_base=server.base_url, limit=3)
    out = execute(cfg)
    root = out.run_dir.root
    assert root.parent == tmp_path
    for rel in [
        "manifest.json", "configs/config.yaml", "records/fake-model.jsonl", "logs/run.log",
        "predictions/fake-model/gsm8k.json", "predictions/fake-model/ARC-c.json",
        "results/fake-model/gsm8k.json", "results/fake-model/ARC-c.json",
        f"summary/summary_{root.name}.csv", f"summary/summary_{root.name}.md", f"summary/summary_{root.name}.txt",
    ]:  # fmt: skip
        assert (root / rel).is_file(), rel
    preds = json.loads((root / "predictions/fake-model/gsm8k.json").read_text())
    assert set(preds) == {"0", "1", "2"}
    assert set(preds["0"]) == {"origin_prompt", "prediction", "gold"}
    assert preds["0"]["prediction"] == "The answer is 18."
    assert preds["0"]["gold"].endswith("#### 18")
    result = json.loads((root / "results/fake-model/gsm8k.json").read_text())
    assert result["accuracy"] == pytest.approx(100 / 3)
    assert result["samples"] == {"total": 3, "scored": 3, "failed_requests": 0, "not_requested": 0,
                                 "unfinished_reasoning": 0}
    assert [d["correct"] for d in result["details"]] == [True, False, False]
    csv_lines = (root / f"summary/summary_{root.name}.csv").read_text().splitlines()
    assert csv_lines[0] == "dataset,version,metric,mode,fake-model"
    assert csv_lines[1] == "gsm8k,1d7fe4,accuracy,gen,33.33"
    assert csv_lines[2].startswith("ARC-c,1e0de5,accuracy,gen,")
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["datasets"]["gsm8k"]["gsm8k"]["selected"] == 3


@pytest.mark.realdata
def test_failed_requests_are_errors_not_wrong_answers(real_data, tmp_path, fake_server):
    cfg = config(["ARC_c"], real_data, tmp_path, limit=10, model={"retries": 1})
    plans = plans_for(cfg)
    mapping, _ = oracle_mapping(cfg, plans, "right")
    broken = set(list(mapping)[:3])

    def policy(prompt: str, request: dict) -> str:
        return mapping[prompt]

    server = fake_server(policy)
    # A 404 is permanent: those samples fail at once, are reported, and are not scored.
    original = server.policy

    def failing(prompt: str, request: dict) -> str:
        if prompt in broken:
            raise web_bad_request()
        return original(prompt, request)

    server.policy = failing
    cfg.models[0].openai_api_base = server.base_url
    out = execute(cfg)
    res = out.results["fake-model"]["ARC-c"]
    assert (res.total, res.answered, res.errors) == (10, 7, 3)
    assert res.metrics["accuracy"] == 100.0  # the 7 answered are right; failures are not counted wrong
    assert out.summary.errors == [
        "fake-model / ARC-c: 7/10 scored; 3 failed request(s), e.g. HTTP 404: not found (failed on attempt 1)"
    ]
    # Resume asks again only the failed ones; once the server is healthy they score.
    server.policy = original
    server.reset_stats()
    from compasslite.rundir import RunDir

    out2 = execute(cfg, resume=RunDir.open(out.run_dir.root))
    assert sum(server.requests.values()) == 3
    assert out2.results["fake-model"]["ARC-c"].answered == 10
    assert out2.results["fake-model"]["ARC-c"].metrics["accuracy"] == 100.0


def web_bad_request() -> Exception:
    from aiohttp import web

    return web.HTTPNotFound(text='{"error": {"message": "not found"}}', content_type="application/json")


@pytest.mark.realdata
def test_rescore_needs_no_server_and_reproduces_results(real_data, tmp_path, fake_server):
    cfg = config(["gsm8k", "ceval"], real_data, tmp_path, limit=5)
    plans = plans_for(cfg)
    mapping, _ = oracle_mapping(cfg, plans, "mixed")
    server = fake_server(oracle(mapping))
    cfg.models[0].openai_api_base = server.base_url
    out = execute(cfg)
    server.stop()
    root = out.run_dir.root
    before = (root / f"summary/summary_{root.name}.csv").read_text()
    result_before = (root / "results/fake-model/gsm8k.json").read_text()
    for p in (root / "results").rglob("*.json"):
        p.unlink()
    (root / f"summary/summary_{root.name}.csv").unlink()
    again = rescore(root)
    assert (root / f"summary/summary_{root.name}.csv").read_text() == before
    assert (root / "results/fake-model/gsm8k.json").read_text() == result_before
    assert again.scores() == out.scores()


@pytest.mark.realdata
def test_resume_after_sigkill_asks_nothing_twice(real_data, tmp_path):
    """Kill the run with SIGKILL mid-way, resume: nothing answered is requested again, and the
    final outputs equal those of an uninterrupted run."""
    cfg = config(["gsm8k"], real_data, tmp_path / "a", limit=120, concurrency=8)
    plans = plans_for(cfg)
    mapping, _ = oracle_mapping(cfg, plans, "mixed")
    oracle_file = tmp_path / "oracle.json"
    oracle_file.write_text(json.dumps(mapping))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "compasslite.testing.server", "--port", str(port), "--latency", "0.05",
         "--oracle", str(oracle_file)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_http(port)
        base = f"http://127.0.0.1:{port}/v1"
        args = [sys.executable, "-m", "compasslite.cli", "run", "--datasets", "gsm8k", "--model", "fake-model",
                "--api-base", base, "--limit", "120", "--concurrency", "8", "--data-dir", str(real_data),
                "--work-dir", str(tmp_path / "a"), "--no-progress"]  # fmt: skip
        run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        run_dir = _wait_records(tmp_path / "a", at_least=30)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        partial = read_records(run_dir / "records/fake-model.jsonl")
        assert 30 <= len(partial) < 120
        stats_before = _stats(port)
        resumed = subprocess.run(
            [sys.executable, "-m", "compasslite.cli", "run", "--resume", str(run_dir), "--no-progress"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        stats_after = _stats(port)
        # No answered sample was requested again by the resumed run.
        for prompt, n in stats_after["requests"].items():
            if any(r.answered and r.origin_prompt == prompt for r in partial.values()):
                assert n == stats_before["requests"].get(prompt, 0), "answered sample requested twice"
        assert len(read_records(run_dir / "records/fake-model.jsonl")) == 120
        # Compare with an uninterrupted run.
        clean = subprocess.run(
            [*args[:-3], "--work-dir", str(tmp_path / "b"), "--no-progress"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert clean.returncode == 0, clean.stderr
        clean_dir = next((tmp_path / "b").iterdir())
        for rel in ["results/fake-model/gsm8k.json", "predictions/fake-model/gsm8k.json"]:
            assert _strip_volatile(run_dir / rel) == _strip_volatile(clean_dir / rel)
        assert (run_dir / f"summary/summary_{run_dir.name}.csv").read_text() == (
            clean_dir / f"summary/summary_{clean_dir.name}.csv"
        ).read_text()
    finally:
        server.terminate()
        server.wait(10)


def _strip_volatile(path: Path) -> object:
    return json.loads(path.read_text())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(port: int) -> None:
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _stats(port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as resp:
        return json.loads(resp.read())


def _wait_records(work: Path, at_least: int) -> Path:
    deadline = time.time() + 60
    while time.time() < deadline:
        for rec in work.glob("*/records/fake-model.jsonl"):
            if rec.stat().st_size and rec.read_bytes().count(b"\n") >= at_least:
                return rec.parent.parent
        time.sleep(0.02)
    raise RuntimeError("run did not produce records")


def test_api_key_never_reaches_any_file(tmp_path, fake_server):
    key = "sk-test-SECRET-0123456789"
    fixture = Path(__file__).parent / "fixtures" / "data"
    server = fake_server(lambda p, r: "The answer is 7.", api_key=key)
    os.environ.pop("OPENAI_API_KEY", None)
    cfg = config(["gsm8k"], fixture, tmp_path, api_base=server.base_url, model={"key": key}, limit=2)
    execute(cfg)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


@pytest.mark.realdata
def test_a_subset_with_a_missing_file_is_reported_and_the_rest_runs(real_data, tmp_path, fake_server):
    if (real_data / "race/test/high.jsonl").exists():
        pytest.skip("race-high is present in this data folder")
    server = fake_server(lambda p, r: "The answer is A.")
    cfg = config(["race"], real_data, tmp_path, api_base=server.base_url, limit=2)
    out = execute(cfg)
    assert "race-middle" in out.results["fake-model"]
    assert "race-high" in out.summary.skipped and "high.jsonl" in out.summary.skipped["race-high"]
    txt = (out.run_dir.root / f"summary/summary_{out.run_dir.root.name}.txt").read_text()
    assert "race-high" in txt and "Not evaluated (data missing)" in txt


def test_a_dataset_with_no_data_at_all_is_an_error(tmp_path):
    from compasslite.errors import DataError

    cfg = config(["gsm8k"], tmp_path / "empty", tmp_path)
    with pytest.raises(DataError, match=r"gsm8k.*does not exist"):
        execute(cfg)
    assert not any(p.name != "empty" for p in tmp_path.iterdir())


def test_several_models_in_one_config_share_one_summary(tmp_path, fake_server):
    from compasslite.config import from_task_config

    fixture = Path(__file__).parent / "fixtures" / "data"
    good = fake_server(lambda p, r: "The answer is B.", model="model-a")
    bad = fake_server(lambda p, r: "The answer is D.", model="model-b")
    cfg = from_task_config(
        {
            "eval_backend": "OpenCompass",
            "eval_config": {
                "datasets": ["ARC_c"],
                "models": [
                    {
                        "path": "model-a",
                        "openai_api_base": good.base_url + "/chat/completions",
                        "is_chat": True,
                    },
                    {"path": "model-b", "abbr": "second", "openai_api_base": bad.base_url, "batch_size": 2},
                ],
                "work_dir": str(tmp_path),
                "data_dir": str(fixture),
                "progress": False,
            },
        }
    )
    out = execute(cfg)
    assert out.summary.header == ["dataset", "version", "metric", "mode", "model-a", "second"]
    assert out.scores()["model-a"]["ARC-c"]["accuracy"] == 100.0
    assert out.scores()["second"]["ARC-c"]["accuracy"] == 0.0
    root = out.run_dir.root
    assert (root / "predictions/second/ARC-c.json").is_file() and (root / "records/model-a.jsonl").is_file()
    assert (root / f"summary/summary_{root.name}.csv").read_text().splitlines()[
        1
    ] == "ARC-c,1e0de5,accuracy,gen,100.00,0.00"


def test_code_extraction_switch_reaches_scoring_and_rescoring(tmp_path, fake_server):
    """A stripped, unfenced function body fails OpenCompass's extraction (its first line lost
    its indentation) and passes with code_extraction='robust'; rescoring keeps the run's mode."""
    fixture = Path(__file__).parent / "fixtures" / "data"
    problems = [
        json.loads(line)
        for line in (fixture / "humaneval/human-eval-v2-20210705.jsonl").read_text().splitlines()
    ]
    by_entry = {p["entry_point"]: p["canonical_solution"] for p in problems}

    def policy(prompt: str, request: dict) -> str:
        name = next(n for n in by_entry if f"def {n}(" in prompt)
        return by_entry[name]  # the server strips nothing; the client strips the reply

    server = fake_server(policy)
    exact = execute(config(["humaneval"], fixture, tmp_path / "exact", api_base=server.base_url))
    robust = execute(
        config(
            ["humaneval"], fixture, tmp_path / "robust", api_base=server.base_url, code_extraction="robust"
        )
    )
    assert exact.scores()["fake-model"]["openai_humaneval"]["humaneval_pass@1"] == 0.0
    assert robust.scores()["fake-model"]["openai_humaneval"]["humaneval_pass@1"] == 100.0
    assert rescore(robust.run_dir.root).scores() == robust.scores()


def test_evalscope_reuse_latest_resumes_the_latest_run(tmp_path, fake_server):
    from compasslite import run_task

    fixture = Path(__file__).parent / "fixtures" / "data"
    server = fake_server(lambda p, r: "The answer is B.")
    task = {
        "eval_backend": "OpenCompass",
        "eval_config": {
            "datasets": ["ARC_c"],
            "models": [{"path": "fake-model", "openai_api_base": server.base_url}],
            "work_dir": str(tmp_path),
            "data_dir": str(fixture),
            "reuse": "latest",  # no earlier run: starts a new one
            "progress": False,
        },
    }
    first = run_task(task)
    assert len(list(tmp_path.iterdir())) == 1
    server.reset_stats()
    assert run_task(task) == first  # the same run directory, nothing asked again
    assert len(list(tmp_path.iterdir())) == 1 and sum(server.requests.values()) == 0


def test_cli_without_model_name_uses_the_servers_only_model(tmp_path, fake_server, capsys):
    from compasslite.cli import main

    fixture = Path(__file__).parent / "fixtures" / "data"
    server = fake_server(lambda p, r: "The answer is B.", model="served-model")
    code = main(["run", "--datasets", "ARC_c", "--api-base", server.base_url, "--data-dir", str(fixture),
                 "--work-dir", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (run,) = list(tmp_path.iterdir())
    assert (run / "predictions/served-model/ARC-c.json").is_file()
    assert "served-model" in capsys.readouterr().out


def test_cli_runs_an_evalscope_yaml_task_file(tmp_path, fake_server, capsys):
    import yaml

    from compasslite.cli import main

    fixture = Path(__file__).parent / "fixtures" / "data"
    server = fake_server(lambda p, r: "The answer is B.")
    task = {
        "eval_backend": "OpenCompass",
        "eval_config": {
            "datasets": ["ARC_c", "gsm8k"],
            "models": [
                {
                    "path": "fake-model",
                    "openai_api_base": server.base_url + "/chat/completions",
                    "is_chat": True,
                    "batch_size": 4,
                }
            ],  # fmt: skip
            "work_dir": str(tmp_path / "out"),
            "limit": 2,
            "data_dir": str(fixture),
        },
    }
    (tmp_path / "task.yaml").write_text(yaml.safe_dump(task))
    assert main(["run", str(tmp_path / "task.yaml"), "--no-progress"]) == 0, capsys.readouterr().err
    (run,) = list((tmp_path / "out").iterdir())
    csv_rows = (run / f"summary/summary_{run.name}.csv").read_text().splitlines()
    assert csv_rows == ["dataset,version,metric,mode,fake-model", "ARC-c,1e0de5,accuracy,gen,100.00",
                        "gsm8k,1d7fe4,accuracy,gen,0.00"]  # fmt: skip
