"""Oracles for the English choice datasets: obqa, AX_b, siqa, winogrande, BoolQ, WSC,
storycloze, MultiRC, RTE, AX_g, piqa, race, CB, WiC, hellaswag, summedits, COPA.

Option-letter datasets (B.1) get replies that end with "... the answer is X." (the
extractor's end-anchored row 27 takes X); first-capital datasets (B.2) get replies that
start with the letter ("B. No, ..."); siqa (edit distance) gets "X. <option text>".

The gold letter comes from the raw data file and the spec's label tables (oracles/raw.py),
never from the product's loaded label or reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import raw

Row = dict[str, Any]
Phrase = Callable[[Any, Row, str], str]


# The spec's output column per dataset (siqa: its letter column; the reference is a dict), used
# only to choose between raw records that match a row equally well and disagree.
_COLUMN = {
    "obqa": "answerKey",
    "siqa": "label",
    "winogrande": "answer",
    "storycloze": "answer_right_ending",
    "piqa": "answer",
    "race": "answer",
}


def gold_letter(name: str, subset: Any, row: Row) -> str:
    """The gold option letter of `row`, from its raw record (spec label tables)."""
    return raw.gold(name, subset.abbr, row, _COLUMN.get(name, "label"))


def _other(letter: str, options: str) -> str:
    """A different option letter (the next one, cyclically)."""
    return options[(options.index(letter) + 1) % len(options)] if letter in options else options[0]


def _letter_oracles(
    name: str, options: str, say: Phrase
) -> tuple[Callable[[Any, Row], str], Callable[[Any, Row], str]]:
    """say(subset, row, letter) -> a natural reply that commits to `letter`."""

    def right(subset: Any, row: Row) -> str:
        return say(subset, row, gold_letter(name, subset, row))

    def wrong(subset: Any, row: Row) -> str:
        return say(subset, row, _other(gold_letter(name, subset, row), options))

    return right, wrong


def _obqa(subset: Any, row: Row, letter: str) -> str:
    return f"Thinking about the question step by step, the best choice is {row[letter]!r}. The answer is {letter}."


def _entailment(subset: Any, row: Row, letter: str) -> str:
    verdict = "follows from" if letter == "A" else "is not entailed by"
    return f"The second sentence {verdict} the first one, so the answer is {letter}."


_CB_NAMES = {"A": "contradiction", "B": "entailment", "C": "neutral"}


def _cb(subset: Any, row: Row, letter: str) -> str:
    return f"Reading both sentences, the relation is {_CB_NAMES[letter]}.\nThe answer is {letter}."


def _copa(subset: Any, row: Row, letter: str) -> str:
    choice = row["choice1"] if letter == "A" else row["choice2"]
    return f'The more plausible {row["question"]} is "{choice}" Therefore, the answer is {letter}.'


def _winogrande(subset: Any, row: Row, letter: str) -> str:
    option = row["only_option1"] if letter == "A" else row["only_option2"]
    return f"The blank refers to {option}. The answer is {letter}."


def _piqa(subset: Any, row: Row, letter: str) -> str:
    return f"Option {letter} is the practical way to achieve the goal. The answer is {letter}."


def _story(subset: Any, row: Row, letter: str) -> str:
    ending = row["sentence_quiz1"] if letter == "A" else row["sentence_quiz2"]
    return f'The ending "{ending}" makes the most sense.\nSo the answer is {letter}.'


def _hellaswag(subset: Any, row: Row, letter: str) -> str:
    return f"The most sensible continuation is {letter}."


def _race(subset: Any, row: Row, letter: str) -> str:
    return f"According to the article, option {letter} is supported by the text. The answer is {letter}."


def _multirc(subset: Any, row: Row, letter: str) -> str:
    verdict = "is supported" if letter == "A" else "is not supported"
    return f"The proposed answer {verdict} by the passage. The answer is {letter}."


def _capital_oracles(
    name: str, yes: str, no: str
) -> tuple[Callable[[Any, Row], str], Callable[[Any, Row], str]]:
    """First-capital datasets coded A = yes, B = no: the reply starts with the letter."""

    def say(letter: str) -> str:
        return f"A. Yes, {yes}" if letter == "A" else f"B. No, {no}"

    def right(subset: Any, row: Row) -> str:
        return say(gold_letter(name, subset, row))

    def wrong(subset: Any, row: Row) -> str:
        return say("B" if gold_letter(name, subset, row) == "A" else "A")

    return right, wrong


def _siqa_say(row: Row, letter: str) -> str:
    return f"{letter}. {row['answer' + letter]}"


def _siqa_right(subset: Any, row: Row) -> str:
    return _siqa_say(row, gold_letter("siqa", subset, row))


def _siqa_wrong(subset: Any, row: Row) -> str:
    return _siqa_say(row, _other(gold_letter("siqa", subset, row), "ABC"))


ORACLES = {
    "obqa": _letter_oracles("obqa", "ABCD", _obqa),
    "AX_b": _letter_oracles("AX_b", "AB", _entailment),
    "siqa": (_siqa_right, _siqa_wrong),
    "winogrande": _letter_oracles("winogrande", "AB", _winogrande),
    "BoolQ": _capital_oracles("BoolQ", "the passage confirms it.", "the passage says otherwise."),
    "WSC": _capital_oracles("WSC", "they refer to the same entity.", "they refer to different entities."),
    "storycloze": _letter_oracles("storycloze", "AB", _story),
    "MultiRC": _letter_oracles("MultiRC", "AB", _multirc),
    "RTE": _letter_oracles("RTE", "AB", _entailment),
    "AX_g": _letter_oracles("AX_g", "AB", _entailment),
    "piqa": _letter_oracles("piqa", "AB", _piqa),
    "race": _letter_oracles("race", "ABCD", _race),
    "CB": _letter_oracles("CB", "ABC", _cb),
    "WiC": _capital_oracles("WiC", "the word has the same meaning in both.", "the meanings differ."),
    "hellaswag": _letter_oracles("hellaswag", "ABCD", _hellaswag),
    "summedits": _capital_oracles(
        "summedits", "the summary is consistent.", "the summary contradicts the document."
    ),
    "COPA": _letter_oracles("COPA", "AB", _copa),
}
