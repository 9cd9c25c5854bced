"""CLUE choice/classification sets: ocnli, cmnli, afqmc, C3 (spec C.10, C.15, C.29, C.36).

All four are 0-shot, single HUMAN turn, first-capital extraction (B.2) and accuracy (B.5).
The JSON-lines helpers here are also used by the FewCLUE family (fewclue.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import iter_jsonl, read_json, require
from ..errors import DataError
from ..extract import first_capital
from ..scoring import accuracy
from ..types import Turn

RowBuilder = Callable[[dict[str, Any]], dict[str, Any] | None]


class LabelError(ValueError):
    """A label value outside the dataset's label set."""


def map_label(value: Any, mapping: dict[Any, str], field: str = "label") -> str:
    """The letter OpenCompass's loader assigns to a label value (a LabelError if there is none)."""
    try:
        return mapping[value]
    except (KeyError, TypeError):
        allowed = ", ".join(repr(k) for k in mapping)
        raise LabelError(f"{field} {value!r} is not one of {allowed}") from None


def jsonl_loader(relpath: str, dataset: str, build: RowBuilder, layout: str):
    """A loader for a JSON-lines file: `build` maps one record to a row (or None to drop it).

    Missing fields and unknown label values become a DataError at file:line."""

    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, relpath, dataset)
        rows: list[dict[str, Any]] = []
        seen = False
        for lineno, obj in iter_jsonl(path):
            seen = True
            try:
                row = build(obj)
            except LabelError as exc:
                raise DataError(f"{path}:{lineno}: {exc}") from None
            except KeyError as exc:
                raise DataError(f"{path}:{lineno}: record lacks field {exc} ({layout})") from None
            except (TypeError, ValueError, AttributeError, IndexError) as exc:
                raise DataError(f"{path}:{lineno}: record is not in the {layout} format ({exc})") from None
            if row is not None:
                rows.append(row)
        if not seen:
            raise DataError(f"{path}: the file has no records")
        return rows

    return load


def choice_subset(
    abbr: str, version: str, relpath: str, load, template: str, output_column: str = "label"
) -> Subset:
    return Subset(
        abbr=abbr,
        version=version,
        files=(relpath,),
        load=load,
        template=(Turn.human(template),),
        output_column=output_column,
        extract=first_capital,
        score=accuracy,
        metrics=("accuracy",),
    )


# --- NLI (ocnli here, ocnli_fc in fewclue.py, cmnli) -----------------------------------------

NLI_LABELS = {"entailment": "A", "contradiction": "B", "neutral": "C"}
OCNLI_COLUMNS = (
    "level", "sentence1", "sentence2", "label", "label0", "label1", "label2", "label3", "label4",
    "genre", "prem_id", "id",
)  # fmt: skip


def ocnli_row(obj: dict[str, Any]) -> dict[str, Any] | None:
    """An OCNLI record as a row in the record's column order; '-' labels are dropped.

    Columns other than sentence1/sentence2/label are carried along (absent ones as None,
    as a table built from the records would hold them); only the three are required."""
    if obj["label"] == "-":
        return None
    sentence1, sentence2 = obj["sentence1"], obj["sentence2"]
    row = {c: obj.get(c) for c in OCNLI_COLUMNS}
    row["sentence1"], row["sentence2"] = sentence1, sentence2
    row["label"] = map_label(obj["label"], NLI_LABELS)
    return row


