"""Commonsense multiple choice: obqa, siqa, winogrande, piqa, hellaswag, storycloze
(spec C.1, C.3, C.6, C.22, C.30, C.42; siqa's edit-distance scorer is B.5 EDAcc).

All are 0-shot with a single HUMAN turn. siqa and piqa read the dev questions plus a
labels file paired by line; their train files (opened but unused by OpenCompass) are
not required.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from ..benchmark import Benchmark, Subset, register
from ..data import iter_jsonl, missing_fields, read_text, require
from ..errors import DataError
from ..extract import first_option
from ..scoring import accuracy
from ..types import Score, Turn

Rows = list[dict[str, Any]]


def _option_ab(reply: str) -> str:
    return first_option(reply, "AB")


def _option_abcd(reply: str) -> str:
    return first_option(reply, "ABCD")


def _no_records(path: Path) -> DataError:
    return DataError(f"{path}: the file has no records")


# --------------------------------------------------------------------------- obqa (C.1)

OBQA_MAIN = "openbookqa/Main/test.jsonl"
OBQA_FACT = "openbookqa/Additional/test_complete.jsonl"


def _obqa_reader(relpath: str):
    def load(data_dir: Path) -> Rows:
        path = require(data_dir, relpath, "obqa")
        rows = []
        for lineno, obj in iter_jsonl(path):
            try:
                choices = obj["question"]["choices"]
                row = {
                    "A": choices[0]["text"],
                    "B": choices[1]["text"],
                    "C": choices[2]["text"],
                    "D": choices[3]["text"],
                    "question_stem": obj["question"]["stem"],
                    "answerKey": obj["answerKey"],
                }
            except (KeyError, IndexError, TypeError) as exc:
                raise DataError(
                    f"{path}:{lineno}: record is not in the OpenBookQA format ({exc!r})"
                ) from None
            if "fact1" in obj:
                row["fact1"] = obj["fact1"]
            rows.append(row)
        if not rows:
            raise _no_records(path)
        return rows

    return load


def _obqa_subset(abbr: str, version: str, relpath: str, prompt: str) -> Subset:
    return Subset(
        abbr=abbr,
        version=version,
        files=(relpath,),
        load=_obqa_reader(relpath),
        template=(Turn.human(prompt),),
        output_column="answerKey",
        extract=_option_abcd,
        score=accuracy,
        metrics=("accuracy",),
    )


_OBQA_QUESTION = "Question: {question_stem}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:"

register(
    Benchmark(
        name="obqa",
        description="OpenBookQA test, without and with the supporting fact, 0-shot",
        subsets=(
            _obqa_subset("openbookqa", "2e1c32", OBQA_MAIN, _OBQA_QUESTION),
            _obqa_subset(
                "openbookqa_fact", "60bd99", OBQA_FACT, "Given the fact: {fact1}\n" + _OBQA_QUESTION
            ),
        ),
    )
)


# ------------------------------------------------------------ questions + labels files


def _labels(path: Path) -> list[tuple[int, int]]:
    """(line number, integer) for every non-blank line of a `*-labels.lst` file."""
    out = []
    for lineno, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            out.append((lineno, int(line.strip())))
        except ValueError:
            raise DataError(f"{path}:{lineno}: expected an integer label, found {line.strip()!r}") from None
    return out


def _paired(data_dir: Path, data_rel: str, labels_rel: str, name: str):
    """Questions and labels paired by position; both files must hold the same number of records."""
    data_path = require(data_dir, data_rel, name)
    labels_path = require(data_dir, labels_rel, name)
    records = list(iter_jsonl(data_path))
    labels = _labels(labels_path)
    if not records:
        raise _no_records(data_path)
    if len(records) != len(labels):
        raise DataError(
            f"{data_path} has {len(records)} records but {labels_path} has {len(labels)} labels; "
            "they are paired line by line"
        )
    for (lineno, obj), (label_lineno, label) in zip(records, labels, strict=True):
        yield data_path, lineno, obj, labels_path, label_lineno, label


# --------------------------------------------------------------------------- siqa (C.3)

SIQA_DEV = "siqa/dev.jsonl"
SIQA_LABELS = "siqa/dev-labels.lst"


def load_siqa(data_dir: Path) -> Rows:
    """siqaDataset_V2 on the dev split: the record's keys plus `all_labels` and `label`."""
    rows = []
    for path, lineno, obj, labels_path, label_lineno, label in _paired(
        data_dir, SIQA_DEV, SIQA_LABELS, "siqa"
    ):
        missing_fields(path, lineno, obj, ("context", "question", "answerA", "answerB", "answerC"))
        if label not in (1, 2, 3):
            raise DataError(f"{labels_path}:{label_lineno}: expected label 1, 2 or 3, found {label}")
        row = dict(obj)
        row["all_labels"] = {
            "candidates": [[f"{x}. {obj['answer' + x]}", x, obj["answer" + x]] for x in "ABC"],
            "label": label - 1,
        }
        row["label"] = " ABC"[label]
        rows.append(row)
    return rows


