"""GaokaoBench: GAOKAO-Bench, 32 subsets, 0-shot, config GaokaoBench_gen_5cfe9e (spec C.44, B.17).

Each subset's prompt is an instruction prefix followed directly by `{question}`. There is no
extractor: the scorer reads the raw reply according to the subset's question type. The 14
Multiple-choice subsets are scored; the 18 cloze, subjective and correction subsets are
generated but always score 0, as OpenCompass reports them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Group, Subset, register
from ..data import iter_json_records, missing_fields, require
from ..errors import DataError
from ..types import Score, Turn

MCQ_DIR = "Multiple-choice_Questions"
BLANK_DIR = "Fill-in-the-blank_Questions"
OPEN_DIR = "Open-ended_Questions"

SCORED_TYPES = ("single_choice", "multi_choice", "multi_question_choice", "five_out_of_seven")


def _single(subject: str) -> str:
    return (
        f"请你做一道{subject}选择题\n请你一步一步思考并将思考过程写在【解析】和<eoe>之间。"
        "你将从A，B，C，D中选出正确的答案，并写在【答案】和<eoa>之间。\n例如：【答案】: A <eoa>\n"
        "完整的题目回答的格式如下：\n【解析】 ... <eoe>\n【答案】 ... <eoa>\n请你严格按照上述格式作答。\n题目如下："
    )


def _multi_question(what: str) -> str:
    return (
        f"请你做一道{what}\n请你一步一步思考。每一题你将从A，B，C，D中选出正确的答案，并写在【答案】和<eoa>之间。\n"
        "例如：（1）【答案】 A <eoa>\n（2）【答案】 B <eoa>\n请你严格按照上述格式作答。\n"
    )


_PHYSICS_MCQ = (
    "请你做一道物理选择题。\n请你一步一步思考并将思考过程写在【解析】和<eoe>之间。"
    "你将从A，B，C，D中选出所有符合题意的答案，并写在【答案】和<eoa>之间。\n例如：【答案】 AB <eoa>\n"
    "完整的题目回答的格式如下：\n【解析】 ... <eoe>\n【答案】... <eoa>\n请你严格按照上述格式作答。\n"
)
_ENGLISH_CLOZE_TEST = (
    "请回答下面的问题，将符合题意的五个选项的字母写在【答案】和<eoa>之间，例如“【答案】 A B C D E <eoa>\n"
    "请严格按照上述格式作答。\n"
)
_CHINESE_LANG_USAGE = (
    "请你做一道语文选择题\n请你一步一步思考并将思考过程写在【解析】和<eoe>之间。"
    "你将从A，B，C，D中选出正确的答案，并写在【答案】和<eoa>之间。\n例如：【答案】: A <eoa>\n"
    "完整的题目回答的格式如下：\n（1）【解析】 ... <eoe>\n【答案】 ... <eoa>\n（2）【解析】 ... <eoe>\n"
    "【答案】 ... <eoa>\n请你严格按照上述格式作答。如果不止一道题，请分别作答\n题目如下："
)
_MATH_BLANK = (
    "请解答下面的数学填空题\n仔细阅读题目，解答其中的问题，请你一步步思考并将思考过程写在【解析】和<eoe>之间。"
    "请把你的答案写在【答案】和<eoa>之间。\n完整的题目回答格式如下：\n【解析】 ...<eoe>\n【答案】...<eoa>\n"
    "请你严格按照上述格式作答。\n题目如下:"
)
_TWO_PARTS_FULLWIDTH = (
    "\n完整的题目回答格式如下：\n（1）【解析】 ...<eoe>\n【答案】...<eoa>\n（2）【解析】 ...<eoe>\n【答案】...<eoa>\n"
    "请严格按照上述格式作答，如果不止一道题，请分别作答。\n题目如下:"
)
_DICTATION = (
    "请回答下面的语文填空题\n请你仔细阅读题目，先找到题目对应的中国名篇，再从名篇中找到合适的句子填写到题目的空白处。"
    "请你将思考过程写在【解析】和<eoe>之间，将最终答案写在【答案】和<eoa>之间。" + _TWO_PARTS_FULLWIDTH
)
_ENGLISH_CLOZE_PASSAGE = (
    "请回答下面的英语短文填词题\n仔细阅读题目，空白处请填入一个适当单词或者括号内单词的正确形式。"
    "请你一步步思考，将思考过程写在【解析】和<eoe>之间，将最终答案写在【答案】和<eoa>之间。"
    + _TWO_PARTS_FULLWIDTH
)


def _open(head: str, answer_note: str, colon: str = ":") -> str:
    """The common shape of the open-ended prompts (ASCII-parenthesised two-part format)."""
    return (
        f"{head}请你一步步思考并将思考过程写在【解析】和<eoe>之间。{answer_note}\n"
        "完整的题目回答格式如下：\n(1)【解析】 ...<eoe>\n【答案】...<eoa>\n (2)【解析】 ...<eoe>\n【答案】...<eoa>\n"
        f"请你严格按照上述格式作答，如果不止一道题，请分别作答。\n题目如下{colon}"
    )


_READ_WITH_KNOWLEDGE = "仔细阅读题目并充分结合你已有的知识，解答其中的问题，"
_MATERIAL_WITH_KNOWLEDGE = "仔细阅读材料和题目，并充分结合你已有的知识，解答其中的问题"
_GEOGRAPHY_OPEN = _open(
    "请解答下面的地理解答题\n" + _READ_WITH_KNOWLEDGE, "你的答案请写在【答案】和<eoa>之间", "："
)
_CHEMISTRY_OPEN = _open(
    "请解答下面的化学解答题\n" + _READ_WITH_KNOWLEDGE, "请把你的答案写在【答案】和<eoa>之间"
)
_MATH_OPEN = _open(
    "请解答下面的数学解答题\n" + _READ_WITH_KNOWLEDGE,
    "请把你的答案写在【答案】和<eoa>之间，答案需要有完整的解题步骤。",
)
_HISTORY_OPEN = _open(
    "请解答下面的历史解答题\n" + _MATERIAL_WITH_KNOWLEDGE + "。", "请把你的答案写在【答案】和<eoa>之间"
)
_POLITICS_OPEN = _open(
    "请解答下面的政治解答题\n" + _MATERIAL_WITH_KNOWLEDGE + "，", "请把你的答案写在【答案】和<eoa>之间"
)
_BIOLOGY_OPEN = (
    "请解答下面的生物解答题\n" + _READ_WITH_KNOWLEDGE + "请你一步步思考并将思考过程写在【解析】和<eoe>之间。"
    "请把你的答案写在【答案】和<eoa>之间,同一小题的答案用\t分隔开。\n完整的题目回答格式如下：\n"
    "(1)【解析】 ...<eoe>\n【答案】...\t...<eoa>\n (2)【解析】 ...<eoe>\n【答案】...\t...<eoa>\n"
    "请你严格按照上述格式作答，如果不止一道题，请分别作答。\n题目如下:"
)
_CHOICE_EXAMPLE = "选择题你要从选项中选出符合题意的答案，例如“【答案】A <eoa>”。"
_PHYSICS_OPEN = (
    "请解答下面的物理解答题，仔细阅读题目，注意其中可能含有单选题和多选题。"
    "请你一步步思考并将思考过程写在【解析】和<eoe>之间。请把你的最终答案写在【答案】和<eoa>之间。"
    + _CHOICE_EXAMPLE
    + "\n完整的题目回答格式如下：（1）【解析】 ...<eoe>\n【答案】 ...<eoa>\n (2)【解析】 ...<eoe>\n【答案】...<eoa>\n"
    "请你严格按照上述格式作答。如果不止一道题，请分别作答。\n题目如下:"
)
_ERROR_CORRECTION = (
    "请解答下面的英语短文改错题，仔细阅读题目并充分结合你你已有的知识，找出其中10处需要改动的地方。"
    "请你一步步思考，把修改后的短文写在【答案】和<eoa>之间。\n完整的题目回答格式如下：【答案】 ...<eoa>\n"
    " 请你严格按照上述格式作答。\n题目如下:"
)


def _chinese_reading(what: str, first_bracket: str, comma: str = "，") -> str:
    return (
        f"请解答下面的语文{what}，仔细阅读题目，注意其中可能含有单选题和多选题。"
        "请你一步步思考并将最终答案写在【答案】和<eoa>之间。" + _CHOICE_EXAMPLE + "\n"
        f"完整的题目回答格式如下：（1）{first_bracket}答案】 ...<eoa>\n (2)【答案】...<eoa>\n"
        f"请你严格按照上述格式作答{comma}如果不止一道题，请分别作答。\n题目如下:"
    )


_CLASSICAL_CHINESE = (
    "请解答下面的语文文言文阅读，仔细阅读题目，前三题是单选题，最后一题要将文言文翻译为现代汉语。"
    "请你一步步思考并把最终答案写在【答案】和<eoa>之间。"
    + _CHOICE_EXAMPLE
    + "翻译题把翻译后的现代汉语句子写在"
    "【答案】后面，例如”【答案】今天天气很好 <eoa>”\n完整的题目回答格式如下：（1）[答案】 ...<eoa>\n"
    " (2)【答案】...<eoa>\n请你严格按照上述格式作答，如果不止一道题，请分别作答。\n题目如下:"
)
_WRITING_SKILLS = (
    "请解答下面的语文解答题，仔细阅读题目，注意其中可能含有选择题。请你一步步思考并将思考过程写在【解析】和<eoe>之间。"
    "请把你的最终答案写在【答案】和<eoa>之间。"
    + _CHOICE_EXAMPLE
    + "\n完整的题目回答格式如下：（1）【解析】 ...<eoe>\n"
    "【答案】 ...<eoa>\n (2)【解析】 ...<eoe>\n【答案】...<eoa>\n请你严格按照上述格式作答。如果不止一道题，请分别作答。\n"
    "题目如下:"
)

# (keyword, folder, question type, OpenCompass version, prompt prefix) in config order.
SUBSETS: tuple[tuple[str, str, str, str, str], ...] = (
    ("2010-2022_Math_II_MCQs", MCQ_DIR, "single_choice", "5b0b29", _single("数学")),
    ("2010-2022_Math_I_MCQs", MCQ_DIR, "single_choice", "5b0b29", _single("数学")),
    ("2010-2022_History_MCQs", MCQ_DIR, "single_choice", "3613b5", _single("历史")),
    ("2010-2022_Biology_MCQs", MCQ_DIR, "single_choice", "d26e80", _single("生物")),
    ("2010-2022_Political_Science_MCQs", MCQ_DIR, "single_choice", "70fce9", _single("政治")),
    ("2010-2022_Physics_MCQs", MCQ_DIR, "multi_choice", "8a0c30", _PHYSICS_MCQ),
    ("2010-2022_Chemistry_MCQs", MCQ_DIR, "single_choice", "852bbd", _single("化学")),
    ("2010-2013_English_MCQs", MCQ_DIR, "single_choice", "01b50f", _single("英语")),
    (
        "2010-2022_Chinese_Modern_Lit",
        MCQ_DIR,
        "multi_question_choice",
        "e19c31",
        _multi_question("语文阅读理解题，其中包含三个小题。"),
    ),
    (
        "2010-2022_English_Fill_in_Blanks",
        MCQ_DIR,
        "multi_question_choice",
        "924021",
        _multi_question("英语完形填空题,其中包含二十个小题。"),
    ),
    ("2012-2022_English_Cloze_Test", MCQ_DIR, "five_out_of_seven", "11f6ce", _ENGLISH_CLOZE_TEST),
    (
        "2010-2022_Geography_MCQs",
        MCQ_DIR,
        "multi_question_choice",
        "862192",
        _multi_question("地理选择题，其中包含两到三个小题。"),
    ),
    (
        "2010-2022_English_Reading_Comp",
        MCQ_DIR,
        "multi_question_choice",
        "ffdef4",
        _multi_question("英语阅读理解题，其中包含三到五个小题。"),
    ),
    (
        "2010-2022_Chinese_Lang_and_Usage_MCQs",
        MCQ_DIR,
        "multi_question_choice",
        "ba10b2",
        _CHINESE_LANG_USAGE,
    ),
    ("2010-2022_Math_I_Fill-in-the-Blank", BLANK_DIR, "cloze", "9dd6c7", _MATH_BLANK),
    ("2010-2022_Math_II_Fill-in-the-Blank", BLANK_DIR, "cloze", "9dd6c7", _MATH_BLANK),
    (
        "2010-2022_Chinese_Language_Famous_Passages_and_Sentences_Dictation",
        BLANK_DIR,
        "cloze",
        "58053d",
        _DICTATION,
    ),
    ("2014-2022_English_Language_Cloze_Passage", BLANK_DIR, "cloze", "d431f7", _ENGLISH_CLOZE_PASSAGE),
    ("2010-2022_Geography_Open-ended_Questions", OPEN_DIR, "subjective", "475d13", _GEOGRAPHY_OPEN),
    ("2010-2022_Chemistry_Open-ended_Questions", OPEN_DIR, "subjective", "0bccc3", _CHEMISTRY_OPEN),
    ("2010-2022_Math_I_Open-ended_Questions", OPEN_DIR, "subjective", "8a0cf5", _MATH_OPEN),
    ("2010-2022_History_Open-ended_Questions", OPEN_DIR, "subjective", "9fbad8", _HISTORY_OPEN),
    ("2010-2022_Biology_Open-ended_Questions", OPEN_DIR, "subjective", "e0cb29", _BIOLOGY_OPEN),
    ("2010-2022_Math_II_Open-ended_Questions", OPEN_DIR, "subjective", "8a0cf5", _MATH_OPEN),
    ("2010-2022_Physics_Open-ended_Questions", OPEN_DIR, "subjective", "423d19", _PHYSICS_OPEN),
    (
        "2010-2022_Political_Science_Open-ended_Questions",
        OPEN_DIR,
        "subjective",
        "0eee0a",
        _POLITICS_OPEN,
    ),
    (
        "2012-2022_English_Language_Error_Correction",
        OPEN_DIR,
        "correction",
        "6a3cae",
        _ERROR_CORRECTION,
    ),
    (
        "2010-2022_Chinese_Language_Ancient_Poetry_Reading",
        OPEN_DIR,
        "subjective",
        "ee6cc7",
        _chinese_reading("古代诗歌阅读题", "【"),
    ),
    (
        "2010-2022_Chinese_Language_Practical_Text_Reading",
        OPEN_DIR,
        "subjective",
        "4dea5a",
        _chinese_reading("实用类文本阅读", "["),
    ),
    (
        "2010-2022_Chinese_Language_Literary_Text_Reading",
        OPEN_DIR,
        "subjective",
        "979d8b",
        _chinese_reading("文学类文本阅读", "[", ","),
    ),
    (
        "2010-2022_Chinese_Language_Classical_Chinese_Reading",
        OPEN_DIR,
        "subjective",
        "9de717",
        _CLASSICAL_CHINESE,
    ),
    (
        "2010-2022_Chinese_Language_Language_and_Writing_Skills_Open-ended_Questions",
        OPEN_DIR,
        "subjective",
        "d2ed84",
        _WRITING_SKILLS,
    ),
)

# A.12: the GaokaoBench group, weighted by each Multiple-choice subset's total exam points.
GROUP_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("2010-2022_Math_II_MCQs", 1090),
    ("2010-2022_Math_I_MCQs", 1070),
    ("2010-2022_History_MCQs", 1148),
    ("2010-2022_Biology_MCQs", 900),
    ("2010-2022_Political_Science_MCQs", 1280),
    ("2010-2022_Physics_MCQs", 384),
    ("2010-2022_Chemistry_MCQs", 744),
    ("2010-2013_English_MCQs", 105),
    ("2010-2022_Chinese_Modern_Lit", 261),
    ("2010-2022_English_Fill_in_Blanks", 900),
    ("2012-2022_English_Cloze_Test", 260),
    ("2010-2022_Geography_MCQs", 380),
    ("2010-2022_English_Reading_Comp", 940),
    ("2010-2022_Chinese_Lang_and_Usage_MCQs", 240),
)

COLUMNS = ("year", "category", "question", "answer", "analysis", "index", "score")


def abbr(keyword: str) -> str:
    return f"GaokaoBench_{keyword}"


def data_file(keyword: str, folder: str) -> str:
    return f"GAOKAO-BENCH/data/{folder}/{keyword}.json"


# ---------------------------------------------------------------------------------------------
# Loading


def _loader(relpath: str, choice: bool):
    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, relpath, "GaokaoBench")
        rows = []
        for where, obj in iter_json_records(path, "example"):
            missing_fields(path, where, obj, COLUMNS)
            answer = obj["answer"]
            if choice and not (
                isinstance(answer, list) and answer and all(isinstance(a, str) for a in answer)
            ):
                raise DataError(f"{path}:{where}: answer must be a non-empty list of letter strings")
            rows.append({c: obj[c] for c in COLUMNS})
        return rows

    return load


# ---------------------------------------------------------------------------------------------
# B.17 scoring

_A_TO_D = re.compile(r"[A-D]")
_A_TO_G = re.compile(r"[A-G]")
_CAPITAL = re.compile(r"[A-Z]")
_MARKED = re.compile(r"【答案】\s*[:：]*\s*[A-Z]")
_SPACE = re.compile(r"\s+")


def parse_reply(reply: str, question_type: str, n_answers: int) -> list[str]:
    """The answer list B.17 reads from a raw reply (before the length check)."""
    if question_type == "single_choice":
        found = _A_TO_D.findall(reply[::-1])
        return found[:1]
    if question_type == "multi_question_choice":
        marked = _MARKED.findall(reply)
        if len(marked) == n_answers:
            return [_CAPITAL.findall(m)[0] for m in marked]
        return _CAPITAL.findall(reply)[:n_answers]
    if question_type == "multi_choice":
        content = _SPACE.sub("", reply)
        at = content.find("【答案】")
        tail = content[at:] if at > 0 else content[-10:]
        letters = "".join(_A_TO_D.findall(tail))
        return [letters] if letters else []
    if question_type == "five_out_of_seven":
        return _A_TO_G.findall(reply)[:5]
    raise ValueError(f"question type {question_type!r} is not scored")


def _same_length(pred: list[str], ref: list[str]) -> list[str]:
    return pred if len(pred) == len(ref) else ["Z"] * len(ref)


def _points(question_type: str, pred: list[str], ref: list[str]) -> tuple[int, int]:
    """(points earned, points possible) for one question."""
    if question_type == "multi_choice":
        earned = 0
        for p, r in zip(pred, ref, strict=False):
            if p == r:
                earned += 2
            elif all(ch in r for ch in p):
                earned += 1
        return earned, 2 * len(ref)
    return sum(p == r for p, r in zip(pred, ref, strict=False)), len(ref)


def make_scorer(question_type: str):
    def score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
        if question_type not in SCORED_TYPES:
            # OpenCompass returns {"score": 0} without reading the replies.
            return Score({"score": 0}, [{"correct": False, "scored": False} for _ in answers])
        earned = possible = 0
        details = []
        for reply, ref in zip(answers, references, strict=True):
            ref = list(ref)
            pred = _same_length(parse_reply(reply, question_type, len(ref)), ref)
            got, out_of = _points(question_type, pred, ref)
            earned += got
            possible += out_of
            details.append(
                {"correct": got == out_of, "pred": pred, "answer": ref, "points": got, "possible": out_of}
            )
        return Score({"score": 100.0 * earned / possible if possible else 0.0}, details)

    return score


def _subset(keyword: str, folder: str, question_type: str, version: str, prefix: str) -> Subset:
    relpath = data_file(keyword, folder)
    return Subset(
        abbr=abbr(keyword),
        version=version,
        files=(relpath,),
        load=_loader(relpath, choice=folder == MCQ_DIR),
        template=(Turn.human(prefix + "{question}"),),
        output_column="answer",
        score=make_scorer(question_type),
        metrics=("score",),
        max_out_len=1024,
    )


QUESTION_TYPES: dict[str, str] = {abbr(keyword): qtype for keyword, _, qtype, _, _ in SUBSETS}

register(
    Benchmark(
        name="GaokaoBench",
        description="GAOKAO-Bench, 32 subsets (14 multiple-choice scored), 0-shot",
        subsets=tuple(_subset(*spec) for spec in SUBSETS),
        groups=(
            Group(
                "GaokaoBench",
                tuple(abbr(k) for k, _ in GROUP_WEIGHTS),
                tuple(float(w) for _, w in GROUP_WEIGHTS),
            ),
        ),
    )
)
