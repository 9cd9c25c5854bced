"""Oracles for math, nq, triviaqa, lambada, ReCoRD, CMRC and DRCD.

math's gold is the last boxed expression of the raw record's solution (B.10, oracles/raw.py);
the other datasets' golds are raw answer columns. The normalisation the wrong replies must
avoid is the spec's (B.4, B.7), reimplemented in oracles/raw.py.
"""

from __future__ import annotations

import re
from typing import Any

from .raw import gold, normalize_reference, nq_normalize_reply, triviaqa_normalize_reply

# --------------------------------------------------------------------------------------
# math: a short derivation ending in a boxed answer written differently from the reference
# where the v2 equivalence accepts the difference (\dfrac for \frac, 12.0 for 12).

_INTEGER = re.compile(r"-?\d+")


def math_variant(reference: str) -> str:
    """The reference as a model might box it: \\dfrac instead of \\frac, `n.0` for an integer."""
    if "\\frac" in reference:
        return reference.replace("\\frac", "\\dfrac")
    if _INTEGER.fullmatch(reference):
        return reference + ".0"
    return reference


def _math_gold(subset: Any, row: dict[str, Any]) -> str:
    return gold("math", subset.abbr, row, "solution")


def _math_right(subset: Any, row: dict[str, Any]) -> str:
    return (
        "Let me work through the problem step by step.\n\n"
        "Setting up the relevant relations and simplifying carefully gives the result.\n\n"
        f"So the final answer is $\\boxed{{{math_variant(_math_gold(subset, row))}}}$."
    )


def math_wrong_answer(reference: str) -> str:
    if _INTEGER.fullmatch(reference):
        return str(int(reference) + 1)
    return reference + "+1"


def _math_wrong(subset: Any, row: dict[str, Any]) -> str:
    return (
        "Let me work through the problem step by step.\n\n"
        f"After simplifying, the answer is $\\boxed{{{math_wrong_answer(_math_gold(subset, row))}}}$."
    )


# --------------------------------------------------------------------------------------
# nq and triviaqa: "The answer is X." with the first gold answer; the wrong reply names an
# answer whose normalised form contains none of the (non-empty) normalised gold answers.
# A gold answer that normalises to "" matches every reply (spec B.7): nothing can be wrong there.

_WRONG_CANDIDATES = ("Atlantis", "Zorro", "1066", "Kalamazoo")


def _open_qa_right(subset: Any, row: dict[str, Any]) -> str:
    return f"The answer is {row['answer'][0]}."


def _open_qa_wrong(normalize_reply):
    def reply(subset: Any, row: dict[str, Any]) -> str:
        golds = [g for g in map(normalize_reference, row["answer"]) if g]
        for candidate in _WRONG_CANDIDATES:
            text = f"The answer is {candidate}."
            if not any(g in normalize_reply(text) for g in golds):
                return text
        raise AssertionError(f"no wrong answer for {row!r}")

    return reply


# --------------------------------------------------------------------------------------
# lambada: the missing word, as a model completing the sentence would write it (without a
# leading quote mark or line breaks carried over from the passage).


def lambada_word(label: str) -> str:
    return label.strip().lstrip("\"'")


def _lambada_right(subset: Any, row: dict[str, Any]) -> str:
    return lambada_word(row["label"])


def _lambada_wrong(subset: Any, row: dict[str, Any]) -> str:
    return "nothing" if lambada_word(row["label"]) == "something" else "something"


# --------------------------------------------------------------------------------------
# Reading comprehension


def _record_right(subset: Any, row: dict[str, Any]) -> str:
    return f"Answer: {row['answers'][0]}"


def _record_wrong(subset: Any, row: dict[str, Any]) -> str:
    return "Answer: The passage does not say"


def _clue_right(subset: Any, row: dict[str, Any]) -> str:
    return f"答案是{row['answers'][0]}。"


def _clue_wrong(subset: Any, row: dict[str, Any]) -> str:
    return "答案是文中没有提到。"


ORACLES = {
    "math": (_math_right, _math_wrong),
    "nq": (_open_qa_right, _open_qa_wrong(nq_normalize_reply)),
    "triviaqa": (_open_qa_right, _open_qa_wrong(triviaqa_normalize_reply)),
    "lambada": (_lambada_right, _lambada_wrong),
    "ReCoRD": (_record_right, _record_wrong),
    "CMRC": (_clue_right, _clue_wrong),
    "DRCD": (_clue_right, _clue_wrong),
}
