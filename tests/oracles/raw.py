"""Gold answers read from the raw data files, independently of the product.

The oracles receive rows as the product's loaders build them, and for most choice datasets
those loaders have already turned the raw label into the option letter (CB `contradiction` ->
`A`, BoolQ `"true"` -> `A`, COPA `0` -> `A`, ...). Taking the gold letter from such a row would
let a wrong label table in the product pass every end-to-end test. So here each dataset's raw
file is read the way the spec (Part C, "Data files and loading") describes, with the spec's
label -> letter tables written out below, and the raw record behind a loaded row is found by
columns the spec says the loader copies verbatim (texts, ids). Only the gold comes from the raw
record; nothing here imports the product.

Where two raw records share the matching columns but have different golds (a few duplicates in
the real files), `gold` accepts the loaded row's own value only if it is one of those raw golds.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import FIXTURE_DATA, REAL_DATA

Row = dict[str, Any]
Key = tuple[Any, ...]

_EXTRA_DIRS: list[Path] = []


def register_data_dir(path: Path | str) -> None:
    """Also look for raw files under `path` (a run's data dir that is neither the real data nor
    the fixtures)."""
    p = Path(path)
    if p not in _EXTRA_DIRS:
        _EXTRA_DIRS.append(p)


def _data_dirs() -> list[Path]:
    return [REAL_DATA, FIXTURE_DATA, *_EXTRA_DIRS]


# ------------------------------------------------------------------------------------ readers


def _json_lines(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8", errors="ignore") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split()


def _s(value: Any) -> str:
    return "" if value is None else str(value)


# --------------------------------------------------------------- label tables (spec Part C)

ENTAILMENT_AB = {"entailment": "A", "not_entailment": "B"}  # AX_b, RTE, AX_g (C.2, C.24, C.27)
CB_LABELS = {"contradiction": "A", "entailment": "B", "neutral": "C"}  # C.40
TRUE_FALSE_AB = {"true": "A", "false": "B"}  # BoolQ, WiC, WSC, cluewsc (C.8, C.41, C.21, C.9)
CLUE_NLI = {"entailment": "A", "contradiction": "B", "neutral": "C"}  # ocnli, cmnli, ocnli_fc
ZERO_ONE_AB = {"0": "A", "1": "B"}  # COPA, piqa, csl, bustm, afqmc (C.46, C.30, C.14, C.28, C.29)
ONE_TWO_AB = {"1": "A", "2": "B"}  # winogrande answer, storycloze answer_right_ending (C.6, C.22)
SIQA_LABELS = {"1": "A", "2": "B", "3": "C"}  # C.3
MULTIRC_LABELS = {"1": "A", "0": "B"}  # C.23: A if the option is correct
SUMMEDITS_LABELS = {"1": "A", "0": "B"}  # C.43: 1 = consistent
EPRSTMT_LABELS = {"Positive": "A", "Negative": "B"}  # C.20
TNEWS_LABELS = {  # C.37
    "news_agriculture": "A",
    "news_travel": "B",
    "news_game": "C",
    "news_tech": "D",
    "news_sports": "E",
    "news_edu": "F",
    "news_entertainment": "G",
    "news_finance": "H",
    "news_military": "I",
    "news_car": "J",
    "news_house": "K",
    "news_world": "L",
    "news_culture": "M",
    "news_story": "N",
    "news_stock": "O",
}


def _table(table: dict[str, str], value: Any, default: str | None = None) -> str:
    key = _s(value)
    if key in table:
        return table[key]
    if default is not None:
        return default
    raise AssertionError(f"raw label {value!r} is not in the spec's table {table}")


# ------------------------------------------------------------------ per-dataset raw records


@dataclass(frozen=True)
class Source:
    files: Callable[[str], tuple[str, ...]]  # abbr -> raw files to search (relative to a data dir)
    records: Callable[[Path, str], Iterable[tuple[Key, Any]]]  # (data dir, file) -> (key, gold)
    key: Callable[[Row], Key]  # the same key from a loaded row


def _fixed(*files: str) -> Callable[[str], tuple[str, ...]]:
    return lambda abbr: files


def _jsonl_source(
    files: tuple[str, ...], raw_key: Callable[[Any], Key], raw_gold: Callable[[Any], Any], row_key
) -> Source:
    def records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
        for obj in _json_lines(base / rel):
            yield raw_key(obj), raw_gold(obj)

    return Source(_fixed(*files), records, row_key)


def _with_labels_file(data: str, labels: str, raw_key, table: dict[str, str], default: str | None, row_key):
    """siqa and piqa: the records' labels live in a parallel file, one per line."""

    def records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
        if rel != data or not (base / labels).is_file():
            return
        objs = list(_json_lines(base / data))
        golds = _lines(base / labels)
        assert len(objs) == len(golds), f"{base / data}: {len(objs)} records, {len(golds)} labels"
        for obj, label in zip(objs, golds, strict=True):
            yield raw_key(obj), _table(table, label, default)

    return Source(_fixed(data), records, row_key)


