"""Shared answer extractors (spec Part B.1-B.4), written once and used by every dataset."""

from __future__ import annotations

import re
from functools import lru_cache

# B.1: the ordered pattern list of OpenCompass's first_option_postprocess, with
# `{options}` standing for the option string. Row 14 reproduces OpenCompass's
# missing-comma quirk: two intended patterns fused into one.
_OPTION_PATTERNS: tuple[str, ...] = (
    r"答案是?\s*([{options}])",
    r"答案是?\s*：\s*([{options}])",
    r"答案是?\s*:\s*([{options}])",
    r"答案选项应?该?是\s*([{options}])",
    r"答案选项应?该?为\s*([{options}])",
    r"答案应该?是\s*([{options}])",
    r"答案应该?选\s*([{options}])",
    r"答案选项为?\s*：\s*([{options}])",
    r"答案选项为?\s+\(?\*?\*?([{options}])\*?\*?\)?",
    r"答案选项是?\s*:\s*([{options}])",
    r"答案为\s*([{options}])",
    r"答案选\s*([{options}])",
    r"选择?\s*([{options}])",
    r"故选?\s*([{options}])" r"只有选?项?\s?([{options}])\s?是?对",
    r"只有选?项?\s?([{options}])\s?是?错",
    r"只有选?项?\s?([{options}])\s?不?正确",
    r"只有选?项?\s?([{options}])\s?错误",
    r"说法不?对选?项?的?是\s?([{options}])",
    r"说法不?正确选?项?的?是\s?([{options}])",
    r"说法错误选?项?的?是\s?([{options}])",
    r"([{options}])\s?是正确的",
    r"([{options}])\s?是正确答案",
    r"选项\s?([{options}])\s?正确",
    r"所以答\s?([{options}])",
    r"所以\s?([{options}][.。$]?$)",
    r"所有\s?([{options}][.。$]?$)",
    r"[\s，：:,]([{options}])[。，,\.]?$",
    r"[\s，,：:][故即]([{options}])[。\.]?$",
    r"[\s，,：:]因此([{options}])[。\.]?$",
    r"[是为。]\s?([{options}])[。\.]?$",
    r"因此\s?([{options}])[。\.]?$",
    r"显然\s?([{options}])[。\.]?$",
    r"答案是\s?(\S+)(?:。|$)",
    r"答案应该是\s?(\S+)(?:。|$)",
    r"答案为\s?(\S+)(?:。|$)",
    r"(?i)ANSWER\s*:\s*([{options}])",
    r"[Tt]he answer is:?\s+\(?([{options}])\)?",
    r"[Tt]he answer is:?\s+\(?\*?\*?([{options}])\*?\*?\)?",
    r"[Tt]he answer is option:?\s+\(?([{options}])\)?",
    r"[Tt]he correct answer is:?\s+\(?([{options}])\)?",
    r"[Tt]he correct answer is option:?\s+\(?([{options}])\)?",
    r"[Tt]he correct answer is:?.*?boxed{([{options}])}",
    r"[Tt]he correct option is:?.*?boxed{([{options}])}",
    r"[Tt]he correct answer option is:?.*?boxed{([{options}])}",
    r"[Tt]he answer to the question is:?\s+\(?([{options}])\)?",
    r"^选项\s?([{options}])",
    r"^([{options}])\s?选?项",
    r"(\s|^)[{options}][\s。，,：:\.$]",
    r"1.\s?(.*?)$",
    r"1.\s?([{options}])[.。$]?$",
)
_CUSHION_PATTERNS: tuple[str, ...] = (r"([{options}]):", r"([{options}])")


def option_patterns(options: str) -> tuple[str, ...]:
    """The pattern list with the option string substituted (as in the spec's answer_patterns)."""
    return tuple(p.replace("{options}", options) for p in _OPTION_PATTERNS + _CUSHION_PATTERNS)


@lru_cache(maxsize=64)
def _compiled_option_patterns(options: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.DOTALL) for p in option_patterns(options))


def first_option(text: str, options: str) -> str:
    """B.1 `first_option_postprocess`: the first option letter the ordered patterns yield, or ''."""
    text = text.strip()
    for pattern in _compiled_option_patterns(options):
        match = pattern.search(text)
        if not match:
            continue
        captured = match.group(1) if match.groups() and match.group(1) else match.group(0)
        for letter in options:
            if letter in captured:
                return letter
    return ""


def first_capital(text: str) -> str:
    """B.2 `first_capital_postprocess`: the first Unicode uppercase character, or ''."""
    for ch in text:
        if ch.isupper():
            return ch
    return ""


_MULTI_CAPITAL = re.compile(r"([A-D]+)")


def first_capital_multi(text: str) -> str:
    """B.3 `first_capital_postprocess_multi`: the first run of letters A-D, or ''."""
    match = _MULTI_CAPITAL.search(text)
    return match.group(1) if match else ""


_CUT = re.compile(r"[\n.,]")
_PUNCT = re.compile(r"[^\w\s]")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def general_postprocess(text: str) -> str:
    """B.4 text normaliser: cut at the first LF/./,, drop punctuation and articles, fold spaces."""
    text = _CUT.split(text, maxsplit=1)[0]
    text = _PUNCT.sub("", text)
    text = _ARTICLES.sub("", text)
    return _SPACES.sub(" ", text).strip()
