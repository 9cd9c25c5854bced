"""Scale: the built-in server's capacity limit, replicas (one killed mid-run), models evaluated
at the same time, and outputs written one sub-dataset at a time from records/ (flat memory).

Real components throughout: FakeServers over loopback, real run directories, the real client."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rich.console import Console

from compasslite.benchmark import resolve
from compasslite.config import ConfigError, from_task_config
from compasslite.errors import ServerError
from compasslite.progress import BoardView, ProgressBoard
from compasslite.replicas import probe_replicas
from compasslite.rundir import RunDir, read_records
from compasslite.runner import execute, load_plans, write_outputs, write_outputs_from_records
from compasslite.testing import FakeServer


def _plus_file(tmp_path: Path, n: int, name: str = "plus") -> Path:
    path = tmp_path / f"{name}.jsonl"
    rows = [{"question": f"What is {i} plus one?", "answer": str(i + 1)} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _plus_policy(prompt: str, request: dict[str, Any]) -> str:
    """Right for 4 samples in 5, so a score tells whether every reply landed where it belongs."""
    n = int(re.search(r"What is (\d+) plus one", prompt).group(1))  # type: ignore[union-attr]
    return str(n + 1) if n % 5 else "wrong"


def _cfg(datasets: list[str], work: Path, models: list[dict[str, Any]], **kw: Any) -> Any:
    return from_task_config(
        {"datasets": datasets, "models": models, "work_dir": str(work), "progress": False, **kw}
    )


def _tree(root: Path, *folders: str) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for folder in folders
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------ server capacity
def test_server_serves_at_most_capacity_requests_at_once(fake_server):
    server = fake_server(lambda prompt, request: "ok", latency_s=0.2, capacity=2)

    async def ask_many() -> list[int]:
        body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        async with aiohttp.ClientSession() as session:

            async def one() -> int:
                async with session.post(server.base_url + "/chat/completions", json=body) as resp:
                    await resp.read()
                    return resp.status

            return await asyncio.gather(*(one() for _ in range(6)))

    assert asyncio.run(ask_many()) == [200] * 6
    assert server.peak_in_flight == 2  # six sent at once, two served at a time, all answered
    assert server.in_flight == 0


def test_server_capacity_must_be_positive():
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        FakeServer(capacity=0)


# ------------------------------------------------------------------------- replicas
def test_a_replica_killed_mid_run_costs_no_sample(tmp_path, fake_server):
    n = 600
    data = _plus_file(tmp_path, n)
    servers = [fake_server(_plus_policy, latency_s=0.02, capacity=4) for _ in range(3)]
    victim = servers[1]

    def kill_when_a_quarter_is_answered() -> None:
        deadline = time.monotonic() + 120
        while sum(sum(s.answered.values()) for s in servers) < n // 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        victim.stop()

    killer = threading.Thread(target=kill_when_a_quarter_is_answered, daemon=True)
    killer.start()
    model = {"path": "fake-model", "openai_api_base": [s.base_url for s in servers], "timeout": 60}
    out = execute(_cfg([str(data)], tmp_path / "replicas", [model], concurrency=4))
    killer.join(10)
    res = out.results["fake-model"]["plus"]
    assert (res.total, res.answered, res.errors) == (n, n, 0)
    assert res.metrics == {"score": 80.0}
    answered = [sum(s.answered.values()) for s in servers]
    assert 0 < answered[1] < n // 2  # the victim served its share until it died...
    assert answered[0] > n // 4 and answered[2] > n // 4  # ...and the others the rest
    log = (out.run_dir.root / "logs" / "run.log").read_text()
    assert f"replica {victim.base_url} out for" in log

    # The same run against one server: the same results and predictions, byte for byte.
    single = fake_server(_plus_policy)
    one = {"path": "fake-model", "openai_api_base": single.base_url}
    alone = execute(_cfg([str(data)], tmp_path / "single", [one], concurrency=4))
    assert _tree(alone.run_dir.root, "results", "predictions") == _tree(out.run_dir.root, "results", "predictions")


def test_requests_go_to_the_replica_with_most_room(tmp_path, fake_server):
    """Replicas of equal capacity share the work about equally."""
    n = 300
    data = _plus_file(tmp_path, n)
    servers = [fake_server(_plus_policy, latency_s=0.01, capacity=2) for _ in range(3)]
    model = {"path": "fake-model", "openai_api_base": [s.base_url for s in servers]}
    out = execute(_cfg([str(data)], tmp_path, [model], concurrency=2))
    assert out.results["fake-model"]["plus"].answered == n
    counts = [sum(s.answered.values()) for s in servers]
    assert sum(counts) == n
    assert all(c >= n // 6 for c in counts), counts
    assert all(s.peak_in_flight <= 2 for s in servers)  # never more than the per-replica concurrency


def test_probe_checks_every_replica_and_takes_the_smallest_context(fake_server):
    from compasslite.client import Endpoint

    big, small = fake_server(context_length=32768), fake_server(context_length=4096)
    unnamed = Endpoint(api_base=big.base_url, model="")
    assert asyncio.run(probe_replicas(unnamed, [big.base_url, small.base_url])) == 4096
    assert unnamed.model == "fake-model"  # the first replica's only model

    other = fake_server(model="another-model")
    with pytest.raises(ServerError, match=rf"replica {re.escape(other.base_url)}: .*does not serve model 'fake-model'"):
        asyncio.run(probe_replicas(Endpoint(api_base=big.base_url, model="fake-model"), [big.base_url, other.base_url]))


def test_run_refuses_a_replica_that_is_down(tmp_path, fake_server):
    data = _plus_file(tmp_path, 3)
    up = fake_server(_plus_policy)
    model = {"path": "fake-model", "openai_api_base": [up.base_url, "http://127.0.0.1:9/v1"]}
    with pytest.raises(ServerError, match=r"replica http://127.0.0.1:9/v1: cannot reach the server"):
        execute(_cfg([str(data)], tmp_path, [model]))
    assert not (tmp_path / "outputs").exists()


def test_api_base_list_in_config_and_repeated_flag(tmp_path):
    from compasslite.cli import _run_config_from_args, build_parser

    args = build_parser().parse_args(
        ["run", "--datasets", "gsm8k", "--model", "m", "--api-base", "http://a:1/v1", "--api-base", "http://b:2/v1"]
    )
    cfg = _run_config_from_args(args)
    assert cfg.models[0].openai_api_base == ["http://a:1/v1", "http://b:2/v1"]
    one = _run_config_from_args(build_parser().parse_args(["run", "-d", "gsm8k", "-m", "m", "--api-base", "http://a:1/v1"]))
    assert one.models[0].openai_api_base == "http://a:1/v1"  # one server: a plain URL, as before
    with pytest.raises(ConfigError, match="listed twice"):
        _cfg(["gsm8k"], tmp_path, [{"path": "m", "openai_api_base": ["http://a:1/v1", "http://a:1/v1"]}])
    with pytest.raises(ConfigError, match="is not an http"):
        _cfg(["gsm8k"], tmp_path, [{"path": "m", "openai_api_base": ["http://a:1/v1", "ftp://b"]}])
    secret = _cfg(["gsm8k"], tmp_path, [{"path": "m", "openai_api_base": ["http://u:pw@a:1/v1", "http://b:2/v1"]}])
    assert "pw" not in json.dumps(secret.public_dict())


# ------------------------------------------------------------------ concurrent models
def test_models_of_a_run_are_evaluated_at_the_same_time(tmp_path, fake_server):
    n = 40
    data = _plus_file(tmp_path, n)
    spans: dict[str, list[float]] = {"a": [], "b": []}

    def timed(name: str, right_always: bool) -> Any:
        def policy(prompt: str, request: dict[str, Any]) -> str:
            spans[name].append(time.monotonic())
            reply = _plus_policy(prompt, request)
            return str(int(re.search(r"(\d+) plus", prompt).group(1)) + 1) if right_always else reply  # type: ignore[union-attr]

        return policy

    sa = fake_server(timed("a", False), latency_s=0.05, capacity=2)
    sb = fake_server(timed("b", True), latency_s=0.05, capacity=2)
    models = [
        {"path": "fake-model", "abbr": "a", "openai_api_base": sa.base_url, "batch_size": 2},
        {"path": "fake-model", "abbr": "b", "openai_api_base": sb.base_url, "batch_size": 2},
    ]
    out = execute(_cfg([str(data)], tmp_path, models))
    assert out.results["a"]["plus"].answered == n and out.results["a"]["plus"].metrics == {"score": 80.0}
    assert out.results["b"]["plus"].answered == n and out.results["b"]["plus"].metrics == {"score": 100.0}
    assert out.summary.models == ["a", "b"]
    # Each model took about a second (40 requests, 2 at a time, 50 ms each): run one after the
    # other, their servers' busy spans would not overlap.
    start, end = max(min(spans["a"]), min(spans["b"])), min(max(spans["a"]), max(spans["b"]))
    assert start < end
    for name in ("a", "b"):
        records = read_records(out.run_dir.records_path(name))
        assert len(records) == n and all(r.answered for r in records.values())


def test_plain_progress_lines_name_the_model():
    out = io.StringIO()
    board = ProgressBoard(console=Console(file=out, width=200, force_terminal=False), plain_interval_s=0)
    a, b = BoardView(board, "model-a"), BoardView(board, "model-b")
    with board:
        a.add("gsm8k", 1)
        b.add("gsm8k", 1)
        a.advance("gsm8k")
        b.advance("gsm8k", error=True)
    text = out.getvalue()
    assert "model-a: gsm8k: 1/1" in text and "model-b: gsm8k: 1/1" in text and "1 failed" in text


# ------------------------------------------------------------------------ flat memory
def test_outputs_streamed_from_records_are_those_of_all_records_at_once(tmp_path, fake_server):
    """write_outputs_from_records (one sub-dataset at a time) writes the same bytes as
    write_outputs on every record held at once, with repeats, a resumed sample asked twice,
    a torn last line and a malformed line in the records."""
    files = [_plus_file(tmp_path, 30, "one"), _plus_file(tmp_path, 20, "two")]
    server = fake_server(_plus_policy)
    model = {"path": "fake-model", "openai_api_base": server.base_url}
    cfg = _cfg([str(f) for f in files], tmp_path / "w", [model], repeats=2)
    out = execute(cfg)
    run = out.run_dir
    path = run.records_path("fake-model")
    lines = path.read_bytes().splitlines(keepends=True)
    redo = json.loads(lines[3])
    redo["prediction"] = "a later reply"
    path.write_bytes(b"".join(lines) + b"not json\n" + json.dumps(redo).encode() + b"\n" + lines[5][:20])

    plans = load_plans(resolve(cfg.datasets), Path("."), None, "first")
    expected_dir = RunDir(tmp_path / "expected")
    shutil.copytree(run.root / "records", expected_dir.root / "records")
    per_repeat = [read_records(expected_dir.records_path("fake-model", r)) for r in range(2)]
    expected = write_outputs(expected_dir, "fake-model", plans, per_repeat)
    got = write_outputs_from_records(run, "fake-model", plans, 2)
    assert _tree(run.root, "results", "predictions") == _tree(expected_dir.root, "results", "predictions")
    assert {k: (v.metrics, v.answered, v.repeat_metrics) for k, v in got.items()} == {
        k: (v.metrics, v.answered, v.repeat_metrics) for k, v in expected.items()
    }
    assert json.loads((run.root / "predictions" / "fake-model" / "one.json").read_text())["3"]["prediction"] == (
        "a later reply"
    )
    assert not list(run.root.glob(".scoring-*"))  # the split files are gone


def test_slim_records_keep_no_texts(tmp_path, fake_server):
    data = _plus_file(tmp_path, 5)
    server = fake_server(_plus_policy)
    out = execute(_cfg([str(data)], tmp_path, [{"path": "fake-model", "openai_api_base": server.base_url}]))
    full = read_records(out.run_dir.records_path("fake-model"))
    slim = read_records(out.run_dir.records_path("fake-model"), slim=True)
    assert full.keys() == slim.keys()
    for key, rec in slim.items():
        assert rec.origin_prompt == "" and rec.prediction == "" and rec.answered
        assert rec.fingerprint == full[key].fingerprint and full[key].origin_prompt


def _prompt(text: str) -> Any:
    from compasslite.types import Prompt

    return Prompt(text, [{"role": "user", "content": text}], text, 3, "fp")


def test_a_failing_replica_is_taken_out_and_its_requests_go_elsewhere(fake_server):
    from compasslite.client import Endpoint
    from compasslite.replicas import ReplicaPool
    from compasslite.testing.server import Faults

    broken = fake_server(faults=Faults(rates={"error_503": 1.0}))
    healthy = fake_server(lambda prompt, request: "fine")

    async def ask() -> list[Any]:
        endpoint = Endpoint(api_base=broken.base_url, model="fake-model", concurrency=2, retries=3)
        async with ReplicaPool(endpoint, [broken.base_url, healthy.base_url]) as pool:
            replies = await asyncio.gather(*(pool.complete(_prompt(f"q{i}"), 8) for i in range(20)))
            assert pool.replicas[0].down  # failed 3 in a row: out for its cool-down
            return replies

    replies = asyncio.run(ask())
    assert [r.text for r in replies] == ["fine"] * 20
    assert sum(broken.requests.values()) <= 6  # a few before it was taken out, none after
    assert sum(healthy.answered.values()) == 20


def test_when_every_replica_is_gone_requests_fail_instead_of_waiting(fake_server):
    from compasslite.client import Endpoint
    from compasslite.replicas import ReplicaPool

    servers = [fake_server(lambda prompt, request: "fine") for _ in range(2)]
    bases = [s.base_url for s in servers]
    for s in servers:
        s.stop()

    async def ask() -> Any:
        endpoint = Endpoint(api_base=bases[0], model="fake-model", retries=2, backoff_base_s=0.05)
        async with ReplicaPool(endpoint, bases) as pool:
            return await asyncio.wait_for(pool.complete(_prompt("q"), 8), 60)

    reply = asyncio.run(ask())
    assert reply.text is None and reply.error_kind == "transient"
    assert reply.error.startswith("connection failed") and reply.error.endswith("(gave up after attempt 3)")


def test_ctrl_c_stops_every_model_and_resume_finishes_them(tmp_path, fake_server):
    import signal
    import subprocess
    import sys

    import yaml

    n = 100
    data = _plus_file(tmp_path, n)
    # 0.2 s per request, 2 in flight: each model needs 10 s, so the SIGINT comes mid-run.
    sa, sb = (fake_server(_plus_policy, latency_s=0.2) for _ in range(2))
    task = {"datasets": [str(data)], "work_dir": str(tmp_path / "out"), "concurrency": 2,
            "models": [{"path": "fake-model", "abbr": "a", "openai_api_base": sa.base_url},
                       {"path": "fake-model", "abbr": "b", "openai_api_base": sb.base_url}]}  # fmt: skip
    cfg_file = tmp_path / "task.yaml"
    cfg_file.write_text(yaml.safe_dump(task))
    cmd = [sys.executable, "-m", "compasslite.cli", "run", str(cfg_file), "--no-progress"]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:

        def lines(model: str) -> list[bytes]:
            found = list((tmp_path / "out").glob(f"*/records/{model}.jsonl"))
            return found[0].read_bytes().splitlines(keepends=True) if found else []

        deadline = time.monotonic() + 90
        while min(len(lines("a")), len(lines("b"))) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    assert "Traceback" not in err
    (root,) = list((tmp_path / "out").iterdir())
    assert json.loads((root / "manifest.json").read_text())["status"] == "interrupted"
    for model in ("a", "b"):
        got = lines(model)
        assert 5 <= len(got) < n and all(line.endswith(b"\n") and json.loads(line) for line in got)
    resumed = subprocess.run([sys.executable, "-m", "compasslite.cli", "run", "--resume", str(root), "--no-progress"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    again = RunDir.open(root)
    for model in ("a", "b"):
        assert len(read_records(again.records_path(model))) == n
        body = json.loads((root / "results" / model / "plus.json").read_text())
        assert body["score"] == 80.0 and body["samples"]["scored"] == n