def _multirc_records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
    for obj in _json_lines(base / rel):
        passage = obj["passage"]
        for question in passage["questions"]:
            for answer in question["answers"]:
                key = (passage["text"], question["question"], answer["text"])
                yield key, _table(MULTIRC_LABELS, answer["label"])


def _arc_records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
    for obj in _json_lines(base / rel):
        choices = obj["question"]["choices"]
        if len(choices) != 4:  # the loader drops these (C.45)
            continue
        labels = [c["label"] for c in choices]
        yield (obj["question"]["stem"], *(c["text"] for c in choices)), "ABCD"[labels.index(obj["answerKey"])]


def _hellaswag_ctx(query: str) -> str:
    return query.split(": ", 1)[1] if ": " in query else query


def _c3_records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
    for paragraphs, questions, _id in _json(base / rel):
        for q in questions:
            choices = list(q["choice"]) + ["[NULL]"] * (4 - len(q["choice"]))
            yield ("".join(paragraphs), q["question"], *choices), "ABCD"[q["choice"].index(q["answer"])]


def agieval_label(obj: dict[str, Any]) -> Any:
    """C.34: the letters joined if `label` is a list, else `label`; if that is empty, `answer`."""
    label = obj.get("label")
    if isinstance(label, list):
        label = "".join(label)
    return label if label else obj.get("answer")


def _agieval_records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
    for obj in _json_lines(base / rel):
        question = (obj.get("passage") or "") + obj["question"]
        options = "\n".join(obj["options"]) if obj.get("options") else ""
        yield (question, options), agieval_label(obj)


def last_boxed(text: str) -> str | None:
    """B.10: the content of the last `\\boxed{...}` (with the `\\fbox` fallback), or None."""
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                expr = text[start : i + 1]
                if expr.startswith("\\boxed{") and expr.endswith("}"):
                    return expr[len("\\boxed{") : -1]
                return None
    return None


def _math_records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
    for item in _json(base / rel).values():
        yield (item["problem"],), last_boxed(item["solution"])


def _csv_rows(path: Path) -> list[list[str]]:
    # OpenCompass reads these with the csv module over a file opened in text mode (C.7, C.13).
    with path.open(encoding="utf-8") as f:
        return list(csv.reader(f))


def _mmlu_records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
    for question, a, b, c, d, answer in _csv_rows(base / rel):  # no header, 6 fields (C.7)
        yield (question, a, b, c, d), answer


def _ceval_records(base: Path, rel: str) -> Iterator[tuple[Key, Any]]:
    header, *rows = _csv_rows(base / rel)  # id,question,A,B,C,D,answer[,explanation] (C.13)
    for values in rows:
        rec = dict(zip(header, values, strict=False))
        yield (rec["id"], rec["question"], rec["A"], rec["B"], rec["C"], rec["D"]), rec.get("answer", "")


def _few_clue(name: str) -> tuple[str, ...]:
    return (f"FewCLUE/{name}/dev_few_all.json", f"FewCLUE/{name}/test_public.json")


_SG = "SuperGLUE"