def _closest(reply: str, candidates: list[Any]) -> int:
    """Index of the candidate nearest to the reply (min over its strings); ties -> lowest index."""
    best, best_dist = 0, None
    for i, cand in enumerate(candidates):
        strings = [cand] if isinstance(cand, str) else cand
        dist = min(Levenshtein.distance(reply, s) for s in strings)
        if best_dist is None or dist < best_dist:
            best, best_dist = i, dist
    return best


def edit_distance_accuracy(answers: list[Any], references: list[Any], rows: Rows) -> Score:
    """B.5 EDAcc: the predicted index is the candidate closest in Levenshtein distance to the raw reply."""
    details = []
    for answer, ref in zip(answers, references, strict=True):
        predicted = _closest("" if answer is None else str(answer), ref["candidates"])
        details.append(
            {"correct": predicted == ref["label"], "predicted_index": predicted, "label": ref["label"]}
        )
    n = len(details)
    value = 100.0 * sum(d["correct"] for d in details) / n if n else 0.0
    return Score({"accuracy": value}, details)


register(
    Benchmark(
        name="siqa",
        description="Social IQa dev, scored by edit distance to the options, 0-shot",
        subsets=(
            Subset(
                abbr="siqa",
                version="e78df3",
                files=(SIQA_DEV, SIQA_LABELS),
                load=load_siqa,
                template=(
                    Turn.human(
                        "{context}\nQuestion: {question}\nA. {answerA}\nB. {answerB}\nC. {answerC}\nAnswer:"
                    ),
                ),
                output_column="all_labels",
                score=edit_distance_accuracy,
                metrics=("accuracy",),
            ),
        ),
    )
)


# --------------------------------------------------------------------------- piqa (C.30)

PIQA_DEV = "piqa/dev.jsonl"
PIQA_LABELS = "piqa/dev-labels.lst"


def load_piqa(data_dir: Path) -> Rows:
    """PIQADatasetV2 on the dev split: goal, sol1, sol2, answer (`id` dropped)."""
    rows = []
    for path, lineno, obj, labels_path, label_lineno, label in _paired(
        data_dir, PIQA_DEV, PIQA_LABELS, "piqa"
    ):
        missing_fields(path, lineno, obj, ("goal", "sol1", "sol2"))
        if label > 1:
            raise DataError(f"{labels_path}:{label_lineno}: expected label 0 or 1, found {label}")
        row = {k: v for k, v in obj.items() if k != "id"}
        row["answer"] = "NULL" if label < 0 else "AB"[label]
        rows.append(row)
    return rows


register(
    Benchmark(
        name="piqa",
        description="PIQA dev (physical commonsense), 0-shot",
        subsets=(
            Subset(
                abbr="piqa",
                version="1194eb",
                files=(PIQA_DEV, PIQA_LABELS),
                load=load_piqa,
                template=(Turn.human("{goal}\nA. {sol1}\nB. {sol2}\nAnswer:"),),
                output_column="answer",
                extract=_option_ab,
                score=accuracy,
                metrics=("accuracy",),
            ),
        ),
    )
)


# --------------------------------------------------------------------- winogrande (C.6)

WINOGRANDE_DEV = "winogrande/dev.jsonl"


def load_winogrande(data_dir: Path) -> Rows:
    """WinograndeDatasetV2: the sentence with its blank, both options, both filled sentences."""
    path = require(data_dir, WINOGRANDE_DEV, "winogrande")
    rows = []
    for lineno, obj in iter_jsonl(path):
        missing_fields(path, lineno, obj, ("sentence", "option1", "option2", "answer"))
        sentence, answer = obj["sentence"], obj["answer"]
        if not isinstance(sentence, str) or "_" not in sentence:
            raise DataError(f"{path}:{lineno}: `sentence` has no `_` blank")
        if answer not in ("1", "2", ""):
            raise DataError(f"{path}:{lineno}: expected answer '1', '2' or '', found {answer!r}")
        rows.append(
            {
                "prompt": sentence,
                "only_option1": obj["option1"],
                "only_option2": obj["option2"],
                "opt1": sentence.replace("_", str(obj["option1"])),
                "opt2": sentence.replace("_", str(obj["option2"])),
                "answer": " AB"[int(answer)] if answer else "NULL",
                "cont": sentence.split("_")[1],
            }
        )
    if not rows:
        raise _no_records(path)
    return rows


