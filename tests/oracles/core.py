"""Oracles for gsm8k, ARC_c, ARC_e, mmlu, ceval."""

from __future__ import annotations

from typing import Any

from compasslite.benchmarks.gsm8k import reference as gsm8k_reference


def _gsm8k_right(subset: Any, row: dict[str, Any]) -> str:
    return f"Let's compute it step by step.\nThe answer is {gsm8k_reference(row)}."


def _gsm8k_wrong(subset: Any, row: dict[str, Any]) -> str:
    return f"I get {int(float(gsm8k_reference(row))) + 1} in the end."


def _letter_right(column: str):
    def reply(subset: Any, row: dict[str, Any]) -> str:
        return f"Looking at the options carefully, the answer is {row[column]}."

    return reply


def _letter_wrong(column: str):
    def reply(subset: Any, row: dict[str, Any]) -> str:
        wrong = next(x for x in "ABCD" if x != row[column])
        return f"The answer is {wrong}."

    return reply


def _ceval_right(subset: Any, row: dict[str, Any]) -> str:
    return f"{row['answer']}. 这是正确答案"


def _ceval_wrong(subset: Any, row: dict[str, Any]) -> str:
    return next(x for x in "ABCD" if x != row["answer"])


ORACLES = {
    "gsm8k": (_gsm8k_right, _gsm8k_wrong),
    "ARC_c": (_letter_right("answerKey"), _letter_wrong("answerKey")),
    "ARC_e": (_letter_right("answerKey"), _letter_wrong("answerKey")),
    "mmlu": (_letter_right("target"), _letter_wrong("target")),
    "ceval": (_ceval_right, _ceval_wrong),
}
