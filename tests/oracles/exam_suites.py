"""Oracles for bbh, agieval, GaokaoBench and strategyqa.

Replies are written the way a chat model answers these prompts: some reasoning first, then
the answer in the form the prompt asks for ("So the answer is (B).", "答案是 C",
"【答案】 D <eoa>", "$\\boxed{…}$").
"""

from __future__ import annotations

import re
from typing import Any

from . import raw

# ---------------------------------------------------------------------------------------------
# Tables from the spec (C.16, C.34, C.44), written out here rather than taken from the product

# bbh: the 10 free-form tasks; the other 17 are multiple-choice (C.16)
BBH_FREEFORM = frozenset(
    f"bbh-{task}"
    for task in (
        "multistep_arithmetic_two",
        "navigate",
        "dyck_languages",
        "word_sorting",
        "sports_understanding",
        "boolean_expressions",
        "object_counting",
        "formal_fallacies",
        "causal_judgement",
        "web_of_lies",
    )
)

# agieval: subset types (C.34); every other subset is single-choice
_AGIEVAL_MULTI = frozenset({"agieval-gaokao-physics", "agieval-jec-qa-kd", "agieval-jec-qa-ca"})
_AGIEVAL_CLOZE = frozenset({"agieval-gaokao-mathcloze", "agieval-math"})
AGIEVAL_ABBRS = tuple(
    f"agieval-{n}"
    for n in (
        "gaokao-chinese gaokao-english gaokao-geography gaokao-history gaokao-biology gaokao-chemistry "
        "gaokao-mathqa logiqa-zh lsat-ar lsat-lr lsat-rc logiqa-en sat-math sat-en sat-en-without-passage "
        "aqua-rat gaokao-physics jec-qa-kd jec-qa-ca gaokao-mathcloze math"
    ).split()
)


def agieval_kind(abbr: str) -> str:
    assert abbr in AGIEVAL_ABBRS, abbr
    return "multi" if abbr in _AGIEVAL_MULTI else "cloze" if abbr in _AGIEVAL_CLOZE else "single"


# GaokaoBench: question type per subset (C.44); only the first 14 are scored (B.17)
GAOKAO_TYPES: dict[str, str] = {
    f"GaokaoBench_{k}": v
    for k, v in {
        "2010-2022_Math_II_MCQs": "single_choice",
        "2010-2022_Math_I_MCQs": "single_choice",
        "2010-2022_History_MCQs": "single_choice",
        "2010-2022_Biology_MCQs": "single_choice",
        "2010-2022_Political_Science_MCQs": "single_choice",
        "2010-2022_Physics_MCQs": "multi_choice",
        "2010-2022_Chemistry_MCQs": "single_choice",
        "2010-2013_English_MCQs": "single_choice",
        "2010-2022_Chinese_Modern_Lit": "multi_question_choice",
        "2010-2022_English_Fill_in_Blanks": "multi_question_choice",
        "2012-2022_English_Cloze_Test": "five_out_of_seven",
        "2010-2022_Geography_MCQs": "multi_question_choice",
        "2010-2022_English_Reading_Comp": "multi_question_choice",
        "2010-2022_Chinese_Lang_and_Usage_MCQs": "multi_question_choice",
        "2010-2022_Math_I_Fill-in-the-Blank": "cloze",
        "2010-2022_Math_II_Fill-in-the-Blank": "cloze",
        "2010-2022_Chinese_Language_Famous_Passages_and_Sentences_Dictation": "cloze",
        "2014-2022_English_Language_Cloze_Passage": "cloze",
        "2010-2022_Geography_Open-ended_Questions": "subjective",
        "2010-2022_Chemistry_Open-ended_Questions": "subjective",
        "2010-2022_Math_I_Open-ended_Questions": "subjective",
        "2010-2022_History_Open-ended_Questions": "subjective",
        "2010-2022_Biology_Open-ended_Questions": "subjective",
        "2010-2022_Math_II_Open-ended_Questions": "subjective",
        "2010-2022_Physics_Open-ended_Questions": "subjective",
        "2010-2022_Political_Science_Open-ended_Questions": "subjective",
        "2012-2022_English_Language_Error_Correction": "correction",
        "2010-2022_Chinese_Language_Ancient_Poetry_Reading": "subjective",
        "2010-2022_Chinese_Language_Practical_Text_Reading": "subjective",
        "2010-2022_Chinese_Language_Literary_Text_Reading": "subjective",
        "2010-2022_Chinese_Language_Classical_Chinese_Reading": "subjective",
        "2010-2022_Chinese_Language_Language_and_Writing_Skills_Open-ended_Questions": "subjective",
    }.items()
}
GAOKAO_SCORED = frozenset({"single_choice", "multi_choice", "multi_question_choice", "five_out_of_seven"})