SOURCES: dict[str, Source] = {
    "obqa": _jsonl_source(
        ("openbookqa/Main/test.jsonl", "openbookqa/Additional/test_complete.jsonl"),
        lambda o: (o["question"]["stem"], *(c["text"] for c in o["question"]["choices"])),
        lambda o: o["answerKey"],
        lambda r: (r["question_stem"], r["A"], r["B"], r["C"], r["D"]),
    ),
    "AX_b": _jsonl_source(
        (f"{_SG}/AX-b/AX-b.jsonl",),
        lambda o: (o["sentence1"], o["sentence2"], _s(o["idx"])),
        lambda o: _table(ENTAILMENT_AB, o["label"]),
        lambda r: (r["sentence1"], r["sentence2"], _s(r["idx"])),
    ),
    "RTE": _jsonl_source(
        (f"{_SG}/RTE/val.jsonl",),
        lambda o: (o["premise"], o["hypothesis"], _s(o["idx"])),
        lambda o: _table(ENTAILMENT_AB, o["label"]),
        lambda r: (r["premise"], r["hypothesis"], _s(r["idx"])),
    ),
    "AX_g": _jsonl_source(
        (f"{_SG}/AX-g/AX-g.jsonl",),
        lambda o: (o["premise"], o["hypothesis"], _s(o["idx"])),
        lambda o: _table(ENTAILMENT_AB, o["label"]),
        lambda r: (r["premise"], r["hypothesis"], _s(r["idx"])),
    ),
    "CB": _jsonl_source(
        (f"{_SG}/CB/val.jsonl",),
        lambda o: (o["premise"], o["hypothesis"], _s(o["idx"])),
        lambda o: _table(CB_LABELS, o["label"]),
        lambda r: (r["premise"], r["hypothesis"], _s(r["idx"])),
    ),
    "BoolQ": _jsonl_source(
        (f"{_SG}/BoolQ/val.jsonl",),
        lambda o: (o["question"], o["passage"], _s(o["idx"])),
        lambda o: _table(TRUE_FALSE_AB, o["label"]),
        lambda r: (r["question"], r["passage"], _s(r["idx"])),
    ),
    "WiC": _jsonl_source(
        (f"{_SG}/WiC/val.jsonl",),
        lambda o: (o["word"], o["sentence1"], o["sentence2"], _s(o["idx"])),
        lambda o: _table(TRUE_FALSE_AB, o["label"]),
        lambda r: (r["word"], r["sentence1"], r["sentence2"], _s(r["idx"])),
    ),
    "WSC": _jsonl_source(
        (f"{_SG}/WSC/val.jsonl",),
        lambda o: (o["text"], o["target"]["span1_text"], o["target"]["span2_text"]),
        lambda o: _table(TRUE_FALSE_AB, o["label"]),
        lambda r: (r["text"], r["span1"], r["span2"]),
    ),
    "COPA": _jsonl_source(
        (f"{_SG}/COPA/val.jsonl",),
        lambda o: (o["premise"], o["choice1"], o["choice2"], _s(o["idx"])),
        lambda o: _table(ZERO_ONE_AB, o["label"]),
        lambda r: (r["premise"], r["choice1"], r["choice2"], _s(r["idx"])),
    ),
    "MultiRC": Source(
        _fixed(f"{_SG}/MultiRC/val.jsonl"),
        _multirc_records,
        lambda r: (r["text"], r["question"], r["answer"]),
    ),
    "summedits": _jsonl_source(
        ("summedits/summedits.jsonl",),
        lambda o: (_s(o["id"]), o["summary"]),
        lambda o: _table(SUMMEDITS_LABELS, o["label"]),
        lambda r: (_s(r["id"]), r["summary"]),
    ),
    "winogrande": _jsonl_source(
        ("winogrande/dev.jsonl",),
        lambda o: (o["sentence"], o["option1"], o["option2"]),
        lambda o: _table(ONE_TWO_AB, o["answer"], default="NULL"),
        lambda r: (r["prompt"], r["only_option1"], r["only_option2"]),
    ),
    "storycloze": _jsonl_source(
        ("xstory_cloze/en_train.jsonl", "xstory_cloze/en_eval.jsonl"),
        lambda o: (o["story_id"], o["sentence_quiz1"], o["sentence_quiz2"]),
        lambda o: _table(ONE_TWO_AB, o["answer_right_ending"]),
        lambda r: (r["story_id"], r["sentence_quiz1"], r["sentence_quiz2"]),
    ),
    "siqa": _with_labels_file(
        "siqa/dev.jsonl",
        "siqa/dev-labels.lst",
        lambda o: (o["context"], o["question"], o["answerA"], o["answerB"], o["answerC"]),
        SIQA_LABELS,
        None,
        lambda r: (r["context"], r["question"], r["answerA"], r["answerB"], r["answerC"]),
    ),
    "piqa": _with_labels_file(
        "piqa/dev.jsonl",
        "piqa/dev-labels.lst",
        lambda o: (o["goal"], o["sol1"], o["sol2"]),
        ZERO_ONE_AB,
        "NULL",
        lambda r: (r["goal"], r["sol1"], r["sol2"]),
    ),
    "hellaswag": _jsonl_source(
        ("hellaswag/hellaswag.jsonl",),
        lambda o: (_hellaswag_ctx(o["query"]), *o["choices"]),
        lambda o: "ABCD"[int(o["gold"])],
        lambda r: (r["ctx"], r["A"], r["B"], r["C"], r["D"]),
    ),
    "race": _jsonl_source(
        ("race/test/middle.jsonl", "race/test/high.jsonl"),
        lambda o: (o["article"], o["question"], *o["options"]),
        lambda o: o["answer"],
        lambda r: (r["article"], r["question"], r["A"], r["B"], r["C"], r["D"]),
    ),
    "ARC_e": Source(
        _fixed("ARC/ARC-e/ARC-Easy-Dev.jsonl"),
        _arc_records,
        lambda r: (r["question"], r["textA"], r["textB"], r["textC"], r["textD"]),
    ),
    "ARC_c": Source(
        _fixed("ARC/ARC-c/ARC-Challenge-Dev.jsonl"),
        _arc_records,
        lambda r: (r["question"], r["textA"], r["textB"], r["textC"], r["textD"]),
    ),
    "mmlu": Source(
        lambda abbr: (f"mmlu/test/{abbr.removeprefix('lukaemon_mmlu_')}_test.csv",),
        _mmlu_records,
        lambda r: (r["input"], r["A"], r["B"], r["C"], r["D"]),
    ),
    "ceval": Source(
        lambda abbr: (f"ceval/formal_ceval/val/{abbr.removeprefix('ceval-')}_val.csv",),
        _ceval_records,
        lambda r: (r["id"], r["question"], r["A"], r["B"], r["C"], r["D"]),
    ),
    # Chinese choice datasets
    "cluewsc": _jsonl_source(
        _few_clue("cluewsc"),
        lambda o: (o["text"], o["target"]["span1_text"], o["target"]["span2_text"]),
        lambda o: _table(TRUE_FALSE_AB, o["label"]),
        lambda r: (r["text"], r["span1"], r["span2"]),
    ),
    "ocnli": _jsonl_source(
        ("CLUE/OCNLI/dev.json",),
        lambda o: (o["sentence1"], o["sentence2"], _s(o["id"])),
        lambda o: _table(CLUE_NLI, o["label"], default="-"),
        lambda r: (r["sentence1"], r["sentence2"], _s(r["id"])),
    ),
    "ocnli_fc": _jsonl_source(
        _few_clue("ocnli"),
        lambda o: (o["sentence1"], o["sentence2"], _s(o["id"])),
        lambda o: _table(CLUE_NLI, o["label"], default="-"),
        lambda r: (r["sentence1"], r["sentence2"], _s(r["id"])),
    ),
    "cmnli": _jsonl_source(
        ("CLUE/cmnli/cmnli_public/dev.json",),
        lambda o: (o["sentence1"], o["sentence2"]),
        lambda o: _table(CLUE_NLI, o["label"], default="-"),
        lambda r: (r["sentence1"], r["sentence2"]),
    ),
    "csl": _jsonl_source(
        _few_clue("csl"),
        lambda o: (o["abst"], "，".join(o["keyword"])),
        lambda o: _table(ZERO_ONE_AB, o["label"]),
        lambda r: (r["abst"], r["keywords"]),
    ),
    "eprstmt": _jsonl_source(
        _few_clue("eprstmt"),
        lambda o: (o["sentence"],),
        lambda o: _table(EPRSTMT_LABELS, o["label"]),
        lambda r: (r["sentence"],),
    ),
    "chid": _jsonl_source(
        _few_clue("chid"),
        lambda o: (o["content"].replace("#idiom#", "______"), *o["candidates"]),
        lambda o: "ABCDEFG"[int(o["answer"])],
        lambda r: (r["content"], *(r[x] for x in "ABCDEFG")),
    ),
    "bustm": _jsonl_source(
        _few_clue("bustm"),
        lambda o: (_s(o["id"]), o["sentence1"], o["sentence2"]),
        lambda o: _table(ZERO_ONE_AB, o["label"]),
        lambda r: (_s(r["id"]), r["sentence1"], r["sentence2"]),
    ),
    "afqmc": _jsonl_source(
        ("CLUE/AFQMC/dev.json",),
        lambda o: (o["sentence1"], o["sentence2"]),
        lambda o: _table(ZERO_ONE_AB, o["label"]),
        lambda r: (r["sentence1"], r["sentence2"]),
    ),
    "C3": Source(
        _fixed("CLUE/C3/dev_0.json"),
        _c3_records,
        lambda r: (r["content"], r["question"], *(r[f"choice{i}"] for i in range(4))),
    ),
    "tnews": _jsonl_source(
        _few_clue("tnews"),
        lambda o: (o["sentence"],),
        lambda o: _table(TNEWS_LABELS, o["label_desc"]),
        lambda r: (r["sentence"],),
    ),
    # Exam suites and math
    "agieval": Source(
        lambda abbr: (f"AGIEval/data/v1/{abbr.removeprefix('agieval-')}.jsonl",),
        _agieval_records,
        lambda r: (r["question"], r["options"]),
    ),
    "math": Source(_fixed("math/math.json"), _math_records, lambda r: (r["problem"],)),
}

