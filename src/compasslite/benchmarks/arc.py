"""ARC_c and ARC_e: AI2 Reasoning Challenge, dev files, 4-choice questions only (spec C.45, C.47)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import iter_jsonl, require
from ..errors import DataError
from ..extract import first_option
from ..scoring import accuracy
from ..types import Turn

TEMPLATE = (Turn.human("Question: {question}\nA. {textA}\nB. {textB}\nC. {textC}\nD. {textD}\nAnswer:"),)


def _reader(relpath: str, name: str):
    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, relpath, name)
        rows = []
        for lineno, obj in iter_jsonl(path):
            try:
                question = obj["question"]
                choices = question["choices"]
                if len(choices) != 4:  # OpenCompass drops questions without exactly 4 choices
                    continue
                labels = [c["label"] for c in choices]
                rows.append(
                    {
                        "question": question["stem"],
                        "answerKey": "ABCD"[labels.index(obj["answerKey"])],
                        "textA": choices[0]["text"],
                        "textB": choices[1]["text"],
                        "textC": choices[2]["text"],
                        "textD": choices[3]["text"],
                    }
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}:{lineno}: record is not in the AI2 ARC format ({exc!r})") from None
        return rows

    return load


def _extract(reply: str) -> str:
    return first_option(reply, "ABCD")


def _arc(name: str, abbr: str, relpath: str, description: str) -> Benchmark:
    return Benchmark(
        name=name,
        description=description,
        subsets=(
            Subset(
                abbr=abbr,
                version="1e0de5",
                files=(relpath,),
                load=_reader(relpath, name),
                template=TEMPLATE,
                output_column="answerKey",
                extract=_extract,
                score=accuracy,
                metrics=("accuracy",),
            ),
        ),
    )


register(_arc("ARC_c", "ARC-c", "ARC/ARC-c/ARC-Challenge-Dev.jsonl", "ARC-Challenge (dev), 0-shot"))
register(_arc("ARC_e", "ARC-e", "ARC/ARC-e/ARC-Easy-Dev.jsonl", "ARC-Easy (dev), 0-shot"))
