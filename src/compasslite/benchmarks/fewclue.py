"""FewCLUE choice/classification sets: cluewsc, csl, eprstmt, chid, bustm, ocnli_fc, tnews
(spec C.9, C.14, C.20, C.25, C.28, C.35, C.37).

Each has a `-dev` (dev_few_all.json) and a `-test` (test_public.json; labelled in the
OpenCompassData release) sub-dataset, reported separately. All are 0-shot, single HUMAN
turn, first-capital extraction (B.2) and accuracy (B.5).
"""

from __future__ import annotations

from typing import Any

from ..benchmark import Benchmark, register
from .clue import BINARY_LABELS, choice_subset, jsonl_loader, map_label, ocnli_row

DEV, TEST = "dev_few_all.json", "test_public.json"


def _two(
    name: str,
    abbrs: tuple[str, str],
    version: str,
    folder: str,
    build,
    layout: str,
    template: str,
    description: str,
    output_column: str = "label",
) -> Benchmark:
    subsets = []
    for abbr, filename in zip(abbrs, (DEV, TEST), strict=True):
        relpath = f"FewCLUE/{folder}/{filename}"
        load = jsonl_loader(relpath, name, build, layout)
        subsets.append(choice_subset(abbr, version, relpath, load, template, output_column))
    return Benchmark(name=name, subsets=tuple(subsets), description=description)


# --- cluewsc --------------------------------------------------------------------------------

# OpenCompassData holds the strings "true"/"false"; JSON booleans are accepted too (spec D).
WSC_LABELS: dict[Any, str] = {"true": "A", "false": "B", True: "A", False: "B"}


def _cluewsc_row(obj: dict[str, Any]) -> dict[str, Any]:
    target = obj["target"]
    return {
        "span1": target["span1_text"],
        "span2": target["span2_text"],
        "text": obj["text"],
        "label": map_label(obj["label"], WSC_LABELS),
    }


CLUEWSC_TEMPLATE = "{text}\n此处，“{span2}”是否指代“{span1}“？\nA. 是\nB. 否\n请从”A“，”B“中进行选择。\n答："

# --- csl ------------------------------------------------------------------------------------


def _csl_row(obj: dict[str, Any]) -> dict[str, Any]:
    keywords = obj["keyword"]
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise ValueError("`keyword` must be a list of strings")
    return {
        "abst": obj["abst"],
        "keywords": "，".join(keywords),
        "label": map_label(obj["label"], BINARY_LABELS),
    }


CSL_TEMPLATE = (
    "摘要是对论文内容不加注释和评论的简短陈述，要求扼要地说明研究工作的目的、研究方法和最终结论等。"
    "\n关键词是一篇学术论文的核心词汇，一般由一系列名词组成。关键词在全文中应有较高出现频率，且能起到帮助文献检索的作用。"
    "\n摘要：{abst}\n关键词：{keywords}\n请问上述关键词是否匹配摘要且符合要求？\nA. 否\nB. 是"
    "\n请从”A“，”B“中进行选择。\n答："
)

# --- eprstmt --------------------------------------------------------------------------------

SENTIMENT_LABELS = {"Positive": "A", "Negative": "B"}


def _eprstmt_row(obj: dict[str, Any]) -> dict[str, Any]:
    return {"sentence": obj["sentence"], "label": map_label(obj["label"], SENTIMENT_LABELS)}


EPRSTMT_TEMPLATE = (
    '内容： "{sentence}"。请对上述内容进行情绪分类。\nA. 积极\nB. 消极\n请从”A“，”B“中进行选择。\n答：'
)

# --- chid -----------------------------------------------------------------------------------

CHID_LETTERS = "ABCDEFG"


