"""Scale figures, side by side (issue 14): replicas, our CPU per request, memory, two models.

* Throughput with 1, 2, 4, 8 and 16 replicas, each a `compasslite serve-fake` process of fixed
  capacity and latency (target: at least 0.9 x linear in the number of replicas).
* Our CPU per request at zero latency (target: under 0.5 ms), the requests per second one
  process drives, and the requests in flight it keeps against a slow server.
* Peak RSS of a whole run (its own process, measured with os.wait4) for 10k, 100k and 1M
  samples at zero latency (target: flat, under 500 MB at 1M). The samples are a synthetic
  custom dataset of 10k rows asked 1, 10 and 100 times (--repeats): every sample is one
  request and one record, the dataset itself stays the same size.
* Two models on two servers in one run, against the slower one alone (target: about 1.0).

    python bench/scale.py                       # everything (the 1M run takes several minutes)
    python bench/scale.py --sizes 10000 100000  # a shorter memory series
    python bench/scale.py --only replicas       # one part: replicas, cpu, memory, models
    python bench/scale.py --baseline-src DIR    # also measure memory with another checkout's src/
    python bench/scale.py --only suite          # all datasets, every row of --data-dir, zero latency
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fake_servers import fake_servers  # noqa: E402  (bench/ is on sys.path)

ROWS = 10_000  # rows of the synthetic dataset of the memory runs


@contextmanager
def servers(n: int, latency: float = 0.0, capacity: int | None = None, model: str = "fake-model") -> Any:
    """n `compasslite serve-fake` processes (each its own CPU), yielding their base URLs."""
    args = ["--latency", str(latency), "--model", model, "--reply", "42"]
    with fake_servers(n, *args, *(["--capacity", str(capacity)] if capacity else [])) as urls:
        yield urls


def dataset(folder: Path, rows: int) -> Path:
    path = folder / f"plus{rows}.jsonl"
    if not path.exists():
        with open(path, "w") as f:
            for i in range(rows):
                f.write(json.dumps({"question": f"What is {i} plus one?", "answer": str(i + 1)}) + "\n")
    return path


def run(data: Path, work: Path, bases: str | list[str], concurrency: int, repeats: int = 1,
        models: list[dict[str, Any]] | None = None) -> Any:  # fmt: skip
    from compasslite.config import from_task_config
    from compasslite.runner import execute

    cfg = from_task_config({
        "datasets": [str(data)],
        "models": models or [{"path": "fake-model", "openai_api_base": bases}],
        "work_dir": str(work), "progress": False, "concurrency": concurrency, "repeats": repeats,
    })  # fmt: skip
    return execute(cfg)


# ---------------------------------------------------------------------------- parts
def bench_replicas(tmp: Path, latency: float, capacity: int, seconds: float) -> list[dict[str, Any]]:
    per_replica = capacity / latency  # requests per second one replica can serve
    rows = []
    for n in (1, 2, 4, 8, 16):
        samples = int(per_replica * n * seconds)
        data = dataset(tmp, samples)
        with servers(n, latency, capacity) as urls:
            out = run(data, tmp / f"rep{n}", urls if n > 1 else urls[0], concurrency=capacity)
        wall = out.timings["inference"]
        res = out.results["fake-model"][data.stem]
        assert res.answered == samples, f"{n} replicas: {res.answered} of {samples} answered"
        rows.append({"replicas": n, "samples": samples, "wall_s": wall, "rps": samples / wall,
                     "ideal_rps": per_replica * n, "cpu_ms": 1000 * out.timings["inference_cpu"] / samples})  # fmt: skip
        print(f"  {n:>2} replica(s): {samples} requests in {wall:.2f} s = {samples / wall:.1f} req/s "
              f"(ideal {per_replica * n:.0f})", flush=True)  # fmt: skip
    base = rows[0]["rps"]
    for r in rows:
        r["vs_linear"] = r["rps"] / (base * r["replicas"])
    return rows


def bench_cpu(tmp: Path, samples: int, in_flight: int) -> dict[str, Any]:
    data = dataset(tmp, samples)
    with servers(1) as urls:
        out = run(data, tmp / "cpu", urls[0], concurrency=64)
    cpu = out.timings["inference_cpu"]
    wall = out.timings["inference"]
    figures = {"samples": samples, "cpu_ms": 1000 * cpu / samples, "rps_zero_latency": samples / wall}
    print(f"  zero latency: {samples} requests, {figures['rps_zero_latency']:.0f} req/s, "
          f"our CPU {figures['cpu_ms']:.3f} ms per request", flush=True)  # fmt: skip
    # In flight: a server that takes 2 s per request and has no capacity limit.
    latency = 2.0
    many = in_flight * 8
    data = dataset(tmp, many)
    with servers(1, latency) as urls:
        out = run(data, tmp / "flight", urls[0], concurrency=in_flight)
    wall = out.timings["inference"]
    figures.update(in_flight_asked=in_flight, in_flight_rps=many / wall, in_flight_kept=many / wall * latency,
                   in_flight_cpu_ms=1000 * out.timings["inference_cpu"] / many)  # fmt: skip
    print(f"  {in_flight} in flight at 2 s per request: {many / wall:.0f} req/s, "
          f"{figures['in_flight_kept']:.0f} in flight on average", flush=True)  # fmt: skip
    return figures


CHILD = """
import json, resource, sys, time
sys.path[:0] = {src}
from compasslite.config import from_task_config
from compasslite.runner import execute
cfg = from_task_config({{"datasets": [{data!r}], "models": [{{"path": "fake-model", "openai_api_base": {url!r}}}],
    "work_dir": {work!r}, "progress": False, "concurrency": 128, "repeats": {repeats}}})
