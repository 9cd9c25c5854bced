"""race: RACE reading comprehension, middle and high school test sets (spec C.38).

OpenCompass's loader also opens `race/validation/<level>.jsonl`, which it never uses; only
the evaluated `race/test/<level>.jsonl` is required, and only by its own sub-dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import iter_jsonl, require
from ..errors import DataError
from ..extract import first_option
from ..scoring import accuracy
from ..types import Turn

TEMPLATE = (
    Turn.human(
        "Read the article, and answer the question by replying A, B, C or D.\n\nArticle:\n{article}\n\n"
        "Q: {question}\n\nA. {A}\nB. {B}\nC. {C}\nD. {D}"
    ),
)


def _reader(relpath: str):
    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, relpath, "race")
        rows = []
        for lineno, obj in iter_jsonl(path):
            try:
                options = obj["options"]
                if not isinstance(options, list) or len(options) < 4:
                    raise ValueError("`options` must be a list of 4 strings")
                rows.append(
                    {
                        "article": obj["article"],
                        "question": obj["question"],
                        "A": options[0],
                        "B": options[1],
                        "C": options[2],
                        "D": options[3],
                        "answer": obj["answer"],
                    }
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}:{lineno}: record is not in the RACE format ({exc!r})") from None
        if not rows:
            raise DataError(f"{path}: the file has no records")
        return rows

    return load


def _extract(reply: str) -> str:
    return first_option(reply, "ABCD")


def _subset(level: str) -> Subset:
    relpath = f"race/test/{level}.jsonl"
    return Subset(
        abbr=f"race-{level}",
        version="9a54b6",
        files=(relpath,),
        load=_reader(relpath),
        template=TEMPLATE,
        output_column="answer",
        extract=_extract,
        score=accuracy,  # AccwithDetails: the same value as Acc
        metrics=("accuracy",),
    )


register(
    Benchmark(
        name="race",
        description="RACE test, middle and high school, 0-shot",
        subsets=(_subset("middle"), _subset("high")),
    )
)