def _chid_row(obj: dict[str, Any]) -> dict[str, Any]:
    candidates = obj["candidates"]
    if not isinstance(candidates, list) or len(candidates) != len(CHID_LETTERS):
        raise ValueError(f"`candidates` must be a list of {len(CHID_LETTERS)} idioms")
    answer = obj["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(CHID_LETTERS):
        raise ValueError(f"`answer` must be an index 0-{len(CHID_LETTERS) - 1}, found {answer!r}")
    row: dict[str, Any] = {"content": obj["content"].replace("#idiom#", "______")}
    row.update(zip(CHID_LETTERS, candidates, strict=True))
    row["answer"] = CHID_LETTERS[answer]
    return row


CHID_TEMPLATE = (
    "{content}\n请选择______处所填的词\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nE. {E}\nF. {F}\nG. {G}"
    "\n请从”A“，”B“，”C“，”D“，”E“，”F“，”G“中进行选择。答："
)

# --- bustm ----------------------------------------------------------------------------------


def _bustm_row(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": obj["id"],
        "sentence1": obj["sentence1"],
        "sentence2": obj["sentence2"],
        "label": map_label(obj["label"], BINARY_LABELS),
    }


BUSTM_TEMPLATE = (
    "语句一：“{sentence1}”\n语句二：“{sentence2}”\n请判断语句一和语句二说的是否是一个意思？"
    "\nA. 无关\nB. 相关\n请从“A”，“B”中进行选择。\n答："
)

# --- ocnli_fc (rows as in CLUE's ocnli; the folder is FewCLUE/ocnli) ---------------------------

OCNLI_FC_TEMPLATE = (
    "阅读文章：{sentence1}\n根据上文，回答如下问题：{sentence2}\nA. 对\nB. 错\nC. 可能"
    "\n请从“A”，“B”，“C”中进行选择。\n答："
)

# --- tnews ----------------------------------------------------------------------------------

# label_desc -> (letter, the option text shown in the prompt)
TNEWS_CLASSES: dict[str, tuple[str, str]] = {
    "news_agriculture": ("A", "农业新闻"),
    "news_travel": ("B", "旅游新闻"),
    "news_game": ("C", "游戏新闻"),
    "news_tech": ("D", "科技类别公司新闻"),
    "news_sports": ("E", "体育类别新闻"),
    "news_edu": ("F", "初升高教育新闻"),
    "news_entertainment": ("G", "娱乐圈新闻"),
    "news_finance": ("H", "投资资讯"),
    "news_military": ("I", "军事类别常识"),
    "news_car": ("J", "车辆新闻"),
    "news_house": ("K", "楼市新闻"),
    "news_world": ("L", "环球不含中国类别新闻"),
    "news_culture": ("M", "书籍文化历史类别新闻"),
    "news_story": ("N", "故事类别新闻"),
    "news_stock": ("O", "股票市场类别新闻"),
}
TNEWS_LABELS = {desc: letter for desc, (letter, _) in TNEWS_CLASSES.items()}


def _tnews_row(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "sentence": obj["sentence"],
        "label_desc2": map_label(obj["label_desc"], TNEWS_LABELS, "label_desc"),
    }


TNEWS_TEMPLATE = (
    "{sentence}\n请判断上述内容属于什么新闻？\n"
    + "".join(f"{letter}. {text}\n" for letter, text in TNEWS_CLASSES.values())
    + "请从"
    + "，".join(f"“{letter}”" for letter, _ in TNEWS_CLASSES.values())
    + "中进行选择。\n答："
)


register(
    _two(
        "cluewsc",
        ("cluewsc-dev", "cluewsc-test"),
        "5ab83b",
        "cluewsc",
        _cluewsc_row,
        "CLUEWSC JSON-lines",
        CLUEWSC_TEMPLATE,
        "CLUEWSC (FewCLUE dev and public test), 0-shot",
    )
)
register(
    _two(
        "csl",
        ("csl_dev", "csl_test"),
        "25149e",
        "csl",
        _csl_row,
        "CSL JSON-lines",
        CSL_TEMPLATE,
        "CSL keyword recognition (FewCLUE dev and public test), 0-shot",
    )
)
register(
    _two(
        "eprstmt",
        ("eprstmt-dev", "eprstmt-test"),
        "9710da",
        "eprstmt",
        _eprstmt_row,
        "EPRSTMT JSON-lines",
        EPRSTMT_TEMPLATE,
        "EPRSTMT sentiment (FewCLUE dev and public test), 0-shot",
    )
)
register(
    _two(
        "chid",
        ("chid-dev", "chid-test"),
        "211ee7",
        "chid",
        _chid_row,
        "ChID JSON-lines",
        CHID_TEMPLATE,
        "ChID idiom cloze (FewCLUE dev and public test), 0-shot",
        output_column="answer",
    )
)
register(
    _two(
        "bustm",
        ("bustm-dev", "bustm-test"),
        "5cc669",
        "bustm",
        _bustm_row,
        "BUSTM JSON-lines",
        BUSTM_TEMPLATE,
        "BUSTM short-text matching (FewCLUE dev and public test), 0-shot",
    )
)
register(
    _two(
        "ocnli_fc",
        ("ocnli_fc-dev", "ocnli_fc-test"),
        "51e956",
        "ocnli",
        ocnli_row,
        "OCNLI JSON-lines",
        OCNLI_FC_TEMPLATE,
        "OCNLI (FewCLUE dev and public test, rows with a gold label), 0-shot",
    )
)
register(
    _two(
        "tnews",
        ("tnews-dev", "tnews-test"),
        "958876",
        "tnews",
        _tnews_row,
        "TNEWS JSON-lines",
        TNEWS_TEMPLATE,
        "TNEWS news classification (FewCLUE dev and public test), 0-shot",
        output_column="label_desc2",
    )
)
