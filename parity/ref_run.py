"""Run EvalScope's OpenCompass backend (the reference) inside the reference venv.

    ref-venv/bin/python parity/ref_run.py --api-base URL --model NAME --work-dir DIR \
        --data-root DIR --datasets gsm8k mmlu --limit '[0:100]' [--reuse TIMESTAMP --mode eval]

`--data-root` is a folder holding `data/` (OpenCompass's COMPASS_DATA_CACHE layout).
`--mode eval --reuse TS` rescoring predictions files that were edited in place.
This file imports only the reference, never compasslite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _dotted(value):
    """Classes and functions as the dotted import paths a dumped OpenCompass config holds."""
    if isinstance(value, dict):
        return {k: _dotted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dotted(v) for v in value]
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    return value


def add_bbh() -> None:
    """bbh is in the suite but EvalScope has its import commented out: its config reads its
    few-shot files relative to its own source file, which EvalScope's lazy import breaks.
    Execute ms-opencompass's bbh_gen_5b92b0 config as a plain Python file and add its
    datasets to the list EvalScope draws from."""
    import opencompass
    from evalscope.backend.opencompass import backend_manager

    path = os.path.join(os.path.dirname(opencompass.__file__), "configs", "datasets", "bbh", "bbh_gen_5b92b0.py")
    namespace: dict = {"__file__": path, "__name__": "bbh_gen_5b92b0"}
    with open(path, encoding="utf-8") as f:
        exec(compile(f.read(), path, "exec"), namespace)
    bbh = [_dotted(d) for d in namespace["bbh_datasets"]]
    original = backend_manager.OpenCompassBackendManager.list_datasets

    def list_datasets(return_details: bool = False):
        names, datasets = original(return_details=True)
        for d in bbh:
            datasets.append({**d, "dataset_name": "bbh"})
        names = [*names, "bbh"]
        return (names, datasets) if return_details else names

    backend_manager.OpenCompassBackendManager.list_datasets = staticmethod(list_datasets)


def drop_abbrs(abbrs: set) -> None:
    """Leave sub-datasets out of the list EvalScope draws from."""
    from evalscope.backend.opencompass import backend_manager

    original = backend_manager.OpenCompassBackendManager.list_datasets

    def list_datasets(return_details: bool = False):
        names, datasets = original(return_details=True)
        datasets = [d for d in datasets if d.get("abbr") not in abbrs]
        return (names, datasets) if return_details else names

    backend_manager.OpenCompassBackendManager.list_datasets = staticmethod(list_datasets)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api-base", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--datasets", nargs="+", required=True)
    ap.add_argument("--limit", default=None)
    ap.add_argument("--reuse", default=None)
    ap.add_argument("--mode", default="all", choices=["all", "infer", "eval"])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--skip-abbrs", nargs="*", default=[], help="sub-datasets left out (their data is absent)")
    args = ap.parse_args()

    os.environ["COMPASS_DATA_CACHE"] = args.data_root
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.chdir(args.data_root)  # some configs read ./data/... relative to the working directory

    from evalscope.run import run_task

    if "bbh" in args.datasets:
        add_bbh()
    if args.skip_abbrs:
        drop_abbrs(set(args.skip_abbrs))

    eval_config = {
        "datasets": args.datasets,
        "models": [
            {
                "path": args.model,
                "openai_api_base": args.api_base.rstrip("/") + "/chat/completions",
                "is_chat": True,
                "batch_size": args.batch_size,
                "query_per_second": 1000,  # OpenCompass's rate limiter; the server is local
            }
        ],
        "work_dir": args.work_dir,
        "debug": True,
        "mode": args.mode,
        "dump_eval_details": True,  # per-sample extracted answers and verdicts in results/
    }
    if args.limit is not None:
        eval_config["limit"] = args.limit
    if args.reuse:
        eval_config["reuse"] = args.reuse
    run_task(task_cfg={"eval_backend": "OpenCompass", "eval_config": eval_config})
    print(json.dumps({"ok": True}), file=sys.stderr)


if __name__ == "__main__":
    main()
