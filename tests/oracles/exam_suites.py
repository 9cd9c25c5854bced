"""Oracles for bbh, agieval, GaokaoBench and strategyqa.

Replies are written the way a chat model answers these prompts: some reasoning first, then
the answer in the form the prompt asks for ("So the answer is (B).", "答案是 C",
"【答案】 D <eoa>", "$\\boxed{…}$").
"""

from __future__ import annotations

from typing import Any

from compasslite.benchmarks.agieval import KINDS as AGIEVAL_KINDS
from compasslite.benchmarks.bbh import mcq_postprocess
from compasslite.benchmarks.gaokao import QUESTION_TYPES as GAOKAO_TYPES

# ---------------------------------------------------------------------------------------------
# bbh

_BBH_FLIP = {
    "True": "False",
    "False": "True",
    "Yes": "No",
    "No": "Yes",
    "yes": "no",
    "no": "yes",
    "valid": "invalid",
    "invalid": "valid",
}


def _is_mcq(subset: Any) -> bool:
    return subset.reference is not None  # multiple-choice tasks post-process their references


def _bbh_right(subset: Any, row: dict[str, Any]) -> str:
    target = row["target"]
    steps = "Let's think step by step.\nI go through the question carefully and check every part of it."
    if _is_mcq(subset) and not target.startswith("("):
        # A few multiple-choice rows have a bare text target (e.g. "dearth, wind, & fire"):
        # OpenCompass compares the reply's text verbatim, so no closing full stop here.
        return f"{steps} So the answer is {target}"
    return f"{steps} So the answer is {target}."


def _bbh_wrong_freeform(target: str) -> str:
    if target in _BBH_FLIP:
        return _BBH_FLIP[target]
    try:
        return str(int(target) + 1)
    except ValueError:
        pass
    words = target.split(" ")
    reversed_words = " ".join(reversed(words))
    return reversed_words if reversed_words != target else target + " ]"


def _bbh_wrong(subset: Any, row: dict[str, Any]) -> str:
    target = row["target"]
    if _is_mcq(subset):
        gold = mcq_postprocess(target)
        wrong = f"({'B' if gold == 'A' else 'A'})"
    else:
        wrong = _bbh_wrong_freeform(target)
    return f"Let's think step by step.\nThis one looks easy. So the answer is {wrong}."


# ---------------------------------------------------------------------------------------------
# agieval


def _agieval_right(subset: Any, row: dict[str, Any]) -> str:
    kind = AGIEVAL_KINDS[subset.abbr]
    label = row["label"]
    if kind == "cloze":
        return "Let me work it out step by step.\nThe answer is therefore $\\boxed{" + str(label) + "}$."
    if kind == "multi":
        if not label:
            # The one jec-qa-kd row without a label (reference None) cannot be answered right.
            return "这道题没有给出标准答案，我选A。"
        return f"正确答案是{label}。"
    if subset.abbr.startswith(("agieval-gaokao", "agieval-logiqa-zh")):
        return f"逐项分析各选项后可以确定，答案是 {label}"
    return f"Let's check each option against the passage.\nThe answer is ({label})."


def _agieval_wrong(subset: Any, row: dict[str, Any]) -> str:
    kind = AGIEVAL_KINDS[subset.abbr]
    label = row["label"]
    if kind == "cloze":
        return "I am not sure, but my best guess is $\\boxed{-98765.4321}$."
    if kind == "multi":
        return f"正确答案是{'B' if label == 'A' else 'A'}。"
    wrong = next(x for x in "ABCD" if x != label)
    if subset.abbr.startswith(("agieval-gaokao", "agieval-logiqa-zh")):
        return f"答案是 {wrong}"
    return f"The answer is ({wrong})."


# ---------------------------------------------------------------------------------------------
# GaokaoBench


def _gaokao_reply(subset: Any, answer: Any) -> str:
    qtype = GAOKAO_TYPES[subset.abbr]
    if qtype in ("single_choice", "multi_choice"):
        return f"【解析】 逐项分析各选项，排除错误的说法。 <eoe>\n【答案】 {answer[0]} <eoa>"
    if qtype == "multi_question_choice":
        return "\n".join(f"（{i}）【答案】 {letter} <eoa>" for i, letter in enumerate(answer, start=1))
    if qtype == "five_out_of_seven":
        return f"【答案】 {' '.join(answer)} <eoa>"
    return f"【解析】 根据题意逐步推导。 <eoe>\n【答案】{answer}<eoa>"


def _gaokao_right(subset: Any, row: dict[str, Any]) -> str:
    return _gaokao_reply(subset, row["answer"])


def _other_letter(letter: str, letters: str = "ABCD") -> str:
    return next(x for x in letters if x != letter)


def _gaokao_wrong(subset: Any, row: dict[str, Any]) -> str:
    qtype = GAOKAO_TYPES[subset.abbr]
    answer = row["answer"]
    if qtype == "single_choice":
        return _gaokao_reply(subset, [_other_letter(answer[0])])
    if qtype == "multi_choice":
        # A letter outside the reference earns no partial credit either.
        outside = [x for x in "ABCD" if x not in answer[0]]
        return _gaokao_reply(subset, [outside[0] if outside else "无"])
    if qtype == "multi_question_choice":
        return _gaokao_reply(subset, [_other_letter(a) for a in answer])
    if qtype == "five_out_of_seven":
        return _gaokao_reply(subset, [_other_letter(a, "ABCDEFG") for a in answer])
    return "【解析】 这道题我不会。 <eoe>\n【答案】 不知道 <eoa>"


# ---------------------------------------------------------------------------------------------
# strategyqa


def _strategyqa_right(subset: Any, row: dict[str, Any]) -> str:
    word = "yes" if row["answer"] is True else "no"
    return f"Let me reason about the facts involved step by step.\nSo the answer is {word}."


def _strategyqa_wrong(subset: Any, row: dict[str, Any]) -> str:
    word = "no" if row["answer"] is True else "yes"
    return f"Thinking about it briefly.\nSo the answer is {word}."


ORACLES = {
    "bbh": (_bbh_right, _bbh_wrong),
    "agieval": (_agieval_right, _agieval_wrong),
    "GaokaoBench": (_gaokao_right, _gaokao_wrong),
    "strategyqa": (_strategyqa_right, _strategyqa_wrong),
}
