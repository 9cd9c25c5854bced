"""Oracles for humaneval, mbpp, Xsum and lcsts.

Code: the correct reply is the dataset's canonical solution the way chat models write
code (humaneval: a fenced full function or a fenced body, alternating; mbpp: the
`[BEGIN] '...' [DONE]` style of the prompt's exemplars). Two mbpp rows need care, both
documented in tests/test_code.py: task 367's tests use objects defined in
`test_setup_code`, which OpenCompass does not run, so the reply defines them too; task
123's canonical solution is quadratic and needs several seconds, close to the 9 s limit on
a loaded machine, so the reply is an equivalent fast version. The wrong replies fail.

Summaries: the correct reply is the reference summary (Xsum: followed by a remark on a
second line, which the first-line extractor drops; lcsts: in Chinese quotes, which
lcsts_postprocess strips); the wrong reply is an unrelated sentence.
"""

from __future__ import annotations

from typing import Any

MBPP_FAST_123 = (
    "def amicable_numbers_sum(limit):\r\n"
    "    if not isinstance(limit, int):\r\n"
    '        return "Input is not an integer!"\r\n'
    "    if limit < 1:\r\n"
    '        return "Input must be bigger than 0!"\r\n'
    "    def divisor_sum(n):\r\n"
    "        if n < 2:\r\n"
    "            return 0\r\n"
    "        total, i = 1, 2\r\n"
    "        while i * i <= n:\r\n"
    "            if n % i == 0:\r\n"
    "                total += i if i * i == n else i + n // i\r\n"
    "            i += 1\r\n"
    "        return total\r\n"
    "    found = set()\r\n"
    "    for num in range(2, limit + 1):\r\n"
    "        partner = divisor_sum(num)\r\n"
    "        if partner != num and divisor_sum(partner) == num:\r\n"
    "            found.add(num)\r\n"
    "    return sum(found)"
)


def _task_number(row: dict[str, Any]) -> int:
    return int(str(row["task_id"]).rsplit("/", 1)[-1])


def humaneval_right(subset: Any, row: dict[str, Any]) -> str:
    if _task_number(row) % 2 == 0:
        code = row["prompt"].lstrip("\n") + row["canonical_solution"]
        return f"Here is the complete function:\n\n```python\n{code}```\n\nIt passes the examples in the docstring."
    return f"```python\n{row['canonical_solution']}```"


def humaneval_wrong(subset: Any, row: dict[str, Any]) -> str:
    return "I am not sure how to solve this one, so here is a placeholder:\n```python\n    raise NotImplementedError\n```"


def mbpp_code(row: dict[str, Any]) -> str:
    if int(row["task_id"]) == 123:
        return MBPP_FAST_123
    code = row["code"]
    if row.get("test_setup_code"):
        code = code + "\r\n" + row["test_setup_code"]
    return code


def mbpp_right(subset: Any, row: dict[str, Any]) -> str:
    return f"[BEGIN]\n '{mbpp_code(row)}' \n[DONE]"


def mbpp_wrong(subset: Any, row: dict[str, Any]) -> str:
    return "[BEGIN]\n 'def solution(*args):\r\n    return None' \n[DONE]"


def xsum_right(subset: Any, row: dict[str, Any]) -> str:
    return f"{row['summary']}\n\nLet me know if you would like a longer summary."


def xsum_wrong(subset: Any, row: dict[str, Any]) -> str:
    return "Quantum chromodynamics governs quarks and gluons."


def lcsts_right(subset: Any, row: dict[str, Any]) -> str:
    return f"“{row['abst']}”"


def lcsts_wrong(subset: Any, row: dict[str, Any]) -> str:
    return "量子色动力学描述夸克与胶子"


ORACLES = {
    "humaneval": (humaneval_right, humaneval_wrong),
    "mbpp": (mbpp_right, mbpp_wrong),
    "Xsum": (xsum_right, xsum_wrong),
    "lcsts": (lcsts_right, lcsts_wrong),
}