def _cmnli_row(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["label"] == "-":
        return None
    return {
        "sentence1": obj["sentence1"],
        "sentence2": obj["sentence2"],
        "label": map_label(obj["label"], NLI_LABELS),
    }


OCNLI_FILE = "CLUE/OCNLI/dev.json"
OCNLI_TEMPLATE = (
    "语句一：“{sentence1}”\n语句二：“{sentence2}”\n请问这两句话是什么关系？"
    "\nA. 蕴含\n B. 矛盾\n C. 无关\n请从“A”，“B”，“C”中进行选择。\n答："
)
CMNLI_FILE = "CLUE/cmnli/cmnli_public/dev.json"
CMNLI_TEMPLATE = (
    "语句一：“{sentence1}”\n语句二：“{sentence2}”\n请问这两句话是什么关系？"
    "\nA. 蕴含\nB. 矛盾\nC. 无关\n请从“A”，“B”，“C”中进行选择。\n答："
)

# --- AFQMC ----------------------------------------------------------------------------------

BINARY_LABELS: dict[Any, str] = {"0": "A", "1": "B", 0: "A", 1: "B"}


def _afqmc_row(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "sentence1": obj["sentence1"],
        "sentence2": obj["sentence2"],
        "label": map_label(obj["label"], BINARY_LABELS),
    }


AFQMC_FILE = "CLUE/AFQMC/dev.json"
AFQMC_TEMPLATE = (
    "语句一：“{sentence1}”\n语句二：“{sentence2}”\n语句一与语句二是关于蚂蚁金融产品的疑问，"
    "两者所询问的内容是否完全一致？\nA. 不完全一致\nB. 完全一致\n请从“A”，“B”中进行选择。\n答："
)

# --- C3 -------------------------------------------------------------------------------------

C3_FILE = "CLUE/C3/dev_0.json"
C3_TEMPLATE = (
    "{content}\n问：{question}\nA. {choice0}\nB. {choice1}\nC. {choice2}\nD. {choice3}"
    "\n请从“A”，“B”，“C”，“D”中进行选择。\n答："
)
C3_PAD = "[NULL]"


def load_c3(data_dir: Path) -> list[dict[str, Any]]:
    """One row per question; paragraphs joined without separator, choices padded to four."""
    path = require(data_dir, C3_FILE, "C3")
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of [paragraphs, questions, id] entries")
    rows: list[dict[str, Any]] = []
    for n, entry in enumerate(data):
        where = f"{path}: entry {n}"
        if not (isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[0], list)):
            raise DataError(f"{where}: expected [paragraphs, questions, id]")
        if not all(isinstance(p, str) for p in entry[0]):
            raise DataError(f"{where}: paragraphs must be strings")
        content = "".join(entry[0])
        if not isinstance(entry[1], list):
            raise DataError(f"{where}: the questions must be a list")
        for k, q in enumerate(entry[1]):
            try:
                choices = list(q["choice"])
                answer = q["answer"]
                question = q["question"]
            except (KeyError, TypeError) as exc:
                raise DataError(f"{where}, question {k}: lacks field {exc}") from None
            if not 1 <= len(choices) <= 4:
                raise DataError(f"{where}, question {k}: expected 1 to 4 choices, found {len(choices)}")
            if answer not in choices:
                raise DataError(f"{where}, question {k}: the answer {answer!r} is not one of the choices")
            label = "ABCD"[choices.index(answer)]
            choices += [C3_PAD] * (4 - len(choices))
            rows.append(
                {
                    "content": content,
                    "question": question,
                    "choice0": choices[0],
                    "choice1": choices[1],
                    "choice2": choices[2],
                    "choice3": choices[3],
                    "label": label,
                }
            )
    if not rows:
        raise DataError(f"{path}: the file has no questions")
    return rows


register(
    Benchmark(
        name="ocnli",
        description="OCNLI (CLUE dev, rows with a gold label), 0-shot",
        subsets=(
            choice_subset(
                "ocnli",
                "c4cb6c",
                OCNLI_FILE,
                jsonl_loader(OCNLI_FILE, "ocnli", ocnli_row, "OCNLI JSON-lines"),
                OCNLI_TEMPLATE,
            ),
        ),
    )
)
register(
    Benchmark(
        name="cmnli",
        description="CMNLI (CLUE dev, rows with a gold label), 0-shot",
        subsets=(
            choice_subset(
                "cmnli",
                "1abf97",
                CMNLI_FILE,
                jsonl_loader(CMNLI_FILE, "cmnli", _cmnli_row, "CMNLI JSON-lines"),
                CMNLI_TEMPLATE,
            ),
        ),
    )
)
register(
    Benchmark(
        name="afqmc",
        description="AFQMC (CLUE dev), 0-shot",
        subsets=(
            choice_subset(
                "afqmc-dev",
                "901306",
                AFQMC_FILE,
                jsonl_loader(AFQMC_FILE, "afqmc", _afqmc_row, "AFQMC JSON-lines"),
                AFQMC_TEMPLATE,
            ),
        ),
    )
)
register(
    Benchmark(
        name="C3",
        description="C3 (CLUE, dialogue half, dev), 0-shot",
        subsets=(choice_subset("C3", "8c358f", C3_FILE, load_c3, C3_TEMPLATE),),
    )
)
