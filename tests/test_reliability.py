"""Reliability under faults, bad input and interruption (issue 7).

Every test is a real run over loopback HTTP against the built-in server (in a thread, or as
a subprocess where the server itself must die), through `execute`, `run_task` or the CLI
(in-process `main([...])` or `python -m compasslite.cli` as a subprocess). Nothing of the
client is mocked; the only adjustment is a short retry backoff for in-process runs.

The data is synthetic (written per test module), so the suite runs without the real data
folder. "Same scores as a clean run" is checked byte for byte: predictions, results and
the summary (csv, md, txt) of a run under faults equal those of a run without faults.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from compasslite import run_task, runner
from compasslite.cli import main as cli_main
from compasslite.errors import CompassliteError, RunDirError
from compasslite.run import pipeline
from compasslite.rundir import RunDir
from compasslite.runner import execute
from compasslite.testing import FakeServer, Faults, oracle
from compasslite.testing.server import prompt_key
from helpers import config, oracle_mapping, plans_for

DATASETS = ["gsm8k", "ARC_c"]
N_GSM, N_ARC = 60, 40
N = N_GSM + N_ARC
PY = sys.executable


# ============================================================== shared pieces


def make_data(root: Path, n_gsm: int, n_arc: int, long_arc: frozenset[int] = frozenset()) -> Path:
    """Synthetic gsm8k and ARC-c files in the OpenCompass layout; every prompt is distinct."""
    (root / "gsm8k").mkdir(parents=True, exist_ok=True)
    with open(root / "gsm8k" / "test.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_gsm):
            a, b = 3 * i + 1, 7 * i + 2
            question = f"Sam has {a} apples and buys {b} more. How many apples does he have (case {i})?"
            f.write(json.dumps({"question": question, "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}) + "\n")
    (root / "ARC" / "ARC-c").mkdir(parents=True, exist_ok=True)
    with open(root / "ARC" / "ARC-c" / "ARC-Challenge-Dev.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_arc):
            stem = f"Which option is the right one in question {i}?"
            if i in long_arc:
                stem += " Some background first." + " word" * 1500
            choices = [{"text": f"option {c} of question {i}", "label": c} for c in "ABCD"]
            f.write(json.dumps({"id": f"Q{i}", "question": {"stem": stem, "choices": choices},
                                "answerKey": "ABCD"[i % 4]}) + "\n")  # fmt: skip
    return root


def outputs(root: Path) -> dict[str, str]:
    """What a user reads: predictions, results and summary files (summary names without stamp)."""
    out: dict[str, str] = {}
    for part in ("predictions", "results"):
        for path in sorted((root / part).rglob("*.json")):
            out[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
    for path in sorted((root / "summary").glob("summary_*")):
        out[f"summary{path.suffix}"] = path.read_text(encoding="utf-8")
    return out


def raw_records(root: Path, model: str = "fake-model") -> tuple[list[dict[str, Any]], int]:
    """Every parseable line of the records file, and the number of unparseable (torn) lines."""
    lines, torn = [], 0
    for line in (root / "records" / f"{model}.jsonl").read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            lines.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            torn += 1
    return lines, torn


def answered_once(root: Path, n: int = N) -> list[dict[str, Any]]:
    """Assert each of the n samples has exactly one answered record line; return the lines."""
    lines, _ = raw_records(root)
    answered = Counter((r["abbr"], r["index"]) for r in lines if r["prediction"] is not None)
    assert len(answered) == n, f"{n - len(answered)} samples without an answer"
    dupes = {k: c for k, c in answered.items() if c > 1}
    assert not dupes, f"samples answered more than once: {dupes}"
    return lines


def manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "manifest.json").read_text())


def summary_text(root: Path) -> str:
    return (root / "summary" / f"summary_{root.name}.txt").read_text(encoding="utf-8")


def run_dirs(work: Path) -> list[Path]:
    return sorted(p for p in work.iterdir() if (p / "manifest.json").is_file()) if work.is_dir() else []


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class World:
    data: Path
    mapping: dict[str, str]  # prompt text -> reply (the deterministic right/wrong mix)
    oracle_file: Path
    reference: dict[str, str]  # outputs() of a clean run

    def cli(self, work: Path, base: str, *extra: str) -> list[str]:
        return [PY, "-m", "compasslite.cli", "run", "--datasets", *DATASETS, "--model", "fake-model",
                "--api-base", base, "--data-dir", str(self.data), "--work-dir", str(work),
                "--no-progress", *extra]  # fmt: skip

    def cfg(self, work: Path, base: str, **kw: Any):
        return config(DATASETS, self.data, work, api_base=base, **kw)


def build_world(root: Path, n_gsm: int, n_arc: int) -> World:
    data = make_data(root / "data", n_gsm, n_arc)
    cfg = config(DATASETS, data, root / "reference")
    plans = plans_for(cfg)
    mapping, _ = oracle_mapping(cfg, plans, "mixed")
    assert len(mapping) == n_gsm + n_arc, "synthetic prompts must be distinct"
    oracle_file = root / "oracle.json"
    oracle_file.write_text(json.dumps(mapping), encoding="utf-8")
    with FakeServer(oracle(mapping, "NO ORACLE REPLY")) as server:
        cfg.models[0].openai_api_base = server.base_url
        out = execute(cfg)
    reference = outputs(out.run_dir.root)
    assert "NO ORACLE REPLY" not in json.dumps(reference)
    return World(data, mapping, oracle_file, reference)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("world"), N_GSM, N_ARC)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs: the same client, with a backoff of milliseconds instead of seconds."""
    original = runner.make_endpoint

    def fast(*args: Any, **kwargs: Any):
        ep = original(*args, **kwargs)
        ep.backoff_base_s, ep.backoff_max_s = 0.005, 0.05
        return ep

    monkeypatch.setattr(pipeline, "make_endpoint", fast)  # where execute() looks it up


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def get_stats(base_url: str) -> dict[str, Any]:
    root = base_url.rsplit("/v1", 1)[0]
    with urllib.request.urlopen(f"{root}/stats", timeout=5) as resp:
        return json.loads(resp.read())


