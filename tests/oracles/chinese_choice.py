"""Oracles for the Chinese choice/classification sets: cluewsc, ocnli, csl, cmnli, eprstmt,
chid, bustm, afqmc, ocnli_fc, C3, tnews.

Replies are written the way a Chinese chat model answers ("答案是 B", "B. 蕴含", "选项 A 正确",
a short reason and then the letter). All of these datasets use the first-capital extractor
(any uppercase character counts), so every reply below puts the option letter before any
other uppercase character; the option text after it may contain anything.

The gold letter comes from the raw data file and the spec's label tables (oracles/raw.py),
never from the product's loaded label or reference; the option texts are the spec's prompts.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from . import raw

# tnews (C.37): the fifteen options exactly as the prompt lists them
_TNEWS_OPTIONS = (
    "农业新闻 旅游新闻 游戏新闻 科技类别公司新闻 体育类别新闻 初升高教育新闻 娱乐圈新闻 投资资讯 军事类别常识 "
    "车辆新闻 楼市新闻 环球不含中国类别新闻 书籍文化历史类别新闻 故事类别新闻 股票市场类别新闻"
).split()

# letter -> option text as shown in the prompt, per dataset (chid and C3 take it from the row)
_FIXED_OPTIONS: dict[str, dict[str, str]] = {
    "cluewsc": {"A": "是", "B": "否"},
    "ocnli": {"A": "蕴含", "B": "矛盾", "C": "无关"},
    "cmnli": {"A": "蕴含", "B": "矛盾", "C": "无关"},
    "csl": {"A": "否", "B": "是"},
    "eprstmt": {"A": "积极", "B": "消极"},
    "bustm": {"A": "无关", "B": "相关"},
    "afqmc": {"A": "不完全一致", "B": "完全一致"},
    "ocnli_fc": {"A": "对", "B": "错", "C": "可能"},
    "tnews": dict(zip("ABCDEFGHIJKLMNO", _TNEWS_OPTIONS, strict=True)),
}


def options_of(name: str, row: dict[str, Any]) -> dict[str, str]:
    """The options a row offers (C3 rows with three choices offer A-C only)."""
    if name == "chid":
        return {letter: row[letter] for letter in "ABCDEFG"}
    if name == "C3":
        texts = [row[f"choice{i}"] for i in range(4)]
        return {letter: t for letter, t in zip("ABCD", texts, strict=True) if t != "[NULL]"}
    return _FIXED_OPTIONS[name]


_RIGHT_STYLES: tuple[str, ...] = (
    "答案是 {L}",
    "{L}. {T}",
    "选项 {L} 正确",
    "根据题意分析，应该选{L}。",
    "{L}",
    "我的答案：{L}（{T}）",
    "仔细读一遍材料，可以判断答案为 {L}，即“{T}”。",
)
_WRONG_STYLES: tuple[str, ...] = ("答案是 {L}", "{L}. {T}", "我选{L}。")


def _style(styles: tuple[str, ...], row: dict[str, Any]) -> str:
    return styles[zlib.crc32(repr(sorted(row.items(), key=str)).encode("utf-8")) % len(styles)]


NAMES = ("cluewsc", "ocnli", "csl", "cmnli", "eprstmt", "chid", "bustm", "afqmc", "ocnli_fc", "C3", "tnews")


def _name_of(abbr: str) -> str:
    """The dataset of a sub-dataset abbr (`ocnli_fc-dev` -> ocnli_fc, `csl_test` -> csl)."""
    return max((n for n in NAMES if abbr.startswith(n)), key=len)


def gold_letter(subset: Any, row: dict[str, Any]) -> str:
    """The gold option letter of `row`, from its raw record (spec label tables)."""
    name = _name_of(subset.abbr)
    column = {"chid": "answer", "tnews": "label_desc2"}.get(name, "label")
    return raw.gold(name, subset.abbr, row, column)


def wrong_letter(name: str, subset: Any, row: dict[str, Any]) -> str:
    letters = list(options_of(name, row))
    gold = gold_letter(subset, row)
    return letters[(letters.index(gold) + 1) % len(letters)]


def _right(name: str) -> Callable[[Any, dict[str, Any]], str]:
    def reply(subset: Any, row: dict[str, Any]) -> str:
        letter = gold_letter(subset, row)
        return _style(_RIGHT_STYLES, row).format(L=letter, T=options_of(name, row)[letter])

    return reply


def _wrong(name: str) -> Callable[[Any, dict[str, Any]], str]:
    def reply(subset: Any, row: dict[str, Any]) -> str:
        letter = wrong_letter(name, subset, row)
        return _style(_WRONG_STYLES, row).format(L=letter, T=options_of(name, row)[letter])

    return reply


ORACLES = {name: (_right(name), _wrong(name)) for name in NAMES}
