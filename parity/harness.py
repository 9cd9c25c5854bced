"""The differential harness: compasslite against EvalScope's OpenCompass backend.

Both sides read the same data and talk to the built-in server, each through its own server
instance running the same reply policy (parity/policies.py). The reference runs in its own
venv (parity/setup_ref.sh), one process per dataset, with `debug` (in-process tasks).

    python parity/harness.py infer  --job head          # reference prompt pass (policy natural)
    python parity/harness.py rescore --job head         # reference eval passes, other policies
    python parity/harness.py ours   --job head          # compasslite, every policy
    python parity/harness.py compare --job head         # the table; parity/out/<job>/table.json
    python parity/harness.py golden --job head          # tests/golden/<job>.json.gz

Jobs: `head` (first 100 rows of every sub-dataset but the six below) and `full` (every row of
gsm8k, ARC_c, ARC_e, mmlu, ceval, humaneval). `--datasets` narrows a job.

The prompt pass is needed once: for the other policies the reference's predictions are
rewritten with the policy's reply to each recorded prompt and OpenCompass rescores them
(`mode: eval`), exactly as it scores its own inference output.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import policies  # noqa: E402

from compasslite import benchmark  # noqa: E402
from compasslite.config import from_task_config  # noqa: E402
from compasslite.runner import Plan, execute, load_plans  # noqa: E402
from compasslite.testing.server import FakeServer  # noqa: E402

MODEL = "fake-model"
FULL = ("gsm8k", "ARC_c", "ARC_e", "mmlu", "ceval", "humaneval")
# EvalScope lists these but ms-opencompass 0.1.6 fails to load them (see README).
REF_BROKEN = ("AX_b", "RTE", "AX_g")
NO_DATA = ("ReCoRD", "Xsum", "hellaswag", "triviaqa")
JOBS = {
    "head": ("[0:100]", tuple(n for n in benchmark.SUITE if n not in FULL)),
    "full": (None, FULL),
}


def out_dir() -> Path:
    return Path(os.environ.get("PARITY_OUT", HERE / "out"))


def data_dir() -> Path:
    return Path(os.environ.get("COMPASSLITE_REAL_DATA", ROOT.parent / "shared" / "data")).resolve()


def ref_python() -> Path:
    return Path(os.environ.get("PARITY_REF_PYTHON", HERE / "ref-venv" / "bin" / "python"))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def job_datasets(job: str, only: list[str] | None) -> tuple[str | None, list[str]]:
    limit, names = JOBS[job]
    names = [n for n in names if n not in NO_DATA]
    if only:
        unknown = set(only) - set(names)
        if unknown:
            raise SystemExit(f"not in job {job}: {sorted(unknown)}")
        names = [n for n in names if n in only]
    return limit, names


# ------------------------------------------------------------------ gold
def gold_of(name: str, sub: Any, row: dict[str, Any]) -> tuple[str, str]:
    """(gold text, kind) from a raw row, for the gold-carrying policies."""
    if name == "humaneval":
        return row["canonical_solution"].rstrip(), "code"
    if name == "mbpp":
        return row["code"], "code"
    ref = sub.reference_of(row)
    if isinstance(ref, dict):
        ref = ref.get("label", next(iter(ref.values())))
    if isinstance(ref, list):
        ref = next((str(x) for x in ref if str(x)), "")
        if len(ref) > 1 and ref.isascii() and ref.isalpha() and ref.isupper():
            return ref, "multi"
    gold = str(ref)
    if name == "math":
        return gold, "latex"
    if len(gold) == 1 and gold in "ABCDEFG":
        return gold, "letter"
    if gold and len(gold) <= 5 and gold.isascii() and gold.isalpha() and gold.isupper():
        return gold, "multi"
    try:
        float(gold.replace(",", ""))
        return gold, "number"
    except ValueError:
        return gold, "text"


def our_plans(names: list[str], limit: str | None) -> list[Plan]:
    skipped: dict[str, str] = {}
    return load_plans(benchmark.resolve(names), data_dir(), limit, "first", skipped)


def gold_index(names: list[str], limit: str | None) -> dict[str, tuple[str, str]]:
    cfg = from_task_config({"datasets": names, "models": [{"path": MODEL, "openai_api_base": "http://x/v1"}]})
    model = cfg.models[0]
    golds: dict[str, tuple[str, str]] = {}
    for plan in our_plans(names, limit):
        for idx in plan.indices:
            golds.setdefault(plan.prompt(idx, model).text, gold_of(plan.benchmark.name, plan.subset, plan.rows[idx]))
    return golds


def local_replies(job: str) -> dict[str, str]:
    path = out_dir() / job / "local_replies.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def policy_for(name: str, job: str, golds: dict[str, tuple[str, str]]) -> policies.Policy:
    return policies.build(name, golds, local_replies(job) if name == "local" else {})


class RecordingServer(FakeServer):
    """The built-in server, keeping what each prompt was asked with (max_tokens)."""

    def __init__(self, policy: policies.Policy) -> None:
        self.asked: dict[str, list[Any]] = {}
        self._asked_lock = threading.Lock()

        def reply(prompt: str, request: dict[str, Any]) -> str:
            with self._asked_lock:
                self.asked.setdefault(prompt, []).append(request.get("max_tokens"))
            return policy(prompt)

        super().__init__(reply, model=MODEL, context_length=None)


# ------------------------------------------------------------------ reference
# Files OpenCompass's loaders open but never use (spec A.3, "opened but unused"), absent from
# ../shared/data: the reference's data root gets a copy of a sibling in their place.
# A group is replaced whole unless all its files are already our own copies (data and labels
# must pair up).
UNUSED_STANDINS = (
    {"siqa/train.jsonl": "siqa/dev.jsonl", "siqa/train-labels.lst": "siqa/dev-labels.lst"},
    {"piqa/train.jsonl": "piqa/dev.jsonl", "piqa/train-labels.lst": "piqa/dev-labels.lst"},
    {"nq/nq-dev.qa.csv": "nq/nq-test.qa.csv"},
)


def ref_root() -> Path:
    """The reference's COMPASS_DATA_CACHE: `data/` mirrors ../shared/data with symlinks, plus
    stand-ins for the opened-but-unused files it lacks."""
    root = out_dir() / "ref-root"
    data = root / "data"
    if not data.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.check_call(["cp", "-rs", str(data_dir()), str(data)])
    for group in UNUSED_STANDINS:
        if any(not (data / f).exists() or (data / f).is_symlink() for f in group):
            for missing, source in group.items():
                (data / missing).unlink(missing_ok=True)
                shutil.copyfile(data / source, data / missing)
    return root


def skipped_abbrs(name: str) -> list[str]:
    """Sub-datasets whose data file is absent (race-high, openbookqa_fact): the reference,
    which would fail the whole dataset on them, is not asked to run them."""
    skipped: dict[str, str] = {}
    load_plans(benchmark.resolve([name]), data_dir(), "[0:1]", "first", skipped)
    return sorted(skipped)


def ref_run(dataset: str, work: Path, api_base: str, limit: str | None, mode: str, reuse: str | None) -> int:
    root = ref_root()
    cmd = [str(ref_python()), str(HERE / "ref_run.py"), "--api-base", api_base, "--model", MODEL,
           "--work-dir", str(work), "--data-root", str(root), "--datasets", dataset, "--mode", mode]  # fmt: skip
    if limit:
        cmd += ["--limit", limit]
    if reuse:
        cmd += ["--reuse", reuse]
    skip = skipped_abbrs(dataset)
    if skip:
        cmd += ["--skip-abbrs", *skip]
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["HF_DATASETS_OFFLINE"] = "1"
    with open(work / "ref.log", "a") as log:
        return subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def ref_run_dir(work: Path) -> Path | None:
    runs = sorted(p for p in work.iterdir() if p.is_dir()) if work.is_dir() else []
    return runs[-1] if runs else None


def cmd_infer(args: argparse.Namespace) -> None:
    limit, names = job_datasets(args.job, args.datasets)
    names = [n for n in names if n not in REF_BROKEN]
    server = RecordingServer(policies.natural).start()
    base = out_dir() / args.job / "ref" / "natural"

    def one(name: str) -> tuple[str, int, float]:
        work = base / name
        run = ref_run_dir(work)
        if run and (run / "summary").is_dir() and not args.force:
            return name, 0, 0.0
        if work.exists():
            shutil.rmtree(work)
        t0 = time.time()
        rc = ref_run(name, work, server.base_url, limit, "all", None)
        return name, rc, time.time() - t0

    try:
        with cf.ThreadPoolExecutor(args.workers) as pool:
            for name, rc, secs in pool.map(one, names):
                print(f"{name:12} rc={rc} {secs:7.1f}s", flush=True)
    finally:
        server.stop()
    asked_path = out_dir() / args.job / "ref" / "asked_natural.json"
    old = json.loads(asked_path.read_text()) if asked_path.is_file() else {}
    old.update(server.asked)
    asked_path.write_text(json.dumps(old, ensure_ascii=False))


def _prompt_text(origin: Any) -> str:
    if isinstance(origin, str):
        return origin
    return "\n".join(str(m.get("prompt") or "") for m in origin)


def cmd_rescore(args: argparse.Namespace) -> None:
    limit, names = job_datasets(args.job, args.datasets)
    names = [n for n in names if n not in REF_BROKEN]
    golds = gold_index(names, limit)
    for pol in args.policies:
        if pol == "natural":
            continue
        policy = policy_for(pol, args.job, golds)

        def one(name: str, policy: policies.Policy = policy, pol: str = pol) -> tuple[str, int, float]:
            src = ref_run_dir(out_dir() / args.job / "ref" / "natural" / name)
            if src is None or not (src / "predictions").is_dir():
                return name, -1, 0.0
            work = out_dir() / args.job / "ref" / pol / name
            dst = work / src.name
            if (dst / "summary").is_dir() and not args.force:
                return name, 0, 0.0
            if work.exists():
                shutil.rmtree(work)
            shutil.copytree(src / "predictions", dst / "predictions")
            for path in (dst / "predictions").rglob("*.json"):
                preds = json.loads(path.read_text())
                for entry in preds.values():
                    entry["prediction"] = policy(_prompt_text(entry["origin_prompt"])).strip()
                path.write_text(json.dumps(preds, ensure_ascii=False, indent=4))
            t0 = time.time()
            rc = ref_run(name, work, "http://127.0.0.1:9/v1", limit, "eval", src.name)
            return name, rc, time.time() - t0

        with cf.ThreadPoolExecutor(args.workers) as pool:
            for name, rc, secs in pool.map(one, names):
                print(f"{pol:12} {name:12} rc={rc} {secs:7.1f}s", flush=True)


# ------------------------------------------------------------------ ours
def cmd_ours(args: argparse.Namespace) -> None:
    limit, names = job_datasets(args.job, args.datasets)
    golds = gold_index(names, limit)
    for pol in args.policies:
        server = RecordingServer(policy_for(pol, args.job, golds)).start()
        work = out_dir() / args.job / "ours" / pol
        if work.exists():
            shutil.rmtree(work)
        try:
            cfg = from_task_config(
                {
                    "datasets": names,
                    "models": [{"path": MODEL, "openai_api_base": server.base_url}],
                    "data_dir": str(data_dir()),
                    "work_dir": str(work),
                    "limit": limit,
                    "progress": False,
                    "concurrency": 32,
                    "think": "keep",  # OpenCompass-exact: the whole reply is scored
                }
            )
            t0 = time.time()
            execute(cfg)
            print(f"ours {pol:12} {time.time() - t0:6.1f}s", flush=True)
        finally:
            server.stop()
        (work / "asked.json").write_text(json.dumps(server.asked, ensure_ascii=False))


def harvest_local(job: str) -> dict[str, str]:
    """Merge every answered record of the job's local-model runs into local_replies.json."""
    replies = local_replies(job)
    for path in (out_dir() / job / "local-run").glob("*/records/*.jsonl"):
        for raw in path.read_text().splitlines():
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a line cut off by a kill
            if rec.get("prediction") is not None and not rec.get("error"):
                replies[_prompt_text(rec["origin_prompt"])] = rec["prediction"]
    (out_dir() / job / "local_replies.json").write_text(json.dumps(replies, ensure_ascii=False))
    return replies


