"""Short-answer QA: nq, triviaqa and lambada (spec C.4, C.39, C.11; scorers B.7, B.8).

None of the three has a pred_postprocessor: the scorers normalise the raw (stripped) reply
themselves, so `Subset.extract` is the identity and all the work happens in `score`.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import iter_csv, iter_jsonl, missing_fields, require
from ..errors import DataError
from ..extract import general_postprocess
from ..types import Score, Turn

NQ_FILE = "nq/nq-test.qa.csv"  # nq/nq-dev.qa.csv is opened by OpenCompass but unused (spec A.3)
TRIVIAQA_FILE = "triviaqa/trivia-dev.qa.csv"  # triviaqa/trivia-test.qa.csv: opened but unused
LAMBADA_FILE = "lambada/test.jsonl"

# nq (nq_gen_c788f6) and triviaqa (triviaqa_gen_2121ce) share this template. The final BOT
# turn "A:" ends the flat prompt and is dropped with a meta template.
OPEN_QA_TEMPLATE: tuple[Turn, ...] = (
    Turn.human(
        "Answer these questions, your answer should be as simple as possible, start your answer "
        "with the prompt 'The answer is '.\nQ: {question}?"
    ),
    Turn.bot("A:"),
)
LAMBADA_TEMPLATE: tuple[Turn, ...] = (Turn.human("Please complete the following sentence:\n{prompt}"),)


# --------------------------------------------------------------------------------------
# Loading


def read_qa_tsv(path: Path) -> list[dict[str, Any]]:
    """DPR-style `question<TAB>['answer', ...]` records, as OpenCompass reads them.

    The file is parsed by the csv module (tab delimiter, standard double-quote quoting, lines
    split as Python's text mode does); the second field is a Python literal list of answer
    strings. Every record must have exactly two fields."""
    rows: list[dict[str, Any]] = []
    for line, record in iter_csv(path, delimiter="\t"):
        where = f"{path}:{line}"
        if len(record) != 2:
            raise DataError(f"{where}: expected 2 tab-separated fields (question, answers), found {len(record)}")
        try:
            answers = ast.literal_eval(record[1])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise DataError(f"{where}: the answers field is not a Python list literal: {record[1][:80]!r}") from None
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise DataError(f"{where}: the answers field must be a list of strings, got {record[1][:80]!r}")
        rows.append({"question": record[0], "answer": answers})
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


def load_nq(data_dir: Path) -> list[dict[str, Any]]:
    return read_qa_tsv(require(data_dir, NQ_FILE, "nq"))


def load_triviaqa(data_dir: Path) -> list[dict[str, Any]]:
    return read_qa_tsv(require(data_dir, TRIVIAQA_FILE, "triviaqa"))


def load_lambada(data_dir: Path) -> list[dict[str, Any]]:
    path = require(data_dir, LAMBADA_FILE, "lambada")
    rows = []
    for lineno, obj in iter_jsonl(path):
        missing_fields(path, lineno, obj, ("prompt", "label"))
        rows.append({"prompt": obj["prompt"], "label": obj["label"]})
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


# --------------------------------------------------------------------------------------
# Scoring


def nq_normalize_reply(reply: str) -> str:
    """NQEvaluator: first line, lowercased, after the last `answer is` (if any), normalised."""
    text = reply.strip().split("\n")[0].lower()
    if "answer is" in text:
        text = text.split("answer is")[-1]
    return general_postprocess(text)


def triviaqa_normalize_reply(reply: str) -> str:
    """TriviaQAEvaluator: first line, lowercased, after the last `answer is`, `a:`, `answer:`."""
    text = reply.strip().split("\n")[0].lower()
    text = text.split("answer is")[-1]
    text = text.split("a:")[-1]
    text = text.split("answer:")[-1]
    return general_postprocess(text.strip())


def normalize_reference(answer: str) -> str:
    """A gold answer as both substring scorers see it: normalised, then lowercased."""
    return general_postprocess(answer).lower()


def _substring_scorer(normalize_reply):
    """B.7: correct if any normalised reference is a substring of the normalised reply."""

    def score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
        details = []
        for reply, refs in zip(answers, references, strict=True):
            pred = normalize_reply(reply)
            golds = [normalize_reference(g) for g in refs]
            details.append({"pred": pred, "answer": golds, "correct": any(g in pred for g in golds)})
        correct = sum(d["correct"] for d in details)
        return Score({"score": 100.0 * correct / len(details) if details else 0.0}, details)

    return score


nq_score = _substring_scorer(nq_normalize_reply)
triviaqa_score = _substring_scorer(triviaqa_normalize_reply)

# The character class OpenCompass builds from string.punctuation. Inside it, the backslash
# of string.punctuation escapes the following `]`, so `\` itself is not a cut point.
_LAMBADA_PUNCT = re.compile(f"[{string.punctuation}]")


def lambada_first_word(reply: str) -> str:
    """LambadaEvaluator: first space-separated token, cut at its first ASCII punctuation."""
    token = reply.strip().split(" ")[0]
    return _LAMBADA_PUNCT.split(token)[0]


def lambada_correct(reply: str, label: str) -> bool:
    """B.8: case-sensitive equality after general_postprocess on both sides."""
    return general_postprocess(lambada_first_word(reply)) == general_postprocess(label)


def lambada_score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    details = [{"correct": lambada_correct(a, r)} for a, r in zip(answers, references, strict=True)]
    correct = sum(d["correct"] for d in details)
    return Score({"accuracy": 100.0 * correct / len(details) if details else 0.0}, details)


register(
    Benchmark(
        name="nq",
        description="Natural Questions (open), test split, 0-shot, substring match",
        subsets=(
            Subset(
                abbr="nq",
                version="c788f6",
                files=(NQ_FILE,),
                load=load_nq,
                template=OPEN_QA_TEMPLATE,
                output_column="answer",
                score=nq_score,
                metrics=("score",),
            ),
        ),
    )
)

register(
    Benchmark(
        name="triviaqa",
        description="TriviaQA (DPR dev split), 0-shot, substring match",
        subsets=(
            Subset(
                abbr="triviaqa",
                version="2121ce",
                files=(TRIVIAQA_FILE,),
                load=load_triviaqa,
                template=OPEN_QA_TEMPLATE,
                output_column="answer",
                score=triviaqa_score,
                metrics=("score",),
                max_out_len=50,
            ),
        ),
    )
)

register(
    Benchmark(
        name="lambada",
        description="LAMBADA last-word prediction, 0-shot",
        subsets=(
            Subset(
                abbr="lambada",
                version="217e11",
                files=(LAMBADA_FILE,),
                load=load_lambada,
                template=LAMBADA_TEMPLATE,
                output_column="label",
                score=lambada_score,
                metrics=("accuracy",),
                max_out_len=5,
            ),
        ),
    )
)