def wait_for(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def record_count(work: Path) -> int:
    files = list(work.glob("*/records/fake-model.jsonl"))
    return files[0].read_bytes().count(b"\n") if files else 0


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error:" in line]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen]]:
    """Subprocesses started by a test; any still alive at the end are killed (by their pid)."""
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def spawn(procs: list[subprocess.Popen], args: list[str], env: dict[str, str] | None = None,
          **kw: Any) -> subprocess.Popen:  # fmt: skip
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)
    procs.append(p)
    return p


# ============================================================== transient faults

ALL_FAULTS = {
    "error_500": 0.1, "error_502": 0.1, "error_503": 0.1, "rate_429": 0.05, "rate_429_retry_after": 0.05,
    "stall": 0.05, "drop": 0.05, "truncated": 0.025, "not_json": 0.025, "empty_choices": 0.025,
    "null_content": 0.025,
}  # fmt: skip
FAULT_MATRIX = {
    "5xx (30%: 500/502/503)": {"error_500": 0.1, "error_502": 0.1, "error_503": 0.1},
    "429 (10%: with and without Retry-After)": {"rate_429": 0.05, "rate_429_retry_after": 0.05},
    "stall past the timeout (5%)": {"stall": 0.05},
    "connection dropped mid-response (5%)": {"drop": 0.05},
    "truncated or non-JSON body (10%)": {"truncated": 0.05, "not_json": 0.05},
    "empty choices or null content (10%)": {"empty_choices": 0.05, "null_content": 0.05},
    "all of the above at once (60%)": ALL_FAULTS,
}


@pytest.mark.parametrize("fault", list(FAULT_MATRIX))
def test_transient_faults_leave_no_trace_in_the_results(fault, world, fake_server, fast_retries, tmp_path):
    rates = FAULT_MATRIX[fault]
    server = fake_server(
        oracle(world.mapping, "NO ORACLE REPLY"),
        faults=Faults(rates=rates, seed=sum(map(ord, fault)), stall_s=5.0, retry_after_s=0.02),
    )
    cfg = world.cfg(tmp_path, server.base_url, concurrency=8, model={"retries": 40, "timeout": 1.5})
    out = execute(cfg)
    root = out.run_dir.root
    assert outputs(root) == world.reference
    lines = answered_once(root)
    assert len(lines) == N  # one line per sample: retries happen in memory, never on disk
    assert max(r["attempts"] for r in lines) > 1  # the faults did happen
    assert manifest(root)["status"] == "finished"
    # Server side: every prompt got exactly one successful reply (none was asked again
    # after it had been answered), and the failed attempts were retried.
    stats = get_stats(server.base_url)
    assert stats["answered"] == dict.fromkeys(world.mapping, 1)
    assert stats["total"] == sum(r["attempts"] for r in lines)
    assert "Samples not scored" not in summary_text(root)


def test_retries_are_bounded_and_failures_are_errors_that_a_resume_completes(
    world, fake_server, fast_retries, tmp_path
):
    server = fake_server(oracle(world.mapping), faults=Faults(rates={"error_503": 0.5}, seed=3))
    # No healing rounds (retry_budget 0): the samples that used their attempts stay failed.
    cfg = world.cfg(tmp_path, server.base_url, concurrency=8, retry_budget=0, model={"retries": 1})
    out = execute(cfg)
    lines, _ = raw_records(out.run_dir.root)
    failed = [r for r in lines if r["error"]]
    assert failed and all(r["attempts"] == 2 and "HTTP 503" in r["error"] for r in failed)
    assert "failed request(s), e.g. HTTP 503: injected 503 (gave up after attempt 2)" in summary_text(
        out.run_dir.root
    )
    server.faults = Faults()
    server.reset_stats()
    again = execute(cfg, resume=RunDir.open(out.run_dir.root))
    assert sum(get_stats(server.base_url)["requests"].values()) == len(failed)  # only those asked again
    assert outputs(again.run_dir.root) == world.reference
    answered_once(again.run_dir.root)


