"""humaneval and mbpp: Python code generation scored by running the code (spec C.19, C.5,
B.12, B.13).

Model-written programs run in `compasslite.sandbox` (own process tree, no network, limits,
dropped uid when root); see that module for what is isolated on which machine.

Answer extraction modes
-----------------------
The run's ``code_extraction`` setting (``--code-extraction``) selects how code is taken out
of a reply. The runner scores inside ``with extraction(mode):``, a context variable read each
time a reply is extracted or scored, so the setting stays out of the scorer signature shared
by all datasets without being process-global state:

``opencompass`` (default)
    Exactly OpenCompass: humaneval keeps the body of the first ```` ```<word>\\n ... ``` ````
    block (else the reply as is) and appends it to the prompt; mbpp applies the 20 ordered
    patterns and post-steps of B.13. Scores are identical to OpenCompass's.

``robust``
    The same, except where OpenCompass's result cannot run because of the reply's
    formatting. It never changes a program that already compiles (bar one humaneval case
    below), so it can only add passes, and its scores may be higher than OpenCompass's:

    * fences: any fence header (```` ```Python3 ````, ```` ``` python ````, ```` ```py ````);
      a block left open because the reply was cut at max_out_len; in mbpp a fenced block
      inside ``[BEGIN] ... [DONE]`` (OpenCompass keeps the empty text before the fence);
    * indentation: a body whose first line lost its indentation when the reply was stripped
      (OpenCompass: ``'return' outside function``), a body written without indentation,
      code indented as a whole (an mbpp reply ``[BEGIN]\\n    import re\\n    def f(): ...``);
    * humaneval replies that repeat the signature indented under the prompt's function
      (OpenCompass nests the new definition inside the stub, which then returns None): the
      definition is moved to the top level; a full definition preceded by a line of prose.

Any other value is an error.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import iter_jsonl, missing_fields, require
from ..errors import ConfigError, DataError
from ..types import Score, Turn

EXTRACTION_MODES = ("opencompass", "robust")
SANDBOXED_BENCHMARKS = ("humaneval", "mbpp")  # scored by running model-written code
_EXTRACTION: ContextVar[str] = ContextVar("code_extraction", default="opencompass")

HUMANEVAL_FILE = "humaneval/human-eval-v2-20210705.jsonl"
MBPP_FILE = "mbpp/mbpp.jsonl"

HUMANEVAL_TIMEOUT = 3.0  # OpenCompass: 3.0 s inside, the parent waits 4.0 s
MBPP_TIMEOUT = 9.0  # OpenCompass: a 9 s alarm inside, a 10 s wait outside


def extraction_mode() -> str:
    """The current code extraction mode (see the module docstring)."""
    return _EXTRACTION.get()


@contextlib.contextmanager
def extraction(mode: str) -> Iterator[None]:
    """Extract and score humaneval/mbpp replies in `mode` inside the block."""
    if mode not in EXTRACTION_MODES:
        raise ConfigError(f"code_extraction {mode!r} is not one of {', '.join(EXTRACTION_MODES)}")
    token = _EXTRACTION.set(mode)
    try:
        yield
    finally:
        _EXTRACTION.reset(token)


def _compiles(source: str) -> bool:
    """Whether Python accepts the program (compile, not just parse: `return` outside a
    function is only caught by the compiler)."""
    try:
        compile(source, "<program>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):  # ValueError: source with NUL bytes
        return False
    return True


_FENCE_ROBUST = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)


def _fenced_blocks(text: str) -> list[str]:
    """Bodies of fenced blocks with any header; a block left open runs to the end."""
    return _FENCE_ROBUST.findall(text)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _reindent_first_line(code: str) -> str | None:
    """The code with its first line given the smallest indentation of the other lines
    (the reply was stripped, so the first line lost its own), or None if that changes nothing."""
    lines = code.split("\n")
    if len(lines) < 2 or _indent_of(lines[0]):
        return None
    rest = [_indent_of(line) for line in lines[1:] if line.strip()]
    if not rest or not min(rest, key=len):
        return None
    return min(rest, key=len) + code


def _normalise_block(code: str) -> str:
    """Top-level code whose indentation was damaged: the first variant that compiles."""
    if _compiles(code):
        return code
    candidates = [textwrap.dedent(code)]
    fixed = _reindent_first_line(code)
    if fixed is not None:
        candidates.append(textwrap.dedent(fixed))
    for cand in candidates:
        if _compiles(cand):
            return cand
    return code


# --------------------------------------------------------------------------- humaneval

HUMANEVAL_TEMPLATE = (Turn.human("Complete the following python code:\n{prompt}"),)

_FENCE_OC = re.compile(r"```\w*\n(.*?)```", re.DOTALL)


def humaneval_postprocess_v2(text: str) -> str:
    """B.12: the body of the first fenced block (trailing newline kept), else the text."""
    blocks = _FENCE_OC.findall(text)
    return blocks[0] if blocks else text


def humaneval_postprocess_robust(text: str) -> str:
    """Robust mode: the body of the first fenced block with any header (a block left open
    runs to the end of the reply); else the text."""
    blocks = _fenced_blocks(text)
    return blocks[0] if blocks else text


def humaneval_extract(text: str) -> str:
    if extraction_mode() == "robust":
        return humaneval_postprocess_robust(text)
    return humaneval_postprocess_v2(text)


def _body_indent(prompt: str) -> str:
    for line in reversed(prompt.split("\n")):
        if line.strip():
            return _indent_of(line) or "    "
    return "    "


def robust_completion(completion: str, prompt: str, entry_point: str) -> str:
    """Robust mode: repair a completion so that prompt + completion runs as intended.

    A program that compiles is kept, except a definition of the entry point that is
    indented (it would be nested inside the prompt's stub): it is moved to the top level."""
    defines = re.compile(rf"^([ \t]*)def {re.escape(entry_point)}\s*\(", re.M)
    indents = [m.group(1) for m in defines.finditer(completion)]
    if indents and "" not in indents:
        code = _normalise_block(completion)
        if "" in [m.group(1) for m in defines.finditer(code)] and _compiles(prompt + code):
            return code
    if _compiles(prompt + completion):
        return completion
    if indents:  # a full definition after something that is not code (a line of prose)
        start = re.search(r"^(def |from |import |@|class )", completion, re.M)
        if start is not None and _compiles(prompt + completion[start.start() :]):
            return completion[start.start() :]
    indent = _body_indent(prompt)
    candidates = []
    fixed = _reindent_first_line(completion)
    if fixed is not None:
        candidates.append(fixed)
    candidates.append(indent + completion)
    candidates.append(textwrap.indent(textwrap.dedent(completion), indent))
    for cand in candidates:
        if _compiles(prompt + cand):
            return cand
    return completion


def humaneval_program(row: dict[str, Any], answer: str, mode: str | None = None) -> str:
    """B.12 program: prompt + answer + LF + test + LF + check(<entry_point>)."""
    mode = mode or extraction_mode()
    completion = answer
    if mode == "robust":
        completion = robust_completion(answer, row["prompt"], row["entry_point"])
    return row["prompt"] + completion + "\n" + row["test"] + "\n" + f"check({row['entry_point']})"


def humaneval_score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    """pass@1 over the given samples (any subset of the 164 problems)."""
    from ..sandbox import run_programs

    mode = extraction_mode()
    by_task = {row["task_id"]: row for row in rows}
    programs = []
    for answer, ref, row in zip(answers, references, rows, strict=True):
        problem = by_task.get(ref, row)
        programs.append(humaneval_program(problem, "" if answer is None else str(answer), mode))
    outcomes = run_programs(programs, HUMANEVAL_TIMEOUT, guard="humaneval")
    details = [
        {"correct": o.passed, "task_id": ref, "result": o.humaneval_result}
        for o, ref in zip(outcomes, references, strict=True)
    ]
    passed = sum(o.passed for o in outcomes)
    value = 100.0 * passed / len(outcomes) if outcomes else 0.0
    return Score({"humaneval_pass@1": value}, details)


def load_humaneval(data_dir: Path) -> list[dict[str, Any]]:
    path = require(data_dir, HUMANEVAL_FILE, "humaneval")
    rows = []
    fields = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
    for lineno, obj in iter_jsonl(path):
        missing_fields(path, lineno, obj, fields)
        if not all(isinstance(obj[f], str) for f in fields):
            raise DataError(f"{path}:{lineno}: HumanEval fields must be strings")
        rows.append({f: obj[f] for f in fields})
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


# --------------------------------------------------------------------------- mbpp

MBPP_TEMPLATE: tuple[Turn, ...] = (
    Turn.human(
        "You are an expert Python programmer, and here is your task: Write a function to find the similar elements from the given two tuple lists. Your code should pass these tests:\n\n assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\nassert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4) \nassert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14) \n"
    ),
    Turn.bot(
        "[BEGIN]\n 'def similar_elements(test_tup1, test_tup2):\r\n  res = tuple(set(test_tup1) & set(test_tup2))\r\n  return (res)' \n[DONE] \n\n "
    ),
    Turn.human(
        "You are an expert Python programmer, and here is your task: Write a python function to identify non-prime numbers. Your code should pass these tests:\n\n assert is_not_prime(2) == False \nassert is_not_prime(10) == True \nassert is_not_prime(35) == True \n"
    ),
    Turn.bot(
        "[BEGIN]\n 'import math\r\ndef is_not_prime(n):\r\n    result = False\r\n    for i in range(2,int(math.sqrt(n)) + 1):\r\n        if n % i == 0:\r\n            result = True\r\n    return result' \n[DONE] \n\n "
    ),
    Turn.human(
        "You are an expert Python programmer, and here is your task: Write a function to find the largest integers from a given list of numbers using heap queue algorithm. Your code should pass these tests:\n\n assert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],3)==[85, 75, 65] \nassert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],2)==[85, 75] \nassert heap_queue_largest( [25, 35, 22, 85, 14, 65, 75, 22, 58],5)==[85, 75, 65, 58, 35] \n"
    ),
    Turn.bot(
        "[BEGIN]\n 'import heapq as hq\r\ndef heap_queue_largest(nums,n):\r\n  largest_nums = hq.nlargest(n, nums)\r\n  return largest_nums' \n[DONE] \n\n "
    ),
    Turn.human(
        "You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:\n\n {test_list}  \n"
    ),
    Turn.bot("[BEGIN]\n"),
)

def _literal_in(literal: str, pattern: str) -> bool:
    """Whether a pattern of MBPP_PATTERNS requires `literal` (written escaped or plain)."""
    return re.escape(literal).replace("\\`", "`") in pattern


# B.13: tried in order with DOTALL; group 1 of the first that matches.
MBPP_PATTERNS: tuple[str, ...] = (
    r"\[BEGIN\]\s*'(.*)'\s*\[DONE\]",
    r"BEGIN\s*'(.*)'\s*\[DONE\]",
    r"\[BEGIN\]\s*'(.*)'\s*DONE",
    r"BEGIN\s*'(.*)'\s*DONE",
    r"\[BEGIN\]\s*'(.*)\s*\[DONE\]",
    r"BEGIN\s*'(.*)\s*\[DONE\]",
    r"\[BEGIN\]\s*'(.*)\s*DONE",
    r"BEGIN\s*'(.*)\s*DONE",
    r"\[BEGIN\]\s*(.*)\s*\[DONE\]",
    r"BEGIN\s*(.*)\s*\[DONE\]",
    r"\[BEGIN\]\s*(.*)\s*DONE",
    r"BEGIN\s*(.*)\s*DONE",
    r"```python\s*(.*)\s*```",
    r"```\s*(.*)\s*```",
    r"```python\s*(.*)\s*$",
    r"```\s*(.*)\s*$",
    r"(.*)\s*```.*",
    r"\[BEGIN\]\s*'(.*)",
    r"\[BEGIN\](.*)",
    r"'(.*)'\s*\[DONE\]",
)
_MBPP_COMPILED = tuple(re.compile(p, re.DOTALL) for p in MBPP_PATTERNS)
# The literals each pattern needs. Several patterns start with a group or `.*`, which Python's
# regex engine retries from every position: on a long reply without the literal that is
# quadratic (2 s for a 28 kB reply). A pattern whose literal is absent cannot match, so it
# is skipped without a search; the result is unchanged.
_MBPP_LITERALS = tuple(
    tuple(lit for lit in ("[BEGIN]", "BEGIN", "[DONE]", "DONE", "```python", "```") if _literal_in(lit, p))
    for p in MBPP_PATTERNS
)
_DONE = re.compile(r"'?\s*\[?DONE\]?")


def _mbpp_match(text: str) -> str:
    for pattern, literals in zip(_MBPP_COMPILED, _MBPP_LITERALS, strict=True):
        if not all(lit in text for lit in literals):
            continue
        match = pattern.search(text)
        if match:
            return match.group(1)
    return text


def _mbpp_finish(text: str) -> str:
    text = _DONE.split(text, maxsplit=1)[0]
    return text.replace("\\_", "_").strip()


def mbpp_process_answer(text: str) -> str:
    """B.13 `_process_answer`: the ordered patterns, then cut at ``` and DONE, `\\_` -> `_`, strip."""
    return _mbpp_finish(_mbpp_match(text).split("```")[0])


# Python fence headers other than OpenCompass's exact ```python (```py, ``` Python3, ...):
# OpenCompass's later patterns would keep the tag as a first line of code.
_PY_FENCE_HEADER = re.compile(r"```[ \t]*(?:py|py3|python|python3)[ \t]*\n", re.IGNORECASE)


def mbpp_process_answer_robust(text: str) -> str:
    """Robust mode: Python fence headers are normalised to ```python; then OpenCompass's
    answer if it compiles and is not empty; otherwise a fenced block inside the match, or
    the code with its indentation repaired."""
    text = _PY_FENCE_HEADER.sub("```python\n", text)
    plain = mbpp_process_answer(text)
    if plain and _compiles(plain):
        return plain
    matched = _mbpp_match(text)
    candidates = [_mbpp_finish(block) for block in _fenced_blocks(matched) or _fenced_blocks(text)]
    before = _DONE.split(matched.split("```")[0], maxsplit=1)[0].replace("\\_", "_")
    candidates += [before.strip("\n").rstrip(), plain]
    for cand in candidates:
        if cand.strip():
            fixed = _normalise_block(cand)
            if _compiles(fixed):
                return fixed
    return plain


def mbpp_program(answer: str, test_list_2: str, mode: str | None = None) -> str:
    """B.13 program: the processed answer, LF, the three asserts."""
    mode = mode or extraction_mode()
    code = mbpp_process_answer_robust(answer) if mode == "robust" else mbpp_process_answer(answer)
    return code + "\n" + test_list_2


MBPP_METRICS = ("score", "pass", "timeout", "failed", "wrong_answer")


def mbpp_score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    from ..sandbox import run_programs

    mode = extraction_mode()
    programs = [
        mbpp_program("" if a is None else str(a), str(r), mode)
        for a, r in zip(answers, references, strict=True)
    ]
    outcomes = run_programs(programs, MBPP_TIMEOUT)
    counts = {"pass": 0, "timeout": 0, "failed": 0, "wrong_answer": 0}
    details = []
    for outcome, program in zip(outcomes, programs, strict=True):
        result = outcome.mbpp_result
        counts[result] += 1
        details.append({"correct": result == "pass", "result": result, "program": program})
    score = 100.0 * counts["pass"] / len(outcomes) if outcomes else 0.0
    return Score({"score": score, **counts}, details)


_MBPP_FIELDS = ("text", "code", "task_id", "test_setup_code", "test_list", "challenge_test_list")


def load_mbpp(data_dir: Path) -> list[dict[str, Any]]:
    """Test split: lines 11-510 of mbpp.jsonl (task_id 11-510)."""
    path = require(data_dir, MBPP_FILE, "mbpp")
    rows = []
    for position, (lineno, obj) in enumerate(iter_jsonl(path)):
        if position >= 510:
            break
        missing_fields(path, lineno, obj, _MBPP_FIELDS)
        tests = obj["test_list"]
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            raise DataError(f"{path}:{lineno}: test_list must be a list of assert strings")
        if position < 10:  # the train split, unused
            continue
        row = dict(obj)  # every key of the record, in file order, then the derived columns
        row["test_case"] = tests
        row["test_list"] = "\n".join(tests)
        row["test_list_2"] = row["test_list"]
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: no test rows (the test split is lines 11-510)")
    return rows


register(
    Benchmark(
        name="humaneval",
        description="HumanEval: 164 Python functions, pass@1 by execution",
        subsets=(
            Subset(
                abbr="openai_humaneval",
                version="8e312c",
                files=(HUMANEVAL_FILE,),
                load=load_humaneval,
                template=HUMANEVAL_TEMPLATE,
                output_column="task_id",
                extract=humaneval_extract,
                score=humaneval_score,
                metrics=("humaneval_pass@1",),
                max_out_len=512,
            ),
        ),
    )
)

register(
    Benchmark(
        name="mbpp",
        description="MBPP: 500 basic Python problems, 3-shot, scored by execution",
        subsets=(
            Subset(
                abbr="mbpp",
                version="830460",
                files=(MBPP_FILE,),
                load=load_mbpp,
                template=MBPP_TEMPLATE,
                output_column="test_list_2",
                score=mbpp_score,
                metrics=MBPP_METRICS,
                max_out_len=512,
            ),
        ),
    )
)