def bbh_mcq_postprocess(text: str) -> str:
    """B.14 `bbh_mcq_postprocess` (applied to references too): the part after the first
    `answer is ` (up to a second one), then the letter of the first `(X)`, else the first
    capital, else the text unchanged."""
    if "answer is " in text:
        text = text.split("answer is ")[1].strip()
    match = re.search(r"\(([A-Z])\)*", text)
    if match:
        return match.group(1)
    match = re.search(r"[A-Z]", text)
    return match.group(0) if match else text


def agieval_gold(subset: Any, row: dict[str, Any]) -> Any:
    """The raw record's label (C.34: letters joined, or the cloze answer)."""
    return raw.gold("agieval", subset.abbr, row, "label")


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
    return subset.abbr not in BBH_FREEFORM


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
        gold = bbh_mcq_postprocess(target)
        wrong = f"({'B' if gold == 'A' else 'A'})"
    else:
        wrong = _bbh_wrong_freeform(target)
    return f"Let's think step by step.\nThis one looks easy. So the answer is {wrong}."


# ---------------------------------------------------------------------------------------------
# agieval


def _agieval_right(subset: Any, row: dict[str, Any]) -> str:
    kind = agieval_kind(subset.abbr)
    label = agieval_gold(subset, row)
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
    kind = agieval_kind(subset.abbr)
    label = agieval_gold(subset, row)
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


# ---------------------------------------------------------------------------------------------
# Expected scores, computed from the gold labels and the spec's rules alone (not the scorers)

_SINGLE_LETTER = re.compile(r"[ABCDE]")
_A_TO_D_RUN = re.compile(r"[A-D]+")


def agieval_reachable(abbr: str, label: Any) -> bool:
    """Whether any reply at all can be scored right for this agieval reference."""
    kind = agieval_kind(abbr)
    if label is None:
        return False  # compares as the string "None", which no extractor returns
    if kind == "single":
        # B.1 returns one letter: multi-letter labels (gaokao-mathqa has 7) are unreachable.
        return _SINGLE_LETTER.fullmatch(label) is not None
    if kind == "multi":
        # B.3 returns a run of A-D: a label like "ACD。" (jec-qa-ca line 49) is unreachable.
        return _A_TO_D_RUN.fullmatch(label) is not None
    # Cloze: every B.11 path cuts the answer after its last "=", so a reference that still holds
    # an "=" after normalisation (an equation whose left side is longer than 2 characters, or
    # one with several "=") can never be matched.
    if "=" not in label:
        return True
    parts = label.split("=")
    return len(parts) == 2 and len(parts[0]) <= 2


def gaokao_points(abbr: str, row: dict[str, Any]) -> int:
    """Points a question is worth in B.17's pooled score (1 per sub-answer, 2 for Physics)."""
    return len(row["answer"]) * (2 if GAOKAO_TYPES[abbr] == "multi_choice" else 1)


def expected_score(name: str, subset: Any, rows: list[dict[str, Any]], right: list[bool]) -> float:
    """The metric when exactly the rows flagged in `right` got the correct oracle reply (and
    the others the wrong one)."""
    n = len(rows)
    if name == "GaokaoBench":
        if GAOKAO_TYPES[subset.abbr] not in GAOKAO_SCORED:
            return 0  # cloze/subjective/correction: OpenCompass reports 0 whatever the replies
        total = sum(gaokao_points(subset.abbr, r) for r in rows)
        earned = sum(gaokao_points(subset.abbr, r) for r, ok in zip(rows, right, strict=True) if ok)
        return 100.0 * earned / total
    if name == "agieval":
        good = sum(
            1
            for r, ok in zip(rows, right, strict=True)
            if ok and agieval_reachable(subset.abbr, agieval_gold(subset, r))
        )
        return 100.0 * good / n
    return 100.0 * sum(right) / n


# Maxima of all-correct replies on the real OpenCompassData files where OpenCompass's own
# extraction cannot reach 100 (every other subset reaches 100).
REAL_MAXIMA: dict[str, float] = {
    "agieval-gaokao-mathqa": 100.0 * 344 / 351,  # 7 multi-letter labels vs a one-letter extractor
    "agieval-jec-qa-kd": 99.9,  # line 212 has no label and no answer: reference None
    "agieval-jec-qa-ca": 99.9,  # line 49's label ["A","C","D","。"] joins to "ACD。"
    "agieval-gaokao-mathcloze": 100.0 * 113 / 118,  # 5 equation answers (see agieval_reachable)
    "agieval-math": 99.7,  # 3 equation answers
    **{a: 0 for a, t in GAOKAO_TYPES.items() if t not in GAOKAO_SCORED},  # never scored
}

# Rows (0-based) of the real files whose prompts are byte-identical but whose gold answers
# differ: a harness that maps prompt text -> reply can make only one of each pair right.
SAME_PROMPT_DIFFERENT_GOLD: dict[str, list[tuple[int, int]]] = {
    "bbh-causal_judgement": [(36, 104), (32, 119)],
    "agieval-gaokao-chemistry": [(5, 33)],
    "agieval-sat-en": [(100, 101)],
    "agieval-sat-en-without-passage": [(100, 101)],
}
