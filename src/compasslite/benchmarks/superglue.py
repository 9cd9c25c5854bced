"""SuperGLUE and its diagnostics: AX_b, AX_g, BoolQ, CB, COPA, MultiRC, RTE, WiC, WSC
(spec C.2, C.8, C.21, C.23, C.24, C.27, C.40, C.41, C.46).

All nine are 0-shot, single HUMAN turn, one sub-dataset each. AX_b, RTE and AX_g do not
load in ms-opencompass 0.1.6 (Part D); here they read their files as the spec describes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import iter_jsonl, missing_fields, require
from ..errors import DataError
from ..extract import first_capital, first_option
from ..scoring import accuracy
from ..types import Turn

LabelMap = Callable[[Any], str]


def _from_table(table: dict[str, str]) -> LabelMap:
    """A label converter for string labels (`entailment` -> `A`, ...)."""

    def convert(value: Any) -> str:
        if isinstance(value, str) and value in table:
            return table[value]
        raise ValueError(f"expected one of {', '.join(repr(k) for k in table)}")

    return convert


def _truth(value: Any) -> str:
    """`"true"` -> A, `"false"` -> B (OpenCompassData copies); JSON booleans are accepted too (Part D)."""
    if value is True or value == "true":
        return "A"
    if value is False or value == "false":
        return "B"
    raise ValueError("expected 'true' or 'false'")


def _index(letters: str) -> LabelMap:
    """An integer label used as an index into `letters` (COPA `'AB'[label]`, MultiRC `'BA'[label]`)."""

    def convert(value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(letters):
            return letters[value]
        raise ValueError(f"expected an integer 0..{len(letters) - 1}")

    return convert


_ENTAILMENT = _from_table({"entailment": "A", "not_entailment": "B"})
_CB = _from_table({"contradiction": "A", "entailment": "B", "neutral": "C"})


def _label(path: Path, lineno: int, value: Any, convert: LabelMap) -> str:
    try:
        return convert(value)
    except ValueError as exc:
        raise DataError(f"{path}:{lineno}: unexpected label {value!r} ({exc})") from None


def _keep_keys(relpath: str, name: str, required: tuple[str, ...], convert: LabelMap):
    """Loader for files whose rows keep the record's keys in file order, with `label` converted."""

    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, relpath, name)
        rows = []
        for lineno, obj in iter_jsonl(path):
            missing_fields(path, lineno, obj, required + ("label",))
            row = dict(obj)
            row["label"] = _label(path, lineno, obj["label"], convert)
            rows.append(row)
        if not rows:
            raise DataError(f"{path}: the file has no records")
        return rows

    return load


WSC_FILE = "SuperGLUE/WSC/val.jsonl"
MULTIRC_FILE = "SuperGLUE/MultiRC/val.jsonl"


def load_wsc(data_dir: Path) -> list[dict[str, Any]]:
    """WSCDatasetV2: span1, span2, raw text, label."""
    path = require(data_dir, WSC_FILE, "WSC")
    rows = []
    for lineno, obj in iter_jsonl(path):
        missing_fields(path, lineno, obj, ("text", "target", "label"))
        target = obj["target"]
        if not isinstance(target, dict):
            raise DataError(f"{path}:{lineno}: `target` is not an object")
        missing_fields(path, lineno, target, ("span1_text", "span2_text"))
        rows.append(
            {
                "span1": target["span1_text"],
                "span2": target["span2_text"],
                "text": obj["text"],
                "label": _label(path, lineno, obj["label"], _truth),
            }
        )
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


def load_multirc(data_dir: Path) -> list[dict[str, Any]]:
    """MultiRCDatasetV2: one row per answer option of every question of every passage."""
    path = require(data_dir, MULTIRC_FILE, "MultiRC")
    to_letter = _index("BA")
    rows = []
    for lineno, obj in iter_jsonl(path):
        try:
            passage = obj["passage"]
            text = passage["text"]
            for question in passage["questions"]:
                for answer in question["answers"]:
                    rows.append(
                        {
                            "text": text,
                            "question": question["question"],
                            "answer": answer["text"],
                            "label": _label(path, lineno, answer["label"], to_letter),
                        }
                    )
        except (KeyError, TypeError) as exc:
            raise DataError(
                f"{path}:{lineno}: record is not in the SuperGLUE MultiRC format ({exc!r})"
            ) from None
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


_ENTAILED = "\nIs the sentence below entailed by the sentence above?\nA. Yes\nB. No\nAnswer:"


def _option_ab(reply: str) -> str:
    return first_option(reply, "AB")


def _option_abc(reply: str) -> str:
    return first_option(reply, "ABC")