_FILE_INDEX: dict[tuple[str, Path], dict[Key, list[Any]]] = {}
_MERGED_INDEX: dict[tuple[str, tuple[Path, ...]], dict[Key, list[Any]]] = {}


def _file_index(name: str, base: Path, rel: str) -> dict[Key, list[Any]]:
    path = (base / rel).resolve()
    if (name, path) not in _FILE_INDEX:
        index: dict[Key, list[Any]] = {}
        for key, g in SOURCES[name].records(base, rel):
            bucket = index.setdefault(key, [])
            if g not in bucket:
                bucket.append(g)
        _FILE_INDEX[(name, path)] = index
    return _FILE_INDEX[(name, path)]


def _index(name: str, rel: str) -> dict[Key, list[Any]]:
    """key -> the golds of every raw record with that key, over every data dir holding `rel`
    (a file reached through symlinks is read once; everything is read once per process)."""
    bases: dict[Path, Path] = {}
    for base in _data_dirs():
        if (base / rel).is_file():
            bases.setdefault((base / rel).resolve(), base)
    cache_key = (name, tuple(bases))
    if cache_key not in _MERGED_INDEX:
        merged: dict[Key, list[Any]] = {}
        for base in bases.values():
            for key, golds in _file_index(name, base, rel).items():
                bucket = merged.setdefault(key, [])
                bucket.extend(g for g in golds if g not in bucket)
        _MERGED_INDEX[cache_key] = merged
    return _MERGED_INDEX[cache_key]


