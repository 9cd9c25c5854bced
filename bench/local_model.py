"""Throughput of the embedded local model server on this machine.

    python bench/local_model.py                      # default slots and threads
    python bench/local_model.py --parallel 2 --threads 1 --hog   # with a busy neighbour process
    python bench/local_model.py --long               # also one ~3400-token prompt (mmlu 5-shot size)

Prints start-up time, generation tokens/s, samples/s and the server's peak memory.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from compasslite.local_model import DEFAULT_CTX_PER_SLOT, DEFAULT_PARALLEL, LocalModelServer

QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "What is 12 plus 30?",
    "Write one sentence about the sea.",
    "Which planet is known as the red planet?",
    "Give a synonym for 'happy'.",
    "What do bees make?",
    "How many days are in a week?",
]


def _chat(base_url: str, model: str, content: str, max_tokens: int) -> dict:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    req = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.loads(resp.read())


def _hog() -> None:  # a neighbour that takes one core
    while True:
        pass


def _peak_rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--ctx-per-slot", type=int, default=DEFAULT_CTX_PER_SLOT)
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--hog", action="store_true", help="run a busy-loop process next to the server")
    ap.add_argument("--long", action="store_true", help="also time one ~3400-token prompt")
    ap.add_argument("--model", default=None, help="another GGUF file")
    args = ap.parse_args()

    hog = None
    if args.hog:
        hog = multiprocessing.Process(target=_hog, daemon=True)
        hog.start()
    try:
        t0 = time.monotonic()
        with LocalModelServer(
            args.model, parallel=args.parallel, threads=args.threads, ctx_per_slot=args.ctx_per_slot
        ) as srv:
            startup = time.monotonic() - t0
            print(
                f"server: {srv.model_name}, {srv.parallel} slots x {srv.context_length} tokens, "
                f"{srv.threads} threads, start-up {startup:.2f} s{' (with a busy neighbour)' if hog else ''}"
            )
            _chat(srv.base_url, srv.model_name, "Hi", 4)  # warm
            prompts = [QUESTIONS[i % len(QUESTIONS)] + f" (#{i})" for i in range(args.requests)]
            t = time.monotonic()
            with ThreadPoolExecutor(srv.parallel) as pool:
                replies = list(
                    pool.map(lambda p: _chat(srv.base_url, srv.model_name, p, args.max_tokens), prompts)
                )
            wall = time.monotonic() - t
            gen = sum(r["usage"]["completion_tokens"] for r in replies)
            prompt_toks = sum(r["usage"]["prompt_tokens"] for r in replies)
            per_req = [r.get("timings", {}).get("predicted_per_second", 0.0) for r in replies]
            print(
                f"short chats: {len(replies)} requests, {prompt_toks} prompt + {gen} generated tokens "
                f"in {wall:.2f} s -> {gen / wall:.1f} generated tokens/s overall, "
                f"{len(replies) / wall:.2f} samples/s; per-request decode {min(per_req):.1f}-{max(per_req):.1f} tok/s"
            )
            if args.long:
                long_prompt = (
                    " ".join(
                        f"Question {i}: which of these is a fruit? A. stone B. apple C. chair D. cloud. Answer: B."
                        for i in range(115)
                    )
                    + " Question: which of these is a colour? A. red B. dog C. car D. tree. Answer:"
                )
                t = time.monotonic()
                try:
                    r = _chat(srv.base_url, srv.model_name, long_prompt, 8)
                except urllib.error.HTTPError as exc:
                    print(f"long prompt: refused ({exc.code}): {exc.read().decode(errors='replace')[:300]}")
                    return
                wall = time.monotonic() - t
                tim = r.get("timings", {})
                print(
                    f"long prompt: {r['usage']['prompt_tokens']} prompt tokens in {wall:.2f} s "
                    f"(prompt eval {tim.get('prompt_per_second', 0):.0f} tok/s)"
                )
            peak = _peak_rss_mib(srv.pid) if srv.pid else None
            if peak is not None:
                print(f"server peak memory (VmHWM): {peak:.0f} MiB")
    finally:
        if hog is not None:
            hog.terminate()
            hog.join()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
