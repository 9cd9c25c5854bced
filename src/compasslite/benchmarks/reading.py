"""Reading comprehension with exact-match scoring: ReCoRD, CMRC, DRCD (spec C.17, C.12, C.48).

All three are 0-shot, one row per question, and scored by the EM scorer (B.6) on the
output of a small dataset-specific extractor (B.16).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import iter_jsonl, read_json, require
from ..errors import DataError
from ..scoring import exact_match
from ..types import Turn

RECORD_FILE = "SuperGLUE/ReCoRD/val.jsonl"
CMRC_FILE = "CLUE/CMRC/dev.json"
DRCD_FILE = "CLUE/DRCD/dev.json"

RECORD_TEMPLATE: tuple[Turn, ...] = (
    Turn.human(
        "Passage: {text}\nResult: {question}\nQuestion: What entity does ____ refer to in the result? "
        "Give me the entity name:"
    ),
)
# CMRC and DRCD share the (Simplified Chinese) prompt; note the curly quotes around 答案是.
CLUE_MRC_TEMPLATE: tuple[Turn, ...] = (
    Turn.human(
        "根据文章回答问题。你的答案应该尽可能简练，请以 ‘答案是’ 开头的句式作答。\n文章：{context}\n问：{question}\n答："
    ),
)


# --------------------------------------------------------------------------------------
# Loading


def load_record(data_dir: Path) -> list[dict[str, Any]]:
    """SuperGLUE ReCoRD JSON lines (invalid UTF-8 bytes dropped): one row per query."""
    path = require(data_dir, RECORD_FILE, "ReCoRD")
    rows: list[dict[str, Any]] = []
    for lineno, obj in iter_jsonl(path, errors="ignore"):
        try:
            text = obj["passage"]["text"].replace("@highlight", "")
            for qa in obj["qas"]:
                rows.append(
                    {
                        "text": text,
                        "question": qa["query"].replace("@placeholder", "____"),
                        "answers": [a["text"] for a in qa["answers"]],
                    }
                )
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataError(
                f"{path}:{lineno}: record is not in the SuperGLUE ReCoRD format "
                "(passage.text, qas[].query, qas[].answers[].text): "
                f"{type(exc).__name__} {exc}"
            ) from None
    if not rows:
        raise DataError(f"{path}: the file has no questions")
    return rows


def _squad_reader(relpath: str, dataset: str):
    """SQuAD-style JSON (CMRC, DRCD): one row per question; answers de-duplicated.

    OpenCompass de-duplicates with a set (arbitrary order); here the first occurrence
    order is kept, which gives the same scores."""

    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, relpath, dataset)
        data = read_json(path)
        rows: list[dict[str, Any]] = []
        try:
            articles = data["data"]
        except (KeyError, TypeError):
            raise DataError(f"{path}: expected a SQuAD-style object with a top-level 'data' list") from None
        if not isinstance(articles, list):
            raise DataError(f"{path}: 'data' must be a list of articles")
        for i, article in enumerate(articles):
            paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
            if not isinstance(paragraphs, list):
                raise DataError(f"{path}: data[{i}] has no 'paragraphs' list")
            for j, paragraph in enumerate(paragraphs):
                try:
                    context = paragraph["context"]
                    for qa in paragraph["qas"]:
                        answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                        rows.append({"context": context, "question": qa["question"], "answers": answers})
                except (KeyError, TypeError, AttributeError) as exc:
                    raise DataError(
                        f"{path}: data[{i}].paragraphs[{j}] is not in the SQuAD format "
                        "(context, qas[].question, qas[].answers[].text): "
                        f"{type(exc).__name__} {exc}"
                    ) from None
        if not rows:
            raise DataError(f"{path}: the file has no questions")
        return rows

    return load


load_cmrc = _squad_reader(CMRC_FILE, "CMRC")
load_drcd = _squad_reader(DRCD_FILE, "DRCD")


# --------------------------------------------------------------------------------------
# Extractors (B.16)


def record_postprocess(text: str) -> str:
    """ReCoRD: first line, every `Answer: ` deleted, stripped."""
    return text.strip().split("\n")[0].replace("Answer: ", "").strip()


def cmrc_postprocess(text: str) -> str:
    """CMRC/DRCD: the text between the first and second `答案是` (to the end if only one)."""
    if "答案是" in text:
        return text.split("答案是")[1]
    return text


drcd_postprocess = cmrc_postprocess


register(
    Benchmark(
        name="ReCoRD",
        description="SuperGLUE ReCoRD (validation), 0-shot, normalised exact match",
        subsets=(
            Subset(
                abbr="ReCoRD",
                version="30dea0",
                files=(RECORD_FILE,),
                load=load_record,
                template=RECORD_TEMPLATE,
                output_column="answers",
                extract=record_postprocess,
                score=exact_match,
                metrics=("score",),
            ),
        ),
    )
)

register(
    Benchmark(
        name="CMRC",
        description="CMRC 2018 (CLUE dev), Chinese reading comprehension, exact match",
        subsets=(
            Subset(
                abbr="CMRC_dev",
                version="1bd3c8",
                files=(CMRC_FILE,),
                load=load_cmrc,
                template=CLUE_MRC_TEMPLATE,
                output_column="answers",
                extract=cmrc_postprocess,
                score=exact_match,
                metrics=("score",),
            ),
        ),
    )
)

register(
    Benchmark(
        name="DRCD",
        description="DRCD (CLUE dev), Traditional Chinese reading comprehension, exact match",
        subsets=(
            Subset(
                abbr="DRCD_dev",
                version="1bd3c8",
                files=(DRCD_FILE,),
                load=load_drcd,
                template=CLUE_MRC_TEMPLATE,
                output_column="answers",
                extract=drcd_postprocess,
                score=exact_match,
                metrics=("score",),
            ),
        ),
    )
)
