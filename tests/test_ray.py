"""`compasslite run --ray`: a real local Ray cluster (a head and a second worker node, on
loopback), the built-in server, and one worker node killed in the middle of the run.

The results must equal a local run's byte for byte. Skipped when Ray is not installed
(`pip install 'compasslite[ray]'`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'compasslite[ray]'")

from compasslite.runner import execute  # noqa: E402
from compasslite.testing import FakeServer  # noqa: E402
from compasslite.testing.server import oracle  # noqa: E402
from helpers import config, oracle_mapping, plans_for  # noqa: E402

PY = sys.executable
DATASETS = ["gsm8k", "mmlu", "humaneval"]
RAY_BIN = str(Path(PY).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def descendants(pid: int) -> list[int]:
    """pid and every process below it, from /proc (parent pids)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a `ray start --block` process and everything it started (raylet, workers)."""
    for pid in descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    proc.wait(timeout=30)


class Cluster:
    def __init__(self, address: str, worker: subprocess.Popen):
        self.address = address
        self.worker = worker


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    env = ray_env()
    port = free_port()
    subprocess.run([RAY_BIN, "stop", "--force"], env=env, capture_output=True, timeout=120)
    head = subprocess.run(
        [RAY_BIN, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
         "--include-dashboard=false", "--disable-usage-stats"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    if head.returncode != 0:
        pytest.fail(f"ray start --head failed: {head.stderr[-2000:]}")
    address = f"127.0.0.1:{port}"
    worker = subprocess.Popen(
        [RAY_BIN, "start", f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--block"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        probe = (
            "import ray, time\n"
            f"ray.init(address={address!r}, logging_level='ERROR')\n"
            "t = time.time()\n"
            "while len([n for n in ray.nodes() if n['Alive']]) < 2 and time.time() - t < 120: time.sleep(0.5)\n"
            "print(len([n for n in ray.nodes() if n['Alive']]))\n"
        )
        out = subprocess.run([PY, "-c", probe], env=env, capture_output=True, text=True, timeout=180)
        assert out.stdout.strip().endswith("2"), f"the second node did not join: {out.stdout} {out.stderr[-1000:]}"
        yield Cluster(address, worker)
    finally:
        if worker.poll() is None:
            kill_tree(worker)
        subprocess.run([RAY_BIN, "stop", "--force"], env=env, capture_output=True, timeout=120)


def outputs(run_dir: Path) -> dict[str, bytes]:
    """What a run reports: predictions, results and summary (not records, whose latencies differ)."""
    out = {}
    for sub in ("predictions", "results"):
        for path in sorted((run_dir / sub).rglob("*.json")):
            out[str(path.relative_to(run_dir))] = path.read_bytes()
    out["summary.csv"] = next((run_dir / "summary").glob("summary_*.csv")).read_bytes()
    return out


def records_written(work: Path) -> int:
    return sum(
        sum(1 for _ in p.open(encoding="utf-8")) for p in work.glob("*/records/*.jsonl")
    )


def test_ray_run_with_a_worker_killed_midway_equals_a_local_run(cluster, merged_data, tmp_path):
    local_cfg = config(DATASETS, merged_data, tmp_path / "local", limit=6)
    mapping, _ = oracle_mapping(local_cfg, plans_for(local_cfg), "mixed")
    total = sum(len(p.indices) for p in plans_for(local_cfg))
    # Slow enough that the run is still going when the worker node dies.
    with FakeServer(oracle(mapping, "no idea"), latency_s=0.05) as server:
        base = f"http://127.0.0.1:{server.port}/v1"
        local = execute(config(DATASETS, merged_data, tmp_path / "local", api_base=base, limit=6))

        work = tmp_path / "ray"
        proc = subprocess.Popen(
            [PY, "-m", "compasslite.cli", "run", "--ray", cluster.address, "--api-base", base,
             "--model", "fake-model", "--datasets", *DATASETS, "--limit", "6", "--concurrency", "4",
             "--data-dir", str(merged_data), "--work-dir", str(work), "--no-progress"],
            env=ray_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 240
        while records_written(work) < total // 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        at_kill = records_written(work)
        kill_tree(cluster.worker)
        out, err = proc.communicate(timeout=600)

    assert proc.returncode == 0, err[-3000:]
    assert 0 < at_kill < total, f"the worker was killed at {at_kill} of {total} records: not mid-run"
    run_dir = next(work.iterdir())
    assert outputs(run_dir) == outputs(local.run_dir.root)
    manifest = (run_dir / "manifest.json").read_text()
    assert '"type": "ray"' in manifest


def test_ray_without_a_cluster_is_one_clear_line(tmp_path, merged_data):
    port = free_port()  # nothing listens there
    proc = subprocess.run(
        [PY, "-m", "compasslite.cli", "run", "--ray", f"127.0.0.1:{port}", "--api-base", "http://127.0.0.1:9/v1",
         "--model", "m", "--datasets", "gsm8k", "--limit", "2", "--data-dir", str(merged_data),
         "--work-dir", str(tmp_path), "--no-progress"],
        env=ray_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "--ray" in proc.stderr and "ray start --head" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_interrupting_a_ray_run_keeps_finished_shards(cluster, merged_data, tmp_path):
    """SIGINT while shards are in flight: finished shards are on disk, the resume completes."""
    cfg = config(["gsm8k"], merged_data, tmp_path / "x", limit=40)
    with FakeServer(oracle({}, "The answer is 3"), latency_s=0.2) as server:
        base = f"http://127.0.0.1:{server.port}/v1"
        work = tmp_path / "ray"
        args = [PY, "-m", "compasslite.cli", "run", "--ray", cluster.address, "--api-base", base, "--model",
                "fake-model", "--datasets", "gsm8k", "--limit", "40", "--concurrency", "2",
                "--data-dir", str(merged_data), "--work-dir", str(work), "--no-progress"]  # fmt: skip
        proc = subprocess.Popen(
            args, env=ray_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        deadline = time.monotonic() + 240
        while records_written(work) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 130, err[-2000:]
        run_dir = next(work.iterdir())
        assert "--resume" in err
        resumed = subprocess.run(
            [PY, "-m", "compasslite.cli", "run", "--resume", str(run_dir), "--no-progress"],
            env=ray_env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert len(plans_for(cfg)[0].indices) == 40
    results = (run_dir / "results" / "fake-model" / "gsm8k.json").read_text()
    assert '"scored": 40' in results