def gold(name: str, abbr: str, row: Row, column: str | None = None) -> Any:
    """The gold answer of a loaded `row` of dataset `name` (sub-dataset `abbr`), from its raw
    record. `column`: the loaded row's own gold column, consulted only to choose between raw
    records that match the row equally well but disagree."""
    source = SOURCES[name]
    key = source.key(row)
    found: list[Any] = []
    for rel in source.files(abbr):
        for g in _index(name, rel).get(key, []):
            if g not in found:
                found.append(g)
    if not found:
        raise AssertionError(
            f"{name}: no raw record in {source.files(abbr)} matches the loaded row {row!r:.300}"
        )
    if len(found) == 1:
        return found[0]
    if column is not None and row.get(column) in found:
        return row[column]
    raise AssertionError(f"{name}: raw records matching {key!r:.200} disagree: {found}")


# ------------------------------------------------------------ small spec steps the tests need


def gsm8k_reference(answer: str) -> str:
    """B.9 `gsm8k_dataset_postprocess`: the text after the first `#### `, commas removed."""
    return answer.split("#### ", 1)[1].replace(",", "")


def general_postprocess(text: str) -> str:
    """B.4: cut at the first `[\\n.,]`, drop `[^\\w\\s]`, drop the words a/an/the, squash spaces."""
    text = re.split(r"[\n.,]", text, maxsplit=1)[0]
    text = re.sub(r"[^\w\s]", "", text)
    text = re.sub(r"\b(a|an|the)\b", "", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def _after_last(text: str, marker: str) -> str:
    return text.rsplit(marker, 1)[1] if marker in text else text


def nq_normalize_reply(reply: str) -> str:
    """B.7 nq: strip, first line, lowercase, after the last `answer is`, general_postprocess."""
    text = reply.strip().split("\n")[0].lower()
    return general_postprocess(_after_last(text, "answer is"))


def triviaqa_normalize_reply(reply: str) -> str:
    """B.7 triviaqa: ... after the last `answer is`, then `a:`, then `answer:`; strip; B.4."""
    text = reply.strip().split("\n")[0].lower()
    for marker in ("answer is", "a:", "answer:"):
        text = _after_last(text, marker)
    return general_postprocess(text.strip())


def normalize_reference(reference: str) -> str:
    """B.7: a reference is normalised with B.4, then lowercased."""
    return general_postprocess(reference).lower()
