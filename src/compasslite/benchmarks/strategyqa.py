"""strategyqa: StrategyQA, 6-shot chain of thought written into the template (spec C.32, B.16)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import read_json, require
from ..errors import DataError
from ..scoring import accuracy
from ..types import Turn

TEST_FILE = "strategyqa/strategyQA_train.json"

_EXEMPLARS: tuple[tuple[str, str], ...] = (
    (
        "Do hamsters provide food for any animals?",
        "Hamsters are prey animals. Prey are food for predators. Thus, hamsters provide food for some animals.\nSo the answer is yes\n",
    ),
    (
        "Could Brooke Shields succeed at University of Pennsylvania?",
        "Brooke Shields went to Princeton University. Princeton University is about as academically rigorous as the University of Pennsylvania. Thus, Brooke Shields could also succeed at the University of Pennsylvania.\nSo the answer is yes\n",
    ),
    (
        "Hydrogen's atomic number squared exceeds number of Spice Girls?",
        "Hydrogen has an atomic number of 1. 1 squared is 1. There are 5 Spice Girls. Thus, Hydrogen's atomic number squared is less than 5.\nSo the answer is no\n",
    ),
    (
        "Is it common to see frost during some college commencements?",
        "College commencement ceremonies can happen in December, May, and June. December is in the winter, so there can be frost. Thus, there could be frost at some commencements.\nSo the answer is yes\n",
    ),
    (
        "Yes or no: Could a llama birth twice during War in Vietnam (1945-46)?",
        "The War in Vietnam was 6 months. The gestation period for a llama is 11 months, which is more than 6 months. Thus, a llama could not give birth twice during the War in Vietnam.\nSo the answer is no\n",
    ),
    (
        "Would a pear sink in water?",
        "The density of a pear is about 0.6g/cm3, which is less than water. Objects less dense than water float. Thus, a pear would float.\nSo the answer is no\n",
    ),
)

TEMPLATE: tuple[Turn, ...] = tuple(
    turn
    for question, answer in _EXEMPLARS
    for turn in (Turn.human(f"Question: {question}\nAnswer:"), Turn.bot(answer))
) + (Turn.human("Question: {question}\nAnswer:"),)

_YES_NO = re.compile(r"(yes|no)")


def extract_answer(reply: str) -> str:
    """B.16 `strategyqa_pred_postprocess`: before the first blank line, after the last
    `answer is `, the first `yes`/`no` substring of the lowercased text, or ''."""
    text = reply.split("\n\n")[0]
    text = text.split("answer is ")[-1]
    match = _YES_NO.search(text.lower())
    return match.group(1) if match else ""


def reference(row: dict[str, Any]) -> str:
    """B.16 `strategyqa_dataset_postprocess`: `yes` if the answer prints as `True`, else `no`."""
    return "yes" if str(row["answer"]) == "True" else "no"


def load(data_dir: Path) -> list[dict[str, Any]]:
    """Every object is a row; as with OpenCompass's table building, the columns are the keys of
    the first object, in its order (a key absent from a later object gives None)."""
    path = require(data_dir, TEST_FILE, "strategyqa")
    doc = read_json(path)
    if not isinstance(doc, list):
        raise DataError(f"{path}: expected a JSON array of question objects")
    if not doc:
        raise DataError(f"{path}: the file has no records")
    columns: list[str] = []
    rows = []
    for i, obj in enumerate(doc):
        if not isinstance(obj, dict):
            raise DataError(f"{path}:[{i}]: expected a JSON object, got {type(obj).__name__}")
        if i == 0:
            columns = list(obj)
        absent = [f for f in ("question", "answer") if f not in obj]
        if absent:
            raise DataError(f"{path}:[{i}]: record lacks field(s) {', '.join(absent)}")
        rows.append({c: obj.get(c) for c in columns})
    return rows


register(
    Benchmark(
        name="strategyqa",
        description="StrategyQA yes/no questions, 6-shot CoT",
        subsets=(
            Subset(
                abbr="strategyqa",
                version="1180a7",
                files=(TEST_FILE,),
                load=load,
                template=TEMPLATE,
                output_column="answer",
                extract=extract_answer,
                reference=reference,
                score=accuracy,
                metrics=("accuracy",),
                max_out_len=512,
            ),
        ),
    )
)