t = time.perf_counter(); c = time.process_time()
out = execute(cfg)
res = out.results["fake-model"]
print(json.dumps({{"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "timings": out.timings,
    "answered": sum(r.answered for r in res.values())}}))
"""


def measure_child(code: str) -> tuple[dict[str, Any], float]:
    """Run `code` in a fresh interpreter; its printed JSON and its own peak RSS in MB."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"measured run failed (exit {proc.returncode})")
    return json.loads(output.decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024  # Linux: kB


SUITE_CHILD = """
import json, sys, time
sys.path[:0] = {src}
from compasslite import benchmark
from compasslite.config import from_task_config
from compasslite.runner import execute
from pathlib import Path
data = Path({data_dir!r})
# The datasets with data in the folder (a dataset some of whose files are absent runs without them).
names = sorted(n for n, b in benchmark.available().items()
               if any((data / s.files[0]).is_file() for s in b.subsets if s.files))
cfg = from_task_config({{"datasets": names, "models": [{{"path": "fake-model", "openai_api_base": {url!r}}}],
    "data_dir": {data_dir!r}, "work_dir": {work!r}, "progress": False, "concurrency": 128, "download": False}})
t = time.perf_counter(); c = time.process_time()
out = execute(cfg)
res = [r for per in out.results.values() for r in per.values()]
print(json.dumps({{"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "timings": out.timings,
    "datasets": len(names), "samples": sum(r.total for r in res), "answered": sum(r.answered for r in res)}}))
"""


def bench_suite(tmp: Path, data_dir: str, baseline_src: str | None) -> list[dict[str, Any]]:
    """Every implemented dataset, every row, at zero latency: wall, CPU and peak memory."""
    rows = []
    with servers(1) as urls:
        for label, src in [("this tree", [])] + ([("baseline", [baseline_src])] if baseline_src else []):
            work = tmp / f"suite{label[0]}"
            out, rss = measure_child(SUITE_CHILD.format(src=src, url=urls[0], work=str(work), data_dir=data_dir))
            n = out["samples"]
            t = out["timings"]
            rows.append({"code": label, "datasets": out["datasets"], "samples": n, "wall_s": out["wall_s"],
                         "inference_s": t["inference"], "score_s": t["score_and_write"], "peak_rss_mb": rss,
                         "cpu_ms": 1000 * t["inference_cpu"] / n})  # fmt: skip
            print(f"  suite ({label}): {out['datasets']} datasets, {n} samples, wall {out['wall_s']:.0f} s "
                  f"(inference {t['inference']:.0f} s, scoring {t['score_and_write']:.0f} s), "
                  f"inference CPU {rows[-1]['cpu_ms']:.3f} ms per request, peak RSS {rss:.0f} MB", flush=True)  # fmt: skip
            subprocess.run(["rm", "-rf", str(work)], check=False)
    return rows


def bench_memory(tmp: Path, sizes: list[int], baseline_src: str | None) -> list[dict[str, Any]]:
    data = dataset(tmp, ROWS)
    rows = []
    with servers(1) as urls:
        for size in sizes:
            repeats = max(1, size // ROWS)
            variants = [("this tree", [])] + ([("baseline", [baseline_src])] if baseline_src else [])
            for label, src in variants:
                if label == "baseline" and size > 100_000:
                    continue  # the baseline holds everything: its trend shows by 100k
                work = tmp / f"mem{size}{label[0]}"
                code = CHILD.format(src=src, data=str(data), url=urls[0], work=str(work), repeats=repeats)
                out, rss = measure_child(code)
                assert out["answered"] == ROWS * repeats, out
                n = ROWS * repeats
                rows.append({"samples": n, "code": label, "peak_rss_mb": rss, "wall_s": out["wall_s"],
                             "cpu_ms": 1000 * out["timings"]["inference_cpu"] / n,
                             "score_s": out["timings"]["score_and_write"]})  # fmt: skip
                print(f"  {n:>9} samples ({label}): peak RSS {rss:.0f} MB, wall {out['wall_s']:.0f} s, "
                      f"inference CPU {rows[-1]['cpu_ms']:.3f} ms per request", flush=True)  # fmt: skip
                subprocess.run(["rm", "-rf", str(work)], check=False)  # records of 1M samples: ~300 MB
    return rows


def bench_models(tmp: Path, samples: int) -> dict[str, Any]:
    data = dataset(tmp, samples)
    with servers(1, 0.1, 8) as fast, servers(1, 0.2, 8) as slow:
        alone = run(data, tmp / "slow-alone", slow[0], concurrency=8).timings["inference"]
        models = [{"path": "fake-model", "abbr": "fast", "openai_api_base": fast[0]},
                  {"path": "fake-model", "abbr": "slow", "openai_api_base": slow[0]}]  # fmt: skip
        out = run(data, tmp / "both", "", concurrency=8, models=models)
    both = out.timings["inference"]
    assert all(out.results[m][data.stem].answered == samples for m in ("fast", "slow"))
    print(f"  slower model alone {alone:.2f} s, both models in one run {both:.2f} s", flush=True)
    return {"samples": samples, "slow_alone_s": alone, "both_s": both, "ratio": both / alone}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["replicas", "cpu", "memory", "models", "suite"], action="append",
                        help="run only these parts (repeatable); `suite` (the whole suite, every row) only when named")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
                        help="OpenCompass-layout data for --only suite (default ../shared/data)")
    parser.add_argument("--latency", type=float, default=0.25, help="replica latency, seconds (default 0.25)")
    parser.add_argument("--capacity", type=int, default=4, help="replica capacity (default 4)")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each replica run (default 6)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--baseline-src", help="another checkout's src/ to compare memory with")
    parser.add_argument("--in-flight", type=int, default=1024, help="requests in flight to try (default 1024)")
    args = parser.parse_args()
    parts = args.only or ["replicas", "cpu", "memory", "models"]

    from compasslite import benchmark

    benchmark.available()  # import every benchmark module up front: a one-time start-up cost
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="compasslite-scale-") as work:
        tmp = Path(work)
        if "replicas" in parts:
            print(f"replicas (capacity {args.capacity}, latency {args.latency} s each):", flush=True)
            report["replicas"] = bench_replicas(tmp, args.latency, args.capacity, args.seconds)
        if "cpu" in parts:
            print("our CPU per request:", flush=True)
            report["cpu"] = bench_cpu(tmp, 20_000, args.in_flight)
        if "memory" in parts:
            print("peak memory of a run (zero latency):", flush=True)
            report["memory"] = bench_memory(tmp, args.sizes, args.baseline_src)
        if "models" in parts:
            print("two models on two servers, one run:", flush=True)
            report["models"] = bench_models(tmp, 200)
        if "suite" in parts:
            print(f"the whole suite at zero latency ({args.data_dir}):", flush=True)
            report["suite"] = bench_suite(tmp, args.data_dir, args.baseline_src)

    print("\n=== compasslite scale ===")
    if "replicas" in report:
        print(f"{'replicas':>8} {'req/s':>8} {'ideal':>8} {'x linear':>9} {'CPU ms/req':>11}   target >= 0.90 x linear")
        for r in report["replicas"]:
            print(f"{r['replicas']:>8} {r['rps']:>8.1f} {r['ideal_rps']:>8.0f} {r['vs_linear']:>9.2f} {r['cpu_ms']:>11.3f}")
    if "cpu" in report:
        c = report["cpu"]
        print(f"our CPU per request at zero latency: {c['cpu_ms']:.3f} ms (target < 0.5); "
              f"{c['rps_zero_latency']:.0f} req/s against one zero-latency server process")  # fmt: skip
        print(f"in flight: {c['in_flight_asked']} asked, {c['in_flight_kept']:.0f} kept on average at 2 s per request "
              f"= {c['in_flight_rps']:.0f} req/s ({c['in_flight_cpu_ms']:.3f} ms CPU per request)")  # fmt: skip
    if "memory" in report:
        print(f"{'samples':>9} {'code':>10} {'peak RSS MB':>12} {'wall s':>8} {'CPU ms/req':>11}   target flat, < 500 MB at 1M")
        for r in report["memory"]:
            print(f"{r['samples']:>9} {r['code']:>10} {r['peak_rss_mb']:>12.0f} {r['wall_s']:>8.0f} {r['cpu_ms']:>11.3f}")
    if "models" in report:
        m = report["models"]
        print(f"two models at once: {m['both_s']:.2f} s; the slower alone: {m['slow_alone_s']:.2f} s; "
              f"ratio {m['ratio']:.2f} (target about 1.0)")  # fmt: skip
    if "suite" in report:
        print(f"{'suite':>10} {'samples':>8} {'wall s':>7} {'infer s':>8} {'score s':>8} {'CPU ms/req':>11} {'peak RSS MB':>12}")
        for r in report["suite"]:
            print(f"{r['code']:>10} {r['samples']:>8} {r['wall_s']:>7.0f} {r['inference_s']:>8.0f} {r['score_s']:>8.0f} "
                  f"{r['cpu_ms']:>11.3f} {r['peak_rss_mb']:>12.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
