"""Oracles for gsm8k, ARC_c, ARC_e, mmlu, ceval.

Gold answers come from the raw data (oracles/raw.py): gsm8k's reference is the spec's B.9
post-processing of the raw `answer` column (the number after `#### `, commas removed), ARC's
letter is the position of the raw `answerKey` among the raw choice labels (C.45), and mmlu's
and ceval's letters are the raw CSV files' answer fields, read with the csv module (C.7, C.13).
"""

from __future__ import annotations

from typing import Any

from . import raw


def _gsm8k_right(subset: Any, row: dict[str, Any]) -> str:
    return f"Let's compute it step by step.\nThe answer is {raw.gsm8k_reference(row['answer'])}."


def _gsm8k_wrong(subset: Any, row: dict[str, Any]) -> str:
    return f"I get {int(float(raw.gsm8k_reference(row['answer']))) + 1} in the end."


def _raw_gold(name: str, column: str):
    def gold(subset: Any, row: dict[str, Any]) -> str:
        return raw.gold(name, subset.abbr, row, column)

    return gold


_CEVAL_GOLD = _raw_gold("ceval", "answer")


def _letter_right(gold):
    def reply(subset: Any, row: dict[str, Any]) -> str:
        return f"Looking at the options carefully, the answer is {gold(subset, row)}."

    return reply


def _letter_wrong(gold):
    def reply(subset: Any, row: dict[str, Any]) -> str:
        wrong = next(x for x in "ABCD" if x != gold(subset, row))
        return f"The answer is {wrong}."

    return reply


def _ceval_right(subset: Any, row: dict[str, Any]) -> str:
    return f"{_CEVAL_GOLD(subset, row)}. 这是正确答案"


def _ceval_wrong(subset: Any, row: dict[str, Any]) -> str:
    return next(x for x in "ABCD" if x != _CEVAL_GOLD(subset, row))


ORACLES = {
    "gsm8k": (_gsm8k_right, _gsm8k_wrong),
    "ARC_c": (_letter_right(_raw_gold("ARC_c", "answerKey")), _letter_wrong(_raw_gold("ARC_c", "answerKey"))),
    "ARC_e": (_letter_right(_raw_gold("ARC_e", "answerKey")), _letter_wrong(_raw_gold("ARC_e", "answerKey"))),
    "mmlu": (_letter_right(_raw_gold("mmlu", "target")), _letter_wrong(_raw_gold("mmlu", "target"))),
    "ceval": (_ceval_right, _ceval_wrong),
}
