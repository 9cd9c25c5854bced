"""bbh: BIG-Bench Hard, 27 tasks, 3-shot chain of thought (spec C.16, B.14, A.12).

Each task's prompt is `"Follow the given examples and answer the question.\\n"` + the task's
few-shot text (`BBH/lib_prompt/<task>.txt` in the data dir) + `"\\n\\nQ: {input}\\nA: Let's think
step by step."`. The few-shot text lives in the data dir, while a Subset's template is declared
up front, so the loader puts the text into each row under the extra column `PROMPT_COLUMN`,
placed FIRST in the row: filling then inserts the text before `{input}` and `{target}` are
filled, which is byte-for-byte what OpenCompass does with the text baked into its template.
The spec's own columns (`input`, `target`) follow in their order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Group, Subset, register
from ..data import iter_json_records, missing_fields, read_text, require
from ..errors import DataError
from ..scoring import per_sample
from ..types import Score, Turn

PROMPT_COLUMN = "_bbh_lib_prompt"

# (task, kind, OpenCompass version) in OpenCompass's config order.
TASKS: tuple[tuple[str, str, str], ...] = (
    ("temporal_sequences", "mcq", "e43931"),
    ("disambiguation_qa", "mcq", "d52c61"),
    ("date_understanding", "mcq", "a8000b"),
    ("tracking_shuffled_objects_three_objects", "mcq", "7964c0"),
    ("penguins_in_a_table", "mcq", "fceb27"),
    ("geometric_shapes", "mcq", "503c8f"),
    ("snarks", "mcq", "42d6ca"),
    ("ruin_names", "mcq", "408de8"),
    ("tracking_shuffled_objects_seven_objects", "mcq", "7964c0"),
    ("tracking_shuffled_objects_five_objects", "mcq", "7964c0"),
    ("logical_deduction_three_objects", "mcq", "45ebc5"),
    ("hyperbaton", "mcq", "5e5016"),
    ("logical_deduction_five_objects", "mcq", "45ebc5"),
    ("logical_deduction_seven_objects", "mcq", "45ebc5"),
    ("movie_recommendation", "mcq", "cc2fde"),
    ("salient_translation_error_detection", "mcq", "5b5f35"),
    ("reasoning_about_colored_objects", "mcq", "1cb761"),
    ("multistep_arithmetic_two", "free", "30f91e"),
    ("navigate", "free", "1576d9"),
    ("dyck_languages", "free", "805bea"),
    ("word_sorting", "free", "9a3f78"),
    ("sports_understanding", "free", "d3fa77"),
    ("boolean_expressions", "free", "612c92"),
    ("object_counting", "free", "781e5c"),
    ("formal_fallacies", "free", "eada96"),
    ("causal_judgement", "free", "89eaa4"),
    ("web_of_lies", "free", "0c0441"),
)

TEMPLATE: tuple[Turn, ...] = (
    Turn.human(
        "Follow the given examples and answer the question.\n{"
        + PROMPT_COLUMN
        + "}\n\nQ: {input}\nA: Let's think step by step."
    ),
)


def abbr(task: str) -> str:
    return f"bbh-{task}"


def data_file(task: str) -> str:
    return f"BBH/data/{task}.json"


def prompt_file(task: str) -> str:
    return f"BBH/lib_prompt/{task}.txt"


def _answer_part(text: str) -> str:
    """The text between the first and second `answer is ` (stripped), or the text unchanged."""
    parts = text.split("answer is ")
    return parts[1].strip() if len(parts) > 1 else text


_PAREN_LETTER = re.compile(r"\(([A-Z])\)*")
_LETTER = re.compile(r"([A-Z])")
_BOLD = re.compile(r"\*\*(.*?)\*\*")


def mcq_postprocess(text: str) -> str:
    """B.14 `bbh_mcq_postprocess` (replies and references of multiple-choice tasks)."""
    ans = _answer_part(text)
    match = _PAREN_LETTER.search(ans) or _LETTER.search(ans)
    return match.group(1) if match else ans


def freeform_postprocess(text: str) -> str:
    """B.14 `bbh_freeform_postprocess` (applied inside the free-form scorer)."""
    ans = _answer_part(text)
    ans = ans.split("\n")[0].strip()
    if ans.endswith("."):
        ans = ans[:-1].strip()
    match = _BOLD.search(ans)
    return match.group(1) if match else ans


score_mcq = per_sample(lambda answer, ref: answer == ref, "score")


def score_freeform(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    """B.14 `BBHEvaluator`: post-process each raw reply, exact case-sensitive equality."""
    details = []
    for reply, ref in zip(answers, references, strict=True):
        pred = freeform_postprocess(reply)
        details.append({"correct": pred == ref, "pred": pred, "answer": ref})
    correct = sum(d["correct"] for d in details)
    return Score({"score": 100.0 * correct / len(details) if details else 0.0}, details)


def _loader(task: str):
    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, data_file(task), "bbh")
        lib = read_text(require(data_dir, prompt_file(task), "bbh"))
        rows = []
        for where, obj in iter_json_records(path, "examples"):
            missing_fields(path, where, obj, ("input", "target"))
            if not isinstance(obj["target"], str):
                raise DataError(f"{path}:{where}: target must be a string")
            rows.append({PROMPT_COLUMN: lib, "input": obj["input"], "target": obj["target"]})
        return rows

    return load


def _subset(task: str, kind: str, version: str) -> Subset:
    common = dict(
        abbr=abbr(task),
        version=version,
        files=(data_file(task), prompt_file(task)),
        load=_loader(task),
        template=TEMPLATE,
        output_column="target",
        max_out_len=512,
        metrics=("score",),
    )
    if kind == "mcq":
        return Subset(
            **common,
            extract=mcq_postprocess,
            reference=lambda row: mcq_postprocess(row["target"]),
            score=score_mcq,
        )
    return Subset(**common, score=score_freeform)


MCQ_TASKS = tuple(t for t, k, _ in TASKS if k == "mcq")
FREEFORM_TASKS = tuple(t for t, k, _ in TASKS if k == "free")

register(
    Benchmark(
        name="bbh",
        description="BIG-Bench Hard, 27 tasks, 3-shot chain of thought",
        subsets=tuple(_subset(t, k, v) for t, k, v in TASKS),
        groups=(Group("bbh", tuple(abbr(t) for t, _, _ in TASKS)),),
    )
)