def cmd_record_local(args: argparse.Namespace) -> None:
    """Record the embedded local model's reply to each of our prompts (first --rows rows of
    every sub-dataset). Interrupted recordings are kept: every answered record counts."""
    limit, names = job_datasets(args.job, args.datasets)
    known = harvest_local(args.job)
    model = from_task_config({"datasets": names, "models": [{"path": MODEL, "openai_api_base": "http://x/v1"}]}).models[0]
    uncovered = {
        plan.benchmark.name
        for plan in our_plans(names, f"[0:{args.rows}]")
        if not all(plan.prompt(i, model).text in known for i in plan.indices)
    }
    names = [n for n in names if n in uncovered]
    if not names:
        print(f"{len(known)} local replies known; nothing left to record")
        return
    cfg = from_task_config(
        {
            "datasets": names,
            "models": [{"path": "local"}],
            "data_dir": str(data_dir()),
            "work_dir": str(out_dir() / args.job / "local-run"),
            "limit": f"[0:{args.rows}]",
            "progress": False,
        }
    )
    print(f"{len(known)} local replies known; recording the first {args.rows} rows", flush=True)
    try:
        execute(cfg)
    finally:
        print(f"{len(harvest_local(args.job))} local replies recorded")


# ------------------------------------------------------------------ compare
def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _metrics(result: dict[str, Any] | None) -> dict[str, Any]:
    if not result:
        return {}
    skip = {"details", "type", "samples", "failed_request_messages"}
    return {k: v for k, v in result.items() if k not in skip}