# ============================================================== the server down or restarted


def test_server_down_at_start_is_one_clear_error_and_no_run_directory(world, tmp_path, capsys, clean_env):
    base = f"http://127.0.0.1:{free_port()}/v1"
    work = tmp_path / "work"
    t = time.monotonic()
    assert cli_main(["run", "--datasets", *DATASETS, "--model", "fake-model", "--api-base", base,
                     "--data-dir", str(world.data), "--work-dir", str(work), "--no-progress"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert time.monotonic() - t < 10
    [line] = error_lines(err)
    assert line.startswith("error: cannot reach the server at") and "is it running" in line
    assert "Traceback" not in err
    with pytest.raises(CompassliteError, match="cannot reach the server"):
        run_task(world.cfg(work, base).model_dump(mode="json"))
    assert not work.exists()


def _server_proc(procs, port: int, world: World, latency: float) -> subprocess.Popen:
    p = spawn(procs, [PY, "-m", "compasslite.testing.server", "--port", str(port), "--latency", str(latency),
                      "--oracle", str(world.oracle_file)])  # fmt: skip
    wait_http(port)
    return p


def test_server_killed_and_restarted_within_the_retry_window(world, tmp_path, procs, clean_env):
    port = free_port()
    server = _server_proc(procs, port, world, latency=0.03)
    work = tmp_path / "work"
    run = spawn(procs, world.cli(work, f"http://127.0.0.1:{port}/v1", "--concurrency", "4", "--retries", "6"))
    wait_for(lambda: record_count(work) >= 25, what="25 records")
    server.kill()
    server.wait(10)
    time.sleep(1.0)  # the default backoff (0.5 s doubling, 6 retries) waits at least 15 s in all
    _server_proc(procs, port, world, latency=0.03)
    out, err = run.communicate(timeout=90)
    assert run.returncode == 0, err
    [root] = run_dirs(work)
    lines = answered_once(root)
    assert len(lines) == N and not any(r["error"] for r in lines)
    assert any(r["attempts"] > 1 for r in lines)  # some requests hit the outage and were retried
    assert outputs(root) == world.reference


def test_server_back_too_late_failed_samples_are_errors_and_resume_completes(
    world, tmp_path, procs, clean_env
):
    port = free_port()
    server = _server_proc(procs, port, world, latency=0.03)
    work = tmp_path / "work"
    base = f"http://127.0.0.1:{port}/v1"
    run = spawn(procs, world.cli(work, base, "--concurrency", "8", "--retries", "1"))
    wait_for(lambda: record_count(work) >= 25, what="25 records")
    server.kill()
    server.wait(10)
    out, err = run.communicate(timeout=90)
    assert run.returncode == 3, err  # finished, with samples left unscored
    assert "sample(s) not scored" in err
    [root] = run_dirs(work)
    lines, _ = raw_records(root)
    failed = [r for r in lines if r["error"]]
    assert failed and all("connection failed" in r["error"] and r["attempts"] == 2 for r in failed)
    assert "failed request(s), e.g. connection failed" in summary_text(root)
    assert "failed request(s)" in out  # the footer is printed too
    assert manifest(root)["status"] == "finished"

    server = _server_proc(procs, port, world, latency=0.0)
    resumed = subprocess.run([PY, "-m", "compasslite.cli", "run", "--resume", str(root), "--no-progress"],
                             capture_output=True, text=True, timeout=90)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert sum(get_stats(base)["requests"].values()) == len(failed)
    answered_once(root)
    assert outputs(root) == world.reference


# ============================================================== a prompt over the context length


class NoContextInfoServer(FakeServer):
    """Enforces its context length but does not advertise it on /v1/models (like OpenAI's API),
    so compasslite cannot skip long prompts itself and the server answers 400."""

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})


def test_context_overflow_400_is_recorded_per_sample_and_not_retried(tmp_path, clean_env):
    data = make_data(tmp_path / "data", 0, 20, long_arc=frozenset({3, 8, 15}))
    (data / "gsm8k").joinpath("test.jsonl").unlink()
    with NoContextInfoServer(lambda p, r: "The answer is B.", context_length=1000) as server:
        cfg = config(["ARC_c"], data, tmp_path / "work", api_base=server.base_url,
                     model={"retries": 5, "max_out_len": 100})  # fmt: skip
        out = execute(cfg)
        stats = get_stats(server.base_url)
    root = out.run_dir.root
    lines, _ = raw_records(root)
    failed = sorted((r for r in lines if r["error"]), key=lambda r: r["index"])
    assert [r["index"] for r in failed] == [3, 8, 15]
    for r in failed:
        assert r["attempts"] == 1 and r["prediction"] is None
        assert r["error"].startswith("HTTP 400: This model's maximum context length is 1000 tokens")
        assert r["error"].endswith("(failed on attempt 1)")
        assert stats["requests"][r["origin_prompt"]] == 1  # asked once, not retried
    res = out.results["fake-model"]["ARC-c"]
    assert (res.total, res.answered, res.errors) == (20, 17, 3)
    text = summary_text(root)
    assert (
        "fake-model / ARC-c: 17/20 scored; 3 failed request(s), e.g. HTTP 400: This model's maximum" in text
    )
    body = json.loads((root / "results/fake-model/ARC-c.json").read_text())
    assert body["samples"]["failed_requests"] == 3
    assert manifest(root)["status"] == "finished"


