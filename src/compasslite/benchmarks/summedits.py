"""summedits: SummEdits factual-consistency classification (spec C.43)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import iter_jsonl, missing_fields, require
from ..errors import DataError
from ..extract import first_capital
from ..scoring import accuracy
from ..types import Turn

DATA_FILE = "summedits/summedits.jsonl"

TEMPLATE = (
    Turn.human(
        'Given the document below, you have to determine if "Yes" or "No", the summary is factually '
        "consistent with the document.\n\nDocument:\n{doc}\n\nSummary:\n{summary}\n\nQuestion:\n"
        "Is the summary factually consistent with the document?\nA. Yes\nB. No\n\nAnswer:"
    ),
)


def load(data_dir: Path) -> list[dict[str, Any]]:
    """SummeditsDataset_V2: the record's keys in file order, `label` 1 -> A (consistent), 0 -> B."""
    path = require(data_dir, DATA_FILE, "summedits")
    rows = []
    for lineno, obj in iter_jsonl(path):
        missing_fields(path, lineno, obj, ("doc", "summary", "label"))
        label = obj["label"]
        if type(label) is not int or label not in (0, 1):
            raise DataError(f"{path}:{lineno}: expected label 0 or 1, found {label!r}")
        row = dict(obj)
        row["label"] = "BA"[label]
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


register(
    Benchmark(
        name="summedits",
        description="SummEdits (is the summary consistent with the document?), 0-shot",
        subsets=(
            Subset(
                abbr="summedits",
                version="315438",
                files=(DATA_FILE,),
                load=load,
                template=TEMPLATE,
                output_column="label",
                extract=first_capital,
                score=accuracy,
                metrics=("accuracy",),
            ),
        ),
    )
)
