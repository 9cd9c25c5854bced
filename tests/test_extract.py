"""Table-driven tests of the shared extractors in compasslite.extract (spec B.1-B.4).

Every test vector the spec gives, then realistic replies (Chinese answer phrases, markdown,
letters inside words, empty replies). Expected values follow the ordered-pattern control
flow of B.1; the comment names the pattern row that decides.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compasslite.extract import (
    first_capital,
    first_capital_multi,
    first_option,
    general_postprocess,
    option_patterns,
)

SPEC_JSON = Path(__file__).resolve().parents[2] / "shared" / "spec" / "datasets.json"

# ------------------------------------------------------------------------ B.1 vectors

SPEC_OPTION_VECTORS = [
    ("ABCD", "B", "B"),  # row 52
    ("ABCD", "The answer is C.", "C"),  # row 27
    ("ABCD", "Answer: D", "D"),  # row 27
    ("ABCD", "I think (B) is right", "B"),  # row 52
    ("ABCD", "Based on the passage, the answer is A.", "A"),  # row 27
    ("ABCD", "All of the options except D are wrong", "A"),  # row 52
    ("ABCD", "Step 1: compute. The correct answer is B", "B"),  # row 27
    ("ABCD", "答案是C", "C"),  # row 1
    ("ABCD", "A. Paris\nB is wrong", "A"),  # row 48
    ("ABCD", "(C) 1917", "C"),  # row 52
    ("ABCD", "none", ""),
    ("AB", "B", "B"),  # row 52
    ("AB", "A. Yes", "A"),  # row 48
    ("AB", "No, the answer is B", "B"),  # row 27
    ("AB", "Option 1: B", "B"),  # row 27
    ("AB", "Both A and B", "B"),  # row 27
    # "Consequences worth testing" in B.1
    ("ABCD", "In step 1 we rule out D; B remains.", "B"),  # row 48 yields only " ", row 49 tail
    ("ABCD", "Claim 1 is false: D and A are both wrong", "A"),  # row 49: first letter in option order
    ("ABCD", "Both A and B", "B"),  # row 27
    ("ABCD", "I think B is right, not C", "C"),  # row 27
    ("ABCD", "故选D", "D"),  # row 13 (the fused row 14 would not match)
]

CHINESE_OPTION_VECTORS = [
    ("ABCD", "答案：B", "B"),  # row 2
    ("ABCD", "答案是：A", "A"),  # row 2
    ("ABCD", "答案为C", "C"),  # row 11
    ("ABCD", "正确答案是D。", "D"),  # row 1
    ("ABCD", "答案应该是 C", "C"),  # row 6
    ("ABCD", "我选B", "B"),  # row 13
    ("ABCD", "选项A正确", "A"),  # row 23
    ("ABCD", "B是正确答案", "B"),  # row 22
    ("ABCD", "综上所述，正确的是C。", "C"),  # row 30
    ("ABCD", "所以B", "B"),  # row 25
    ("ABCD", "以上说法都不对", ""),
    ("AB", "答案是 B", "B"),  # row 1
    ("ABCDE", "答案是E", "E"),  # row 1
]

ENGLISH_OPTION_VECTORS = [
    ("ABCD", "The answer is (B)", "B"),  # row 37
    ("ABCD", "The answer is **B**", "B"),  # row 38
    ("ABCD", "**B**", "B"),  # row 52
    ("ABCD", "**Answer: C**", "C"),  # row 36
    ("ABCD", "The correct answer is option D", "D"),  # row 27
    ("ABCD", "The correct answer is \\boxed{C}.", "C"),  # row 42
    ("ABCD", "Correct option: B", "B"),  # row 27
    ("ABCD", "Let me think step by step.\nThe ice melts first.\nSo the answer is B.", "B"),  # row 27
    ("ABCD", "Answer: (C)", "A"),  # no row before 52 matches; the cushion finds the A of "Answer"
    ("ABCD", "B) Paris", "B"),  # row 52
    ("ABCDE", "The answer is E.", "E"),  # row 27
    ("AB", "I would choose A", "A"),  # row 27
    ("ABC", "C. Neutral", "C"),  # row 48
    ("ABC", "D", ""),  # D is not an option here
]

LETTERS_IN_WORDS = [
    ("ABCD", "Definitely the last one", "D"),  # cushion: the D of "Definitely"
    ("ABCD", "Clearly wrong", "C"),  # cushion
    ("AB", "Both options look fine", "B"),  # cushion: the B of "Both"
    ("AB", "Cannot decide", ""),  # C is not an option
    ("ABCD", "nothing fits", ""),
]

EMPTY = [
    ("ABCD", "", ""),
    ("AB", "   \n\t ", ""),
]


@pytest.mark.parametrize(
    ("options", "reply", "expected"),
    SPEC_OPTION_VECTORS + CHINESE_OPTION_VECTORS + ENGLISH_OPTION_VECTORS + LETTERS_IN_WORDS + EMPTY,
)
def test_first_option(options: str, reply: str, expected: str) -> None:
    assert first_option(reply, options) == expected


def test_first_option_strips_the_reply() -> None:
    # row 48 is anchored at the start: leading whitespace must not hide "B." there
    assert first_option("\n  B. quit eating lunch out", "ABCD") == "B"


def test_pattern_list_shape() -> None:
    patterns = option_patterns("AB")
    assert len(patterns) == 52  # 50 main patterns (row 14 is the fused one) + 2 cushion patterns
    assert patterns[13] == r"故选?\s*([AB])只有选?项?\s?([AB])\s?是?对"
    assert patterns[-2:] == (r"([AB]):", r"([AB])")
    assert patterns[41] == r"[Tt]he correct answer is:?.*?boxed{([AB])}"


def _spec_patterns() -> list[tuple[str, str, list[str]]]:
    if not SPEC_JSON.is_file():
        return []
    out = []
    for dataset in json.loads(SPEC_JSON.read_text(encoding="utf-8")):
        norm = dataset["normalized"]
        for sub in norm["subsets"]:
            post = sub.get("pred_postprocessor") or {}
            patterns = norm.get("answer_patterns")
            if post.get("type") == "first_option_postprocess" and patterns:
                if isinstance(patterns, dict):  # agieval: {"single-choice subsets (options ABCDE)": [...]}
                    patterns = next(v for k, v in patterns.items() if f"options {post['options']}" in k)
                out.append((dataset["name"], post["options"], patterns))
                break
    return out


@pytest.mark.parametrize(("name", "options", "patterns"), _spec_patterns())
def test_pattern_list_equals_spec(name: str, options: str, patterns: list[str]) -> None:
    assert list(option_patterns(options)) == patterns


def test_spec_patterns_found() -> None:
    if not SPEC_JSON.is_file():
        pytest.skip("spec datasets.json is absent")
    assert {opts for _, opts, _ in _spec_patterns()} >= {"AB", "ABC", "ABCD"}


# ------------------------------------------------------------------------ B.2 vectors


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("A", "A"),
        ("Yes", "Y"),
        ("no, B", "B"),
        ("B. 否", "B"),
        ("答案是A", "A"),
        ("the answer is B", "B"),
        ("", ""),
        ("Based on the passage, A", "B"),
        ("I think A", "I"),
        ("答案是Ａ", "Ａ"),  # full-width capital counts
        ("über Äpfel", "Ä"),
        ("ω then Ω", "Ω"),
        ("123 abc", ""),
        ("   ", ""),
    ],
)
def test_first_capital(reply: str, expected: str) -> None:
    assert first_capital(reply) == expected


# ------------------------------------------------------------------------ B.3 vectors


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("AD", "AD"),
        ("A and D", "A"),
        ("Based on…", "B"),
        ("正确答案是ABC。", "ABC"),
        ("The answer is AD", "AD"),  # T, h, e are not A-D; lowercase does not count
        ("答案：BCD", "BCD"),
        ("E and F", ""),
        ("abcd", ""),
        ("", ""),
    ],
)
def test_first_capital_multi(reply: str, expected: str) -> None:
    assert first_capital_multi(reply) == expected


# ------------------------------------------------------------------------ B.4 vectors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Eiffel Tower, in Paris.", "Eiffel Tower"),
        ("an apple a day", "apple day"),
        ("答案是北京。", "答案是北京"),
        ("O'Neill\nmore", "ONeill"),
        ("  Hello   World!! ", "Hello World"),
        ("8条线。", "8条线"),
        ("光荣和ω-force", "光荣和ωforce"),
        ("The the THE end", "end"),  # articles removed case-insensitively
        ("Theater", "Theater"),  # whole words only
        ("北京，中国", "北京中国"),  # Chinese comma is not a cut point; it is punctuation
        ("", ""),
    ],
)
def test_general_postprocess(text: str, expected: str) -> None:
    assert general_postprocess(text) == expected