def _same_metric(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def _short(text: Any, n: int = 300) -> str:
    s = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    return s if len(s) <= n else s[: n // 2] + f" …[{len(s) - n} chars]… " + s[-n // 2 :]


def first_difference(a: str, b: str) -> str:
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
    return f"at char {i}: ref {a[max(0, i - 40): i + 60]!r} / ours {b[max(0, i - 40): i + 60]!r}"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def ref_evaluators(run: Path) -> dict[str, str]:
    """abbr -> the evaluator type of each sub-dataset, from the config the reference dumped."""
    out: dict[str, str] = {}
    for path in sorted((run / "configs").glob("*.py")):
        namespace: dict[str, Any] = {}
        try:
            exec(compile(path.read_text(), str(path), "exec"), {"dict": dict}, namespace)
        except Exception:  # noqa: BLE001 - a config we cannot read gives no evaluator names
            continue
        for d in namespace.get("datasets", []):
            out[d["abbr"]] = str(d.get("eval_cfg", {}).get("evaluator", {}).get("type", ""))
    return out


ACC_EVALUATORS = ("opencompass.openicl.icl_evaluator.AccEvaluator", "AccEvaluator")


def ref_verdict(detail: dict[str, Any] | None, evaluator: str) -> bool | None:
    """The reference's per-sample verdict: what its evaluator recorded (`correct`,
    `is_correct`), or, for AccEvaluator (no per-sample record), whether the extracted
    prediction equals the reference as strings, which is how it counts."""
    if not detail:
        return None
    for key in ("correct", "is_correct"):
        if key in detail:
            return bool(detail[key])
    if evaluator in ACC_EVALUATORS and isinstance(detail.get("predictions"), str):
        return detail["predictions"] == detail.get("references")
    return None


def compare_subset(ref_dir: Path, our_dir: Path, abbr: str, evaluator: str) -> dict[str, Any]:
    ref_pred = _load(ref_dir / "predictions" / MODEL / f"{abbr}.json")
    our_pred = _load(our_dir / "predictions" / MODEL / f"{abbr}.json")
    ref_res = _load(ref_dir / "results" / MODEL / f"{abbr}.json")
    our_res = _load(our_dir / "results" / MODEL / f"{abbr}.json")
    row: dict[str, Any] = {"abbr": abbr}
    if ref_pred is None or our_pred is None:
        row["missing"] = "ref" if ref_pred is None else "ours"
        row["equal"] = False
        return row
    n = len(ref_pred)
    row["samples"] = n
    row["samples_ours"] = len(our_pred)
    prompts_equal = replies_equal = verdicts = verdicts_equal = answers = answers_equal = 0
    first: dict[str, Any] | None = None
    ref_details = (ref_res or {}).get("details") or {}
    our_details = {d["index"]: d for d in (our_res or {}).get("details", [])}
    our_by_pos = {int(k): v for k, v in our_pred.items()}
    for i in range(n):
        r = ref_pred[str(i)]
        o = our_by_pos.get(i)
        rp = _prompt_text(r["origin_prompt"])
        op = _prompt_text(o["origin_prompt"]) if o else None
        if rp == op:
            prompts_equal += 1
        elif first is None:
            first = {"index": i, "kind": "prompt", "ref": _short(rp, 600), "ours": _short(op, 600),
                     "where": first_difference(rp, op or "")}  # fmt: skip
        if o is not None and r["prediction"] == o["prediction"]:
            replies_equal += 1
        rd = ref_details.get(str(i)) if isinstance(ref_details, dict) else None
        od = our_details.get(i)
        rv = ref_verdict(rd, evaluator)
        if rd is not None and od is not None and "predictions" in rd:
            answers += 1
            if _as_text(rd["predictions"]) == _as_text(od.get("pred", od.get("answer"))):
                answers_equal += 1
            elif first is None and rv is None:
                first = {"index": i, "kind": "answer", "reply": _short(r["prediction"]),
                         "ref": _short(rd["predictions"]), "ours": _short(od.get("answer"))}  # fmt: skip
        if rv is not None and od is not None and "correct" in od:
            verdicts += 1
            if rv == bool(od["correct"]):
                verdicts_equal += 1
            elif first is None:
                first = {"index": i, "kind": "verdict", "reply": _short(r["prediction"]),
                         "ref": {"pred": rd.get("predictions"), "correct": rv},
                         "ours": {"answer": od.get("answer"), "correct": od["correct"]}}  # fmt: skip
    rm, om = _metrics(ref_res), _metrics(our_res)
    metric_diffs = {k: [v, om.get(k)] for k, v in rm.items() if not _same_metric(v, om.get(k))}
    row.update(
        prompts_equal=prompts_equal,
        replies_equal=replies_equal,
        verdicts=verdicts,
        verdicts_equal=verdicts_equal,
        answers=answers,
        answers_equal=answers_equal,
        ref_metrics=rm,
        our_metrics={k: om.get(k) for k in rm},
        metric_diffs=metric_diffs,
    )
    row["equal"] = (
        prompts_equal == n == len(our_pred) and verdicts_equal == verdicts and not metric_diffs and bool(rm)
    )
    if first is None and metric_diffs:
        first = {"kind": "metric", "diffs": metric_diffs}
    if first is not None:
        row["first_difference"] = first
    return row


def cmd_compare(args: argparse.Namespace) -> None:
    limit, names = job_datasets(args.job, args.datasets)
    table: dict[str, Any] = {"job": args.job, "limit": limit, "policies": {}}
    for pol in args.policies:
        our_root = out_dir() / args.job / "ours" / pol
        our_run = ref_run_dir(our_root)
        per_dataset: dict[str, Any] = {}
        for name in names:
            subs = [s.abbr for s in benchmark.get(name).subsets]
            if name in REF_BROKEN:
                per_dataset[name] = {"reference": "fails to load in ms-opencompass 0.1.6"}
                continue
            ref_run = ref_run_dir(out_dir() / args.job / "ref" / pol / name)
            if ref_run is None or our_run is None:
                per_dataset[name] = {"reference": "not run" if ref_run is None else "ours not run"}
                continue
            rows = []
            evaluators = ref_evaluators(ref_run)
            for abbr in subs:
                if not (ref_run / "predictions" / MODEL / f"{abbr}.json").is_file() and not (
                    our_run / "predictions" / MODEL / f"{abbr}.json"
                ).is_file():
                    continue  # no data on either side (race-high)
                rows.append(compare_subset(ref_run, our_run, abbr, evaluators.get(abbr, "")))
            per_dataset[name] = {
                "subsets": len(rows),
                "subsets_equal": sum(r["equal"] for r in rows),
                "samples": sum(r.get("samples", 0) for r in rows),
                "prompts_equal": sum(r.get("prompts_equal", 0) for r in rows),
                "verdicts": sum(r.get("verdicts", 0) for r in rows),
                "verdicts_equal": sum(r.get("verdicts_equal", 0) for r in rows),
                "answers": sum(r.get("answers", 0) for r in rows),
                "answers_equal": sum(r.get("answers_equal", 0) for r in rows),
                "rows": rows,
            }
        table["policies"][pol] = per_dataset
    table["requests"] = compare_requests(args.job)
    path = out_dir() / args.job / "table.json"
    old = _load(path) or {"policies": {}}
    old["policies"].update(table["policies"])
    old.update({k: v for k, v in table.items() if k != "policies"})
    path.write_text(json.dumps(old, ensure_ascii=False, indent=1))
    print_table(table)
    print(f"\nwritten: {path}")


def compare_requests(job: str) -> dict[str, Any]:
    """What the servers received in the prompt pass: every prompt the reference sent, sent by
    us too, with the same max_tokens."""
    ref = _load(out_dir() / job / "ref" / "asked_natural.json") or {}
    ours = _load(out_dir() / job / "ours" / "natural" / "asked.json") or {}
    both = [p for p in ref if p in ours]
    same = [p for p in both if sorted(set(ref[p])) == sorted(set(ours[p]))]
    out: dict[str, Any] = {"ref_prompts": len(ref), "also_sent_by_us": len(both), "same_max_tokens": len(same)}
    odd = next((p for p in both if p not in same), None)
    if odd is not None:
        out["first_max_tokens_difference"] = {"prompt": _short(odd, 200), "ref": ref[odd], "ours": ours[odd]}
    return out


def print_table(table: dict[str, Any]) -> None:
    req = table.get("requests")
    if req:
        print(f"requests (prompt pass): {req}")
    for pol, per_dataset in table["policies"].items():
        print(f"\n## policy: {pol} (job {table['job']}, rows {table['limit'] or 'all'})\n")
        print("| dataset | sub-datasets equal | prompts equal | verdicts equal | answers equal | first difference |")
        print("|---|---|---|---|---|---|")
        for name, d in per_dataset.items():
            if "subsets" not in d:
                print(f"| {name} | - | - | - | - | {d.get('reference')} |")
                continue
            firsts = [r for r in d["rows"] if not r["equal"]]
            note = ""
            if firsts:
                r = firsts[0]
                note = f"{r['abbr']}: " + _short(r.get("first_difference") or r.get("missing"), 240)
                note = note.replace("|", "\\|").replace("\n", "\\n")
            print(
                f"| {name} | {d['subsets_equal']}/{d['subsets']} | {d['prompts_equal']}/{d['samples']} "
                f"| {d['verdicts_equal']}/{d['verdicts']} | {d['answers_equal']}/{d['answers']} | {note} |"
            )


# ------------------------------------------------------------------ golden
def cmd_golden(args: argparse.Namespace) -> None:
    """Compact fixtures from the reference runs: per sample the sha256 of the reference's
    prompt, the reply and the reference's verdict; per sub-dataset the reference metrics."""
    limit, names = job_datasets(args.job, args.datasets)
    dest = ROOT / "tests" / "golden"
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        broken = name in REF_BROKEN
        source = ("compasslite (ms-opencompass 0.1.6 fails to load this dataset; the fixture pins what we do)"
                  if broken else "EvalScope 1.14.1 + ms-opencompass 0.1.6")  # fmt: skip
        doc: dict[str, Any] = {"dataset": name, "limit": limit, "reference": source, "subsets": {}}
        for pol in args.policies:
            if broken:
                run = ref_run_dir(out_dir() / args.job / "ours" / pol)
                subsets = [s.abbr for s in benchmark.get(name).subsets]
            else:
                run = ref_run_dir(out_dir() / args.job / "ref" / pol / name)
                subsets = None
            if run is None:
                continue
            evaluators = {} if broken else ref_evaluators(run)
            for path in sorted((run / "predictions" / MODEL).glob("*.json")):
                abbr = path.stem
                if subsets is not None and abbr not in subsets:
                    continue
                preds = json.loads(path.read_text())
                res = _load(run / "results" / MODEL / f"{abbr}.json") or {}
                if broken:
                    details = {str(k): {"correct": d["correct"]} for k, d in enumerate(res.get("details", []))
                               if "correct" in d}  # fmt: skip
                else:
                    details = res.get("details") or {}
                sub = doc["subsets"].setdefault(abbr, {"n": len(preds), "prompt_sha256": [], "policies": {}})
                if not sub["prompt_sha256"]:
                    sub["prompt_sha256"] = [sha(_prompt_text(preds[str(i)]["origin_prompt"])) for i in range(len(preds))]
                verdicts = []
                for i in range(len(preds)):
                    d = details.get(str(i)) if isinstance(details, dict) else None
                    verdicts.append(ref_verdict(d, "" if broken else evaluators.get(abbr, "")))
                sub["policies"][pol] = {
                    "replies": [preds[str(i)]["prediction"] for i in range(len(preds))],
                    "verdicts": verdicts if any(v is not None for v in verdicts) else None,
                    "metrics": _metrics(res),
                }
        if doc["subsets"]:
            raw = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
            target = dest / f"{args.job}-{name}.json.gz"
            target.write_bytes(gzip.compress(raw, 9, mtime=0))
            print(f"{target.name}: {len(doc['subsets'])} sub-datasets, {target.stat().st_size / 1024:.0f} KiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("infer", cmd_infer), ("rescore", cmd_rescore), ("ours", cmd_ours),
                     ("compare", cmd_compare), ("golden", cmd_golden), ("record-local", cmd_record_local)):  # fmt: skip
        p = sub.add_parser(name)
        p.add_argument("--job", choices=sorted(JOBS), required=True)
        p.add_argument("--datasets", nargs="+")
        p.add_argument("--policies", nargs="+", default=list(policies.POLICIES))
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--force", action="store_true")
        p.add_argument("--rows", type=int, default=10)
        p.set_defaults(func=fn)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