# ============================================================== SIGKILL at 20 random moments


@pytest.mark.slow
def test_sigkill_at_20_random_moments_then_resume_equals_an_uninterrupted_run(tmp_path, procs, clean_env):
    """Kill `compasslite run` with SIGKILL at 20 seeded random moments (start-up, inference,
    writing outputs), resuming each time. Server-side accounting per prompt (/stats), segment
    by segment: in the segment in which a sample's record appears it got exactly one
    successful reply; after that it is never requested again; before that, a reply can only
    have been lost to a kill: sent in the instant between the server's write and the
    client's record (the server cancels handlers whose client is gone, so replies still
    being computed at a kill are not counted)."""
    w = build_world(tmp_path / "w", 350, 50)
    n = 400
    rng = random.Random(20240607)
    work = tmp_path / "work"
    real_kills = 0
    # 2 in flight x 0.2 s caps progress at 10 samples/s, so 20 kills at most 2.2 s apart cannot
    # finish the 400 samples even on a fast machine: every kill hits a running process.
    with FakeServer(oracle(w.mapping, "NO ORACLE REPLY"), latency_s=0.2) as server:
        base = server.base_url
        seen: dict[str, int] = {}  # the server's answered counts at the end of the previous segment
        recorded_in: dict[str, int] = {}  # prompt -> segment in which its answer was recorded
        for segment in range(21):
            final = segment == 20
            dirs = run_dirs(work)
            args = (
                [PY, "-m", "compasslite.cli", "run", "--resume", str(dirs[0]), "--no-progress"]
                if dirs
                else w.cli(work, base, "--concurrency", "2")
            )
            p = spawn(procs, args)
            if not final:
                time.sleep(rng.uniform(0.4, 2.2))
                p.send_signal(signal.SIGKILL)
            out, err = p.communicate(timeout=120)
            killed = p.returncode == -signal.SIGKILL
            assert killed or p.returncode == 0, err
            assert not (final and killed)
            real_kills += killed
            time.sleep(0.15)  # let handlers in flight at the kill finish before counting
            answered_now = get_stats(base)["answered"]
            dirs = run_dirs(work)
            records: dict[str, dict[str, Any]] = {}
            if dirs and (dirs[0] / "records").is_dir():
                records = {
                    r["origin_prompt"]: r for r in raw_records(dirs[0])[0] if r["prediction"] is not None
                }
            for prompt, count in answered_now.items():
                delta = count - seen.get(prompt, 0)
                if prompt in recorded_in:
                    assert delta == 0, f"an answered sample was requested again (segment {segment})"
                elif prompt in records:
                    assert delta == 1, f"a sample got {delta} replies in the segment that recorded it"
                    recorded_in[prompt] = segment
                else:  # sent by the server, never recorded: only a reply in flight at a kill
                    assert killed and delta <= 1, f"a reply was lost without a kill (segment {segment})"
            assert set(records) <= set(recorded_in), "a record without a server reply"
            seen = dict(answered_now)
    [root] = run_dirs(work)
    assert real_kills >= 15, f"only {real_kills} of 20 kills hit a running process"
    assert len(recorded_in) == n
    answered_once(root, n)
    assert outputs(root) == w.reference
    assert manifest(root)["status"] == "finished"
    # A kill between creating the run directory and writing its manifest leaves an empty
    # directory and the next attempt starts afresh; nothing else is ever left behind.
    for other in work.iterdir():
        if other != root:
            assert not (other / "manifest.json").exists() and not (other / "records").exists()


# ============================================================== Ctrl-C


