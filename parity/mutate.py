"""Mutation check: realistic one-line bugs in loaders, templates, extractors and metrics, each
of which the test suite must kill (some test fails).

    python parity/mutate.py            # every mutation; prints a table, exits 1 if one survives
    python parity/mutate.py --only csv-newlines

Each mutation replaces one exact snippet in one file of src/compasslite, runs the test files
that guard that code, and restores the file (also on Ctrl-C). Run it on a clean work tree.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "compasslite"


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation(
        "csv-newlines",
        "CSV reader: lines fed to csv without their line breaks (the mmlu/ceval bug)",
        "data.py",
        'reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)',
        'reader = csv.reader(text.split("\\n"), delimiter=delimiter)',
        ("tests/test_golden.py", "tests/test_pinned.py"),
    ),
    Mutation(
        "cb-labels",
        "CB loader: entailment and contradiction letters swapped",
        "benchmarks/superglue.py",
        '{"contradiction": "A", "entailment": "B", "neutral": "C"}',
        '{"contradiction": "B", "entailment": "A", "neutral": "C"}',
        ("tests/test_golden.py", "tests/test_contract.py", "tests/test_english_choice.py"),
    ),
    Mutation(
        "option-dotall",
        "option-letter extraction compiled without re.DOTALL",
        "extract.py",
        "return tuple(re.compile(p, re.DOTALL) for p in option_patterns(options))",
        "return tuple(re.compile(p) for p in option_patterns(options))",
        ("tests/test_golden.py", "tests/test_pinned.py", "tests/test_extract.py"),
    ),
    Mutation(
        "fewshot-guard",
        "few-shot length guard: `<=` becomes `<` (drops an example at the exact boundary)",
        "prompt.py",
        "if max_seq_len is None or n == 0 or prompt.estimate <= max_seq_len:",
        "if max_seq_len is None or n == 0 or prompt.estimate < max_seq_len:",
        ("tests/test_pinned.py", "tests/test_core_units.py"),
    ),
    Mutation(
        "gsm8k-first-number",
        "gsm8k extraction takes the first number instead of the last",
        "benchmarks/gsm8k.py",
        "return numbers[-1] if numbers else \"NULL\"",
        "return numbers[0] if numbers else \"NULL\"",
        ("tests/test_golden.py", "tests/test_core_units.py"),
    ),
    Mutation(
        "mmlu-template",
        "mmlu prompt: trailing space after `Answer:` dropped",
        "benchmarks/mmlu.py",
        '"\\nQuestion: {input}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\nAnswer: "',
        '"\\nQuestion: {input}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\nAnswer:"',
        ("tests/test_golden.py",),
    ),
    Mutation(
        "ceval-header",
        "ceval loader keeps the header row as a question",
        "benchmarks/ceval.py",
        "header, body = records[0], records[1:]",
        "header, body = records[0], records",
        ("tests/test_golden.py", "tests/test_core_units.py"),
    ),
    Mutation(
        "accuracy-denominator",
        "accuracy divides by N + 1",
        "scoring.py",
        "return 100.0 * correct / total if total else 0.0",
        "return 100.0 * correct / (total + 1) if total else 0.0",
        ("tests/test_golden.py", "tests/test_core_units.py"),
    ),
    Mutation(
        "em-normalise",
        "EM: answers compared without OpenCompass's general_postprocess normalisation",
        "scoring.py",
        "return any(norm == general_postprocess(g) or answer == g for g in references)",
        "return any(answer == g for g in references)",
        ("tests/test_golden.py", "tests/test_qa.py"),
    ),
    Mutation(
        "first-capital-ascii",
        "first-capital extraction limited to ASCII letters (OpenCompass takes any uppercase character)",
        "extract.py",
        "        if ch.isupper():\n            return ch",
        "        if ch.isupper() and ch.isascii():\n            return ch",
        ("tests/test_golden.py", "tests/test_extract.py"),
    ),
    Mutation(
        "turn-separator",
        "prompt flattening joins turns without the LF",
        "prompt.py",
        '        separator = "\\n"\n    return "".join(out)',
        '        separator = ""\n    return "".join(out)',
        ("tests/test_golden.py",),
    ),
    Mutation(
        "humaneval-last-fence",
        "humaneval takes the last fenced block instead of the first",
        "benchmarks/code.py",
        "    blocks = _FENCE_OC.findall(text)\n    return blocks[0] if blocks else text",
        "    blocks = _FENCE_OC.findall(text)\n    return blocks[-1] if blocks else text",
        ("tests/test_golden.py", "tests/test_code.py"),
    ),
    Mutation(
        "lambada-no-punct-cut",
        "lambada keeps the punctuation after the first word",
        "benchmarks/qa.py",
        "    return _LAMBADA_PUNCT.split(token)[0]",
        "    return token",
        ("tests/test_golden.py", "tests/test_qa.py"),
    ),
    Mutation(
        "weighted-average",
        "mmlu-weighted computed as a naive average",
        "summary.py",
        "    if group.weights is None:\n        return metric, sum(present) / len(present), None",
        "    if True:\n        return metric, sum(present) / len(present), None",
        ("tests/test_pinned.py", "tests/test_summary.py"),
    ),
)


def run(mutation: Mutation, quiet: bool) -> tuple[bool, float, str]:
    path = SRC / mutation.file
    original = path.read_text()
    if original.count(mutation.old) != 1:
        return False, 0.0, f"snippet not found exactly once in {mutation.file}"
    tests = [t for t in mutation.tests if (ROOT / t).is_file()]
    try:
        path.write_text(original.replace(mutation.old, mutation.new))
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        secs = time.time() - t0
    finally:
        path.write_text(original)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    if not quiet:
        print(proc.stdout[-2000:])
    return proc.returncode != 0, secs, last


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    print("| mutation | what | killed | by (pytest summary) | s |")
    print("|---|---|---|---|---|")
    survived = 0
    for m in chosen:
        killed, secs, last = run(m, not args.verbose)
        survived += not killed
        print(f"| {m.name} | {m.what} | {'yes' if killed else 'NO'} | {last} | {secs:.0f} |", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