def _subset(
    abbr: str,
    version: str,
    relpath: str,
    load: Callable[[Path], list[dict[str, Any]]],
    prompt: str,
    extract: Callable[[str], str],
) -> Subset:
    return Subset(
        abbr=abbr,
        version=version,
        files=(relpath,),
        load=load,
        template=(Turn.human(prompt),),
        output_column="label",
        extract=extract,
        score=accuracy,
        metrics=("accuracy",),
    )


def _single(name: str, description: str, subset: Subset) -> Benchmark:
    return register(Benchmark(name=name, subsets=(subset,), description=description))


_AXB = "SuperGLUE/AX-b/AX-b.jsonl"
_AXG = "SuperGLUE/AX-g/AX-g.jsonl"
_RTE = "SuperGLUE/RTE/val.jsonl"
_BOOLQ = "SuperGLUE/BoolQ/val.jsonl"
_CB_FILE = "SuperGLUE/CB/val.jsonl"
_COPA = "SuperGLUE/COPA/val.jsonl"
_WIC = "SuperGLUE/WiC/val.jsonl"

_single(
    "AX_b",
    "SuperGLUE AX-b broad-coverage diagnostics (entailment), 0-shot",
    _subset(
        "AX_b",
        "4dfefa",
        _AXB,
        _keep_keys(_AXB, "AX_b", ("sentence1", "sentence2"), _ENTAILMENT),
        "{sentence1}\n{sentence2}" + _ENTAILED,
        _option_ab,
    ),
)
_single(
    "BoolQ",
    "SuperGLUE BoolQ (yes/no questions on a passage), 0-shot",
    _subset(
        "BoolQ",
        "883d50",
        _BOOLQ,
        _keep_keys(_BOOLQ, "BoolQ", ("question", "passage"), _truth),
        "{passage}\nQuestion: {question}\nA. Yes\nB. No\nAnswer:",
        first_capital,
    ),
)
_single(
    "WSC",
    "SuperGLUE WSC (Winograd coreference), 0-shot",
    _subset(
        "WSC",
        "7902a7",
        WSC_FILE,
        load_wsc,
        # The grammatical slip "Is ... refers" is OpenCompass's own wording.
        "{text}\nIs '{span1}' and '{span2}' refers to the same entity in the above sentence?\nA. Yes\nB. No\nAnswer:",
        first_capital,
    ),
)
_single(
    "MultiRC",
    "SuperGLUE MultiRC, accuracy over answer options, 0-shot",
    _subset(
        "MultiRC",
        "27071f",
        MULTIRC_FILE,
        load_multirc,
        "{text}\nQuestion: {question}\nAnswer: {answer}\nIs it true?\nA. Yes\nB. No\nAnswer:",
        _option_ab,
    ),
)
_single(
    "RTE",
    "SuperGLUE RTE (textual entailment), 0-shot",
    _subset(
        "RTE",
        "68aac7",
        _RTE,
        _keep_keys(_RTE, "RTE", ("premise", "hypothesis"), _ENTAILMENT),
        "{premise}\n{hypothesis}" + _ENTAILED,
        _option_ab,
    ),
)
_single(
    "AX_g",
    "SuperGLUE AX-g Winogender diagnostics (entailment), 0-shot",
    _subset(
        "AX_g",
        "68aac7",
        _AXG,
        _keep_keys(_AXG, "AX_g", ("premise", "hypothesis"), _ENTAILMENT),
        "{premise}\n{hypothesis}" + _ENTAILED,
        _option_ab,
    ),
)
_single(
    "CB",
    "SuperGLUE CommitmentBank (3-way entailment), 0-shot",
    _subset(
        "CB",
        "854c6c",
        _CB_FILE,
        _keep_keys(_CB_FILE, "CB", ("premise", "hypothesis"), _CB),
        "{premise}\n{hypothesis}\nWhat is the relation between the two sentences?\n"
        "A. Contradiction\nB. Entailment\nC. Neutral\nAnswer:",
        _option_abc,
    ),
)
_single(
    "WiC",
    "SuperGLUE WiC (word in context), 0-shot",
    _subset(
        "WiC",
        "d06864",
        _WIC,
        _keep_keys(_WIC, "WiC", ("word", "sentence1", "sentence2"), _truth),
        # "sentenses" is OpenCompass's own spelling.
        "Sentence 1: {sentence1}\nSentence 2: {sentence2}\nAre '{word}' in the above two sentenses the same?"
        "\nA. Yes\nB. No\nAnswer:",
        first_capital,
    ),
)
_single(
    "COPA",
    "SuperGLUE COPA (choice of plausible alternatives), 0-shot",
    _subset(
        "COPA",
        "91ca53",
        _COPA,
        _keep_keys(_COPA, "COPA", ("premise", "choice1", "choice2", "question"), _index("AB")),
        "{premise}\nQuestion: Which may be the {question}?\nA. {choice1}\nB. {choice2}\nAnswer:",
        _option_ab,
    ),
)