register(
    Benchmark(
        name="winogrande",
        description="WinoGrande dev, 0-shot",
        subsets=(
            Subset(
                abbr="winogrande",
                version="458220",
                files=(WINOGRANDE_DEV,),
                load=load_winogrande,
                template=(Turn.human("Question: {prompt}\nA. {only_option1}\nB. {only_option2}\nAnswer:"),),
                output_column="answer",
                extract=_option_ab,
                score=accuracy,
                metrics=("accuracy",),
            ),
        ),
    )
)


# ---------------------------------------------------------------------- hellaswag (C.42)

HELLASWAG_FILE = "hellaswag/hellaswag.jsonl"


def load_hellaswag(data_dir: Path) -> Rows:
    """HellaswagDataset_V2: ctx = query after its first ': ', the four endings, the gold letter."""
    path = require(data_dir, HELLASWAG_FILE, "hellaswag")
    rows = []
    for lineno, obj in iter_jsonl(path):
        missing_fields(path, lineno, obj, ("query", "choices", "gold"))
        choices, gold = obj["choices"], obj["gold"]
        if not isinstance(choices, list) or len(choices) < 4:
            raise DataError(f"{path}:{lineno}: `choices` must be a list of 4 endings")
        if not isinstance(gold, int) or isinstance(gold, bool) or not 0 <= gold <= 3:
            raise DataError(f"{path}:{lineno}: expected `gold` 0..3, found {gold!r}")
        rows.append(
            {
                "ctx": str(obj["query"]).split(": ", 1)[-1],
                "A": choices[0],
                "B": choices[1],
                "C": choices[2],
                "D": choices[3],
                "label": "ABCD"[gold],
            }
        )
    if not rows:
        raise _no_records(path)
    return rows


register(
    Benchmark(
        name="hellaswag",
        description="HellaSwag validation, 0-shot",
        subsets=(
            Subset(
                abbr="hellaswag",
                version="6faab5",
                files=(HELLASWAG_FILE,),
                load=load_hellaswag,
                template=(
                    Turn.human(
                        "{ctx}\nQuestion: Which ending makes the most sense?\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n"
                        "You may choose from 'A', 'B', 'C', 'D'.\nAnswer:"
                    ),
                ),
                output_column="label",
                extract=_option_abcd,
                score=accuracy,
                metrics=("accuracy",),
            ),
        ),
    )
)


# --------------------------------------------------------------------- storycloze (C.22)

STORY_FILES = ("xstory_cloze/en_train.jsonl", "xstory_cloze/en_eval.jsonl")
_SENTENCES = ("input_sentence_1", "input_sentence_2", "input_sentence_3", "input_sentence_4")


def load_storycloze(data_dir: Path) -> Rows:
    """StoryClozeDatasetV2 (en): train rows then eval rows, ending as A/B, plus the joined context."""
    paths = [require(data_dir, rel, "storycloze") for rel in STORY_FILES]
    rows = []
    for path in paths:
        before = len(rows)
        for lineno, obj in iter_jsonl(path):
            missing_fields(
                path, lineno, obj, _SENTENCES + ("sentence_quiz1", "sentence_quiz2", "answer_right_ending")
            )
            ending = obj["answer_right_ending"]
            if type(ending) is not int or ending not in (1, 2):
                raise DataError(f"{path}:{lineno}: expected answer_right_ending 1 or 2, found {ending!r}")
            row = dict(obj)
            row["answer_right_ending"] = " AB"[ending]
            row["context"] = " ".join(str(obj[k]) for k in _SENTENCES)
            rows.append(row)
        if len(rows) == before:
            raise _no_records(path)
    return rows


register(
    Benchmark(
        name="storycloze",
        description="XStoryCloze English (train + eval rows), 0-shot",
        subsets=(
            Subset(
                abbr="story_cloze",
                version="7f656a",
                files=STORY_FILES,
                load=load_storycloze,
                template=(
                    Turn.human(
                        "{context}\nQuestion: Which ending makes the most sense?\nA. {sentence_quiz1}\n"
                        "B. {sentence_quiz2}\nYou may choose between 'A' and 'B'.\nAnswer:"
                    ),
                ),
                output_column="answer_right_ending",
                extract=_option_ab,
                score=accuracy,
                metrics=("accuracy",),
            ),
        ),
    )
)