def test_ctrl_c_stops_promptly_saves_finished_work_and_resume_completes(world, tmp_path, procs, clean_env):
    faults = Faults(rates={"stall": 0.05}, seed=11, stall_s=3.0)  # some requests hang when Ctrl-C comes
    # 0.2 s per request, 4 in flight: the 80 samples after the 20th take about 4 s, so even a
    # loaded machine sends the SIGINT while the run is still asking.
    with FakeServer(oracle(world.mapping), latency_s=0.2, faults=faults) as server:
        work = tmp_path / "work"
        # A shell starts background jobs with SIGINT ignored, and a child inherits that: give the
        # run the default disposition whatever started pytest, as a terminal would.
        run = spawn(procs, world.cli(work, server.base_url, "--concurrency", "4"),
                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        wait_for(lambda: record_count(work) >= 20, what="20 records")
        t = time.monotonic()
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
        took = time.monotonic() - t
        assert run.returncode == 130, err
        assert took < 5, f"Ctrl-C took {took:.1f} s"
        [root] = run_dirs(work)
        assert f"compasslite run --resume {root}" in (out + err).replace("\n", " ")
        assert "Traceback" not in err
        assert manifest(root)["status"] == "interrupted"
        lines, torn = raw_records(root)
        assert torn == 0 and 20 <= len(lines) < N
        preds = json.loads((root / "predictions/fake-model/gsm8k.json").read_text())
        assert len(preds) == sum(1 for r in lines if r["abbr"] == "gsm8k")
        text = summary_text(root)
        for abbr, total in (("gsm8k", N_GSM), ("ARC-c", N_ARC)):
            done = sum(1 for r in lines if r["abbr"] == abbr)
            assert f"fake-model / {abbr}: {done}/{total} scored; {total - done} not yet requested" in text
            body = json.loads((root / f"results/fake-model/{abbr}.json").read_text())
            assert body["samples"]["not_requested"] == total - done
        before = get_stats(server.base_url)["requests"]
        server.faults = Faults()
        resumed = subprocess.run([PY, "-m", "compasslite.cli", "run", "--resume", str(root), "--no-progress"],
                                 capture_output=True, text=True, timeout=90)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        after = get_stats(server.base_url)["requests"]
    done_prompts = {r["origin_prompt"] for r in lines}
    assert all(after[p] == before[p] for p in done_prompts)  # nothing finished was asked again
    answered_once(root)
    assert outputs(root) == world.reference
    assert manifest(root)["status"] == "finished"


# ============================================================== concurrent runs


def test_two_runs_into_one_work_dir_get_their_own_run_directories(world, tmp_path, procs, clean_env):
    with FakeServer(oracle(world.mapping), latency_s=0.01) as server:
        work = tmp_path / "work"
        runs = [spawn(procs, world.cli(work, server.base_url, "--concurrency", "4")) for _ in range(2)]
        for r in runs:
            out, err = r.communicate(timeout=90)
            assert r.returncode == 0, err
    roots = run_dirs(work)
    assert len(roots) == 2
    for root in roots:
        answered_once(root)
        assert outputs(root) == world.reference


def test_a_second_resume_of_the_same_run_directory_is_refused(world, tmp_path, procs, clean_env, capsys):
    """The first resume holds the run directory's flock; the second gets a clear 'in use'."""
    broken = set(list(world.mapping)[::10])  # 10 samples fail the first time (permanent 400)

    def first(prompt: str, request: dict) -> str:
        if prompt in broken:
            raise web.HTTPBadRequest(
                text='{"error": {"message": "try later"}}', content_type="application/json"
            )
        return world.mapping[prompt]

    with FakeServer(first) as server:
        cfg = world.cfg(tmp_path / "work", server.base_url, concurrency=2)
        root = execute(cfg).run_dir.root
        assert sum(1 for r in raw_records(root)[0] if r["error"]) == 10
        server.policy = oracle(world.mapping)
        server.latency_s = 0.5  # the first resume takes a few seconds
        a = spawn(procs, [PY, "-m", "compasslite.cli", "run", "--resume", str(root), "--no-progress"])
        lock = root / ".lock"
        wait_for(lambda: lock.is_file() and lock.read_text() == str(a.pid), what="the first resume's lock")
        asked = sum(server.requests.values())
        wait_for(lambda: sum(server.requests.values()) > asked, what="the first resume's requests")
        before = snapshot(root)  # its manifest and config are written by now
        assert cli_main(["run", "--resume", str(root), "--no-progress"]) == 2
        err = capsys.readouterr().err
        [line] = error_lines(err)
        assert line == f"error: {root} is in use by another compasslite process; wait for it or resume later"
        with pytest.raises(RunDirError, match="in use"):
            run_task(cfg.model_dump(mode="json"), resume=root)
        assert a.poll() is None, "the first resume should still be running"
        assert {k: v for k, v in snapshot(root).items() if not k.startswith(("records", "logs"))} == {
            k: v for k, v in before.items() if not k.startswith(("records", "logs"))
        }
        out, err = a.communicate(timeout=60)
        assert a.returncode == 0, err
    answered_once(root)
    assert outputs(root) == world.reference


# ============================================================== disk full, unwritable work dir


def test_work_dir_below_a_file_is_one_clear_error(world, fake_server, tmp_path, capsys, clean_env):
    server = fake_server(oracle(world.mapping))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    work = blocker / "outputs"
    assert cli_main(["run", "--datasets", *DATASETS, "--model", "fake-model", "--api-base", server.base_url,
                     "--data-dir", str(world.data), "--work-dir", str(work), "--no-progress"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    [line] = error_lines(err)
    assert line == f"error: cannot write {work}: Not a directory"
    with pytest.raises(RunDirError, match="Not a directory"):
        run_task(world.cfg(work, server.base_url).model_dump(mode="json"))
    assert blocker.read_text() == "x"
    assert sum(server.requests.values()) == 0


def _fsize_limit(nbytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return apply


def test_file_size_limit_mid_run_is_a_clear_error_and_resume_completes(
    world, fake_server, tmp_path, procs, clean_env
):
    """RLIMIT_FSIZE (works for root too): the records file hits the limit mid-run."""
    server = fake_server(oracle(world.mapping))
    work = tmp_path / "work"
    run = subprocess.run(world.cli(work, server.base_url, "--concurrency", "4"), capture_output=True, text=True,
                         timeout=60, preexec_fn=_fsize_limit(60_000))  # fmt: skip
    assert run.returncode == 2, run.stderr
    [root] = run_dirs(work)
    [line] = error_lines(run.stderr)
    assert (
        line
        == f"error: cannot write {root}/records/fake-model.jsonl: the file size limit (ulimit -f) was reached"
    )
    assert "Traceback" not in run.stderr
    lines, torn = raw_records(root)
    assert torn <= 1 and 5 < len(lines) < N
    kept = {r["origin_prompt"] for r in lines}
    before = dict(get_stats(server.base_url)["requests"])
    resumed = subprocess.run([PY, "-m", "compasslite.cli", "run", "--resume", str(root), "--no-progress"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    after = get_stats(server.base_url)["requests"]
    assert all(after[p] == before[p] for p in kept)  # what was written is kept and not asked again
    answered_once(root)
    assert outputs(root) == world.reference


def test_failed_writes_never_damage_an_existing_run_directory(world, fake_server, tmp_path, clean_env):
    server = fake_server(oracle(world.mapping))
    root = execute(world.cfg(tmp_path / "work", server.base_url)).run_dir.root
    before = snapshot(root)
    for args in (["rescore", str(root)], ["run", "--resume", str(root), "--no-progress"]):
        r = subprocess.run([PY, "-m", "compasslite.cli", *args], capture_output=True, text=True, timeout=60,
                           preexec_fn=_fsize_limit(3000))  # fmt: skip
        assert r.returncode == 2, r.stderr
        [line] = error_lines(r.stderr)
        assert "the file size limit (ulimit -f) was reached" in line and "Traceback" not in r.stderr
        after = snapshot(root)
        assert sorted(after) == sorted(before), "no stray temp files"
        for rel, data in before.items():
            if rel in ("manifest.json", ".lock") or rel.startswith("logs/"):
                continue  # a resume updates these: still whole
            assert after[rel] == data, f"{rel} changed"
        manifest(root)  # still valid JSON
    assert outputs(root) == world.reference


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_mid_run_is_a_clear_error_and_resume_completes(world, fake_server, tiny_tmpfs, clean_env):
    server = fake_server(oracle(world.mapping))
    work = tiny_tmpfs / "work"
    run = subprocess.run(world.cli(work, server.base_url, "--concurrency", "4"), capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert run.returncode == 2, run.stderr
    [line] = error_lines(run.stderr)
    assert re.fullmatch(rf"error: cannot write {work}/\S+: the disk is full", line), line
    [root] = run_dirs(work)
    lines, torn = raw_records(root)
    assert torn <= 1 and len(lines) > 5
    kept = {r["origin_prompt"] for r in lines}
    before = dict(get_stats(server.base_url)["requests"])
    subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_tmpfs)], check=True)
    resumed = subprocess.run([PY, "-m", "compasslite.cli", "run", "--resume", str(root), "--no-progress"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    after = get_stats(server.base_url)["requests"]
    assert all(after[p] == before[p] for p in kept)
    answered_once(root)
    assert outputs(root) == world.reference


# ============================================================== bad input


@dataclass
class BadInput:
    argv: list[str]  # after `run`
    task: dict[str, Any] | str  # for run_task
    message: str  # regex the one error line must match


def _bad_inputs(tmp: Path, data: Path, base: str) -> dict[str, BadInput]:
    common = ["--model", "fake-model", "--api-base", base, "--data-dir", str(data), "--work-dir",
              str(tmp / "work"), "--no-progress"]  # fmt: skip

    def task(**kw: Any) -> dict[str, Any]:
        model = {"path": "fake-model", "openai_api_base": base, **kw.pop("model", {})}
        return {"datasets": ["gsm8k"], "models": [model], "data_dir": str(data), "work_dir": str(tmp / "work"),
                "progress": False, **kw}  # fmt: skip

    def yaml_file(name: str, text: str | bytes) -> str:
        path = tmp / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return str(path)

    def data_with(name: str, content: str) -> Path:
        d = tmp / name
        (d / "gsm8k").mkdir(parents=True)
        (d / "gsm8k" / "test.jsonl").write_text(content, encoding="utf-8")
        return d

    good = json.dumps({"question": "q", "answer": "a\n#### 1"})
    malformed = data_with("malformed", f"{good}\n{good}\n{{not json\n")
    missing = data_with("missing", f'{good}\n{{"question": "q"}}\n')
    empty = data_with("empty", "")
    cases = {
        "unknown dataset": BadInput(["--datasets", "gsm8k", "gsm9k", *common],
                                    {**task(), "datasets": ["gsm8k", "gsm9k"]},
                                    r"unknown dataset 'gsm9k'; did you mean gsm8k\?"),
        "dataset name with rich markup": BadInput(["--datasets", "[/x]", *common], {**task(), "datasets": ["[/x]"]},
                                                 r"unknown dataset '\[/x\]'"),
        "mistyped model key": BadInput(
            [yaml_file("typo.yaml", f"datasets: [gsm8k]\nmodels:\n  - path: fake-model\n    openai_api_base: {base}\n"
                                    "    bach_size: 4\n"), *common[6:]],
            task(model={"bach_size": 4}), r"unknown key 'models\.0\.bach_size'"),
        "unknown top-level key": BadInput(
            [yaml_file("top.yaml", "eval_backend: OpenCompass\neval_config:\n  datasets: [gsm8k]\n  lmit: 3\n"
                                   "  models: [{path: fake-model}]\n"), *common],
            {"eval_backend": "OpenCompass", "eval_config": {**task(), "lmit": 3}}, r"unknown key 'lmit'"),
        "wrong type (batch_size)": BadInput(
            [yaml_file("type.yaml", "datasets: [gsm8k]\nmodels: [{path: fake-model, batch_size: many}]\n"), *common],
            task(model={"batch_size": "many"}), r"models\.0\.batch_size: Input should be a valid integer"),
        "wrong type (datasets)": BadInput(
            [yaml_file("type2.yaml", "datasets: 5\nmodels: [{path: fake-model}]\n"), *common],
            {**task(), "datasets": 5}, r"datasets: Input should be a valid list"),
        "wrong type (limit)": BadInput(["--datasets", "gsm8k", "--limit", "ten", *common], {**task(), "limit": [1, 2]},
                                       r"limit"),
        "YAML that does not parse": BadInput(
            [yaml_file("bad.yaml", "datasets: [gsm8k\nmodels: x\n"), *common],
            str(tmp / "bad.yaml"), r"bad\.yaml:\d+: config is not valid YAML"),
        "config file not UTF-8": BadInput(
            [yaml_file("latin1.yaml", b"datasets: [gsm8k]\nmodels: [{path: \xe9t\xe9}]\n"), *common],
            str(tmp / "latin1.yaml"), r"latin1\.yaml: config is not valid UTF-8"),
        "config file missing": BadInput([str(tmp / "nope.yaml"), *common], str(tmp / "nope.yaml"),
                                        r"config file \S*nope\.yaml does not exist"),
        "data file with a malformed line": BadInput(
            ["--datasets", "gsm8k", *common[:4], "--data-dir", str(malformed), *common[6:]],
            task(data_dir=str(malformed)), r"gsm8k/test\.jsonl:3: malformed JSON line"),
        "data file with missing fields": BadInput(
            ["--datasets", "gsm8k", *common[:4], "--data-dir", str(missing), *common[6:]],
            task(data_dir=str(missing)), r"gsm8k/test\.jsonl:2: record lacks field\(s\) answer"),
        "empty data file": BadInput(
            ["--datasets", "gsm8k", *common[:4], "--data-dir", str(empty), *common[6:]],
            task(data_dir=str(empty)), r"gsm8k/test\.jsonl: the file has no records"),
        "API base that is not a URL": BadInput(
            ["--datasets", "gsm8k", *common[:2], "--api-base", "localhost:8000", *common[4:]],
            task(model={"openai_api_base": "localhost:8000"}), r"API base 'localhost:8000' is not an http\(s\) URL"),
        "model the server does not serve": BadInput(
            ["--datasets", "gsm8k", "--model", "qwen", *common[2:]], task(model={"path": "qwen"}),
            r"does not serve model 'qwen'; it serves: fake-model"),
    }  # fmt: skip
    return cases


BAD_INPUT_NAMES = [
    "unknown dataset", "dataset name with rich markup", "mistyped model key", "unknown top-level key",
    "wrong type (batch_size)", "wrong type (datasets)", "wrong type (limit)", "YAML that does not parse",
    "config file not UTF-8", "config file missing", "data file with a malformed line",
    "data file with missing fields", "empty data file", "API base that is not a URL",
    "model the server does not serve",
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_INPUT_NAMES)
def test_bad_input_is_one_clear_error_and_changes_nothing(
    case, world, fake_server, tmp_path, capsys, clean_env
):
    server = fake_server(oracle(world.mapping))
    bad = _bad_inputs(tmp_path, world.data, server.base_url)[case]
    before = snapshot(tmp_path)
    assert cli_main(["run", *bad.argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = error_lines(err)
    assert line.startswith("error: ") and re.search(bad.message, line), line
    with pytest.raises(CompassliteError, match=bad.message):
        run_task(bad.task)
    assert snapshot(tmp_path) == before, "nothing may be written"
    assert not (tmp_path / "work").exists()
    assert sum(server.requests.values()) == 0


def test_bad_flag_values_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["run", "--datasets", "gsm8k", "--concurrency", "many"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and "invalid int value: 'many'" in err and "Traceback" not in err


# ============================================================== the API key stays secret

KEY = "sk-live-Ab3dEf6hIj9kLmN0pQrStUvWxYz"


class EchoingServer(FakeServer):
    """Requires the key and, like some proxies, echoes the Authorization header back in its
    error messages: on /v1/models (when asked to), on random transient 503s, and on permanent
    400s for one prompt in five (always the same ones)."""

    def __init__(self, *args: Any, echo_on_models: bool = False, **kw: Any):
        super().__init__(*args, **kw)
        self.echo_on_models = echo_on_models
        self.rng = random.Random(5)

    async def _models(self, request: web.Request) -> web.Response:
        if self.echo_on_models:
            auth = request.headers.get("Authorization", "")
            return web.json_response({"error": {"message": f"bad credentials: {auth}"}}, status=401)
        return await super()._models(request)

    async def _generate(self, request: web.Request, chat: bool) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        body = await request.json()
        if zlib.crc32(prompt_key(body).encode()) % 5 == 0:
            return web.json_response({"error": {"message": f"rejected request with header {auth!r}"}},
                                     status=400)  # fmt: skip
        if self.rng.random() < 0.2:
            return web.json_response({"error": {"message": f"overloaded; you sent {auth}"}}, status=503)
        return await super()._generate(request, chat)


def _all_text_under(root: Path) -> Iterator[tuple[Path, bytes]]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path, path.read_bytes()


@pytest.mark.parametrize("how", ["--api-key", "OPENAI_API_KEY", "config file"])
def test_the_api_key_is_never_written_printed_or_logged(how, world, tmp_path, clean_env):
    work = tmp_path / "work"
    env = dict(clean_env)
    with EchoingServer(
        oracle(world.mapping), api_key=KEY, faults=Faults(rates={"error_503": 0.1}, seed=2)
    ) as server:
        args = world.cli(work, server.base_url, "--concurrency", "4", "--retries", "3", "--limit", "12")
        if how == "--api-key":
            args += ["--api-key", KEY]
        elif how == "OPENAI_API_KEY":
            env["OPENAI_API_KEY"] = KEY
        else:
            cfg_file = tmp_path / "task.yaml"
            cfg_file.write_text(
                f"datasets: [gsm8k, ARC_c]\nmodels:\n  - path: fake-model\n    api_key: {KEY}\n"
            )
            args = [*args[:4], str(cfg_file), *args[4:]]
        run = subprocess.run(args, capture_output=True, text=True, timeout=90, env=env)
        # One prompt in five always gets a 400: those samples stay unscored, exit code 3.
        assert run.returncode == 3 and "sample(s) not scored" in run.stderr, run.stderr
        # A resume with the key again, and a probe that echoes the header in a 401.
        [root] = run_dirs(work)
        resume_args = [PY, "-m", "compasslite.cli", "run", "--resume", str(root), "--no-progress"]
        if how != "OPENAI_API_KEY":  # the key is stored nowhere: a resume is given it again
            resume_args += ["--api-key", KEY]
        resumed = subprocess.run(resume_args, capture_output=True, text=True, timeout=90, env=env)
        assert resumed.returncode == 3, resumed.stderr
        server.echo_on_models = True
        refused = subprocess.run(args, capture_output=True, text=True, timeout=90, env=env)
        assert refused.returncode == 2
        assert "refused the API key (HTTP 401: bad credentials: Bearer ***)" in refused.stderr
    lines, _ = raw_records(root)
    echoed = [r["error"] for r in lines if r["error"]]
    assert echoed and all("Bearer ***" in e for e in echoed)  # the echoes were there, redacted
    assert "Bearer ***" in summary_text(root)
    for proc in (run, resumed, refused):
        assert KEY not in proc.stdout and KEY not in proc.stderr
    assert "Bearer ***" in run.stdout  # the summary footer quotes a (redacted) echo
    for path, data in _all_text_under(tmp_path):
        if path == tmp_path / "task.yaml":
            continue
        assert KEY.encode() not in data, path
    # The key is also never in what execute() raises or logs in-process.
    with EchoingServer(oracle(world.mapping), api_key=KEY, echo_on_models=True) as server:
        cfg = world.cfg(tmp_path / "work2", server.base_url, model={"key": KEY})
        with pytest.raises(CompassliteError) as exc:
            execute(cfg)
        assert KEY not in str(exc.value) and "Bearer ***" in str(exc.value)
