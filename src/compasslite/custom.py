"""Your own datasets, evaluated like the built-in ones (same run, outputs, summary).

Two conventions are read:

- OpenCompass's custom datasets: a `.jsonl` or `.csv` file; multiple choice with columns
  `question`, `A`, `B`, ..., `answer` (a letter); open QA with `question`, `answer` (a string or
  a list of accepted strings). An optional `<file>.meta.json` beside it may set `abbr`,
  `data_type` (`mcq` or `qa`), `human_prompt`, `bot_prompt`, `metric`, `extract`, `options`.
- EvalScope's: `general_mcq`, a folder (or its `<name>_val.csv`) holding `<name>_val.csv`
  (evaluated) and `<name>_dev.csv` (few-shot examples) with `id,question,A,B,C,D,answer`;
  `general_qa`, a `.jsonl` file with `query` and `response`.

The prompt is OpenCompass's custom-dataset template: `Question: {question}` and one line per
option, then `Answer: ` (QA: the question alone). MCQ answers are taken with OpenCompass's
option-letter extraction and scored as accuracy; QA metrics: `em` (OpenCompass's EM
normalisation), `f1` (token F1), `rouge` (ROUGE-1/2/L as OpenCompass computes them),
`numeric` (the last number equals the answer), `contains` (the reply contains an answer).
Few-shot examples (`few_shot: k`) are the first k rows of the dev file.

Every problem with a file is one message naming the file and line, before any request.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections import Counter
from pathlib import Path
from typing import Any

from .benchmark import Benchmark, Subset
from .benchmarks.summarization import XSUM_METRICS
from .data import iter_csv, iter_jsonl
from .errors import ConfigError, DataError
from .extract import first_capital, first_option, general_postprocess
from .scoring import accuracy, exact_match, per_sample
from .types import Score, Turn

DATA_SUFFIXES = (".jsonl", ".csv")
QA_METRICS = ("em", "f1", "rouge", "numeric", "contains")
# Answer extraction (`extract`): MCQ `option` (OpenCompass's option-letter patterns, default)
# or `first_capital`; QA `none` (the whole reply, default), `first_line` or `after_answer_is`.
EXTRACTORS = {"mcq": ("option", "first_capital"), "qa": ("none", "first_line", "after_answer_is")}
_ANSWER_IS = re.compile(r"(?:the answer is|answer:|答案是|答案[:：])\s*(.*)", re.IGNORECASE | re.DOTALL)


def _qa_extractor(name: str):
    if name == "first_line":
        return lambda reply: reply.strip().split("\n")[0].strip()
    if name == "after_answer_is":

        def after(reply: str) -> str:
            found = _ANSWER_IS.search(reply)
            return found.group(1).strip() if found else reply

        return after
    return lambda reply: reply
_LETTERS = string.ascii_uppercase


def looks_like_path(name: str) -> bool:
    """A dataset entry naming a file or folder rather than a built-in dataset."""
    return "/" in name or "\\" in name or name.endswith((*DATA_SUFFIXES, ".json"))


def normalise_entry(entry: str | dict[str, Any]) -> dict[str, Any]:
    """A custom dataset entry as a dict with an absolute `path` (so a resume from another
    folder finds the file); unknown keys are errors."""
    spec: dict[str, Any] = {"path": entry} if isinstance(entry, str) else dict(entry)
    allowed = {"path", "type", "abbr", "few_shot", "metric", "dev_path", "extract"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(
            f"custom dataset {spec.get('path')!r}: unknown key(s) {', '.join(unknown)} "
            f"(accepted: {', '.join(sorted(allowed))})"
        )
    if not isinstance(spec.get("path"), str) or not spec["path"]:
        raise ConfigError("a custom dataset entry needs a 'path' (a .jsonl or .csv file, or a folder)")
    spec["path"] = str(Path(spec["path"]).expanduser().resolve())
    if spec.get("dev_path"):
        spec["dev_path"] = str(Path(spec["dev_path"]).expanduser().resolve())
    if spec.get("type") not in (None, "mcq", "qa"):
        raise ConfigError(f"custom dataset {spec['path']}: type must be 'mcq' or 'qa', not {spec['type']!r}")
    few = spec.get("few_shot", 0)
    if not isinstance(few, int) or isinstance(few, bool) or few < 0:
        raise ConfigError(f"custom dataset {spec['path']}: few_shot must be a whole number >= 0, not {few!r}")
    if spec.get("metric") is not None and spec["metric"] not in QA_METRICS + ("accuracy",):
        raise ConfigError(
            f"custom dataset {spec['path']}: metric {spec['metric']!r} is not one of "
            f"{', '.join(QA_METRICS)} (QA) or accuracy (MCQ)"
        )
    return spec


# ------------------------------------------------------------------ reading
def _records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(location, record) pairs of a .jsonl or .csv file (header row for CSV)."""
    if not path.is_file():
        raise DataError(f"custom dataset file not found: {path}")
    if path.suffix == ".jsonl":
        out = [(f"{path}:{line}", obj) for line, obj in iter_jsonl(path)]
    elif path.suffix == ".csv":
        rows = list(iter_csv(path))
        if not rows:
            raise DataError(f"{path}: the file has no records")
        (_, header), body = rows[0], rows[1:]
        header = [h.strip() for h in header]
        out = []
        for line, rec in body:
            if len(rec) != len(header):
                raise DataError(f"{path}:{line}: {len(rec)} fields, the header has {len(header)}")
            out.append((f"{path}:{line}", dict(zip(header, rec, strict=True))))
    else:
        raise DataError(f"{path}: a custom dataset is a .jsonl or .csv file (or an EvalScope general_mcq folder)")
    if not out:
        raise DataError(f"{path}: the file has no records")
    return out


def _meta(path: Path) -> dict[str, Any]:
    meta_path = path.with_name(path.name + ".meta.json")
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path}: expected a JSON object")
    allowed = {"abbr", "data_type", "human_prompt", "bot_prompt", "metric", "options", "infer_method", "extract"}
    unknown = sorted(set(meta) - allowed)
    if unknown:
        raise DataError(f"{meta_path}: unknown key(s) {', '.join(unknown)} (accepted: {', '.join(sorted(allowed))})")
    return meta


def _general_mcq_files(path: Path) -> tuple[Path, Path | None] | None:
    """EvalScope's general_mcq: (val file, dev file) for a folder or a `<name>_val.csv`."""
    if path.is_dir():
        vals = sorted(path.glob("*_val.csv"))
        if len(vals) != 1:
            found = ", ".join(p.name for p in vals) or "none"
            raise DataError(f"{path}: a general_mcq folder holds exactly one <name>_val.csv (found: {found})")
        path = vals[0]
    if path.name.endswith("_val.csv"):
        dev = path.with_name(path.name[: -len("_val.csv")] + "_dev.csv")
        return path, dev if dev.is_file() else None
    return None


def _options_of(records: list[tuple[str, dict[str, Any]]]) -> str:
    first = records[0][1]
    letters = ""
    for letter in _LETTERS:
        if letter in first:
            letters += letter
        else:
            break
    return letters


def _check_mcq(records: list[tuple[str, dict[str, Any]]], options: str) -> list[dict[str, Any]]:
    rows = []
    for where, rec in records:
        missing = [c for c in ("question", *options, "answer") if c not in rec]
        if missing:
            raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
        answer = str(rec["answer"]).strip()
        if answer not in options or len(answer) != 1:
            raise DataError(f"{where}: answer {rec['answer']!r} is not one of the option letters {', '.join(options)}")
        row = {"question": str(rec["question"])}
        row.update({o: str(rec[o]) for o in options})
        row["answer"] = answer
        rows.append(row)
    return rows


def _check_qa(records: list[tuple[str, dict[str, Any]]], q: str, a: str) -> list[dict[str, Any]]:
    rows = []
    for where, rec in records:
        missing = [c for c in (q, a) if c not in rec]
        if missing:
            raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
        answer = rec[a]
        if isinstance(answer, list):
            if not answer or not all(isinstance(x, (str, int, float)) for x in answer):
                raise DataError(f"{where}: answer must be a string or a non-empty list of strings")
            answers = [str(x) for x in answer]
        elif isinstance(answer, (str, int, float)) and not isinstance(answer, bool):
            answers = [str(answer)]
        else:
            raise DataError(f"{where}: answer must be a string or a list of strings, not {type(answer).__name__}")
        rows.append({"question": str(rec[q]), "answer": answers[0], "answers": answers})
    return rows


# ------------------------------------------------------------------ metrics
def token_f1(answer: str, references: list[str]) -> float:
    """SQuAD-style token F1 after OpenCompass's EM normalisation, best over the references."""
    pred = general_postprocess(answer).split()
    best = 0.0
    for ref in references:
        gold = general_postprocess(ref).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            p, r = common / len(pred), common / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def _f1_score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    values = [token_f1(str(a), r) for a, r in zip(answers, references, strict=True)]
    return Score({"f1": 100.0 * sum(values) / len(values) if values else 0.0},
                 [{"f1": v * 100, "correct": v == 1.0} for v in values])  # fmt: skip


_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*|-?\.\d+")


def numeric_equal(answer: str, references: list[str]) -> bool:
    numbers = _NUMBER.findall(answer)
    if not numbers:
        return False
    try:
        got = float(numbers[-1].replace(",", "").rstrip("."))
    except ValueError:
        return False
    for ref in references:
        try:
            if abs(got - float(ref.replace(",", ""))) <= 1e-6 * max(1.0, abs(got)):
                return True
        except ValueError:
            continue
    return False


def _contains(answer: str, references: list[str]) -> bool:
    low = answer.lower()
    return any(r.strip() and r.strip().lower() in low for r in references)


def _rouge(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    from .benchmarks.summarization import xsum_score  # numpy and rouge-score load on first use

    return xsum_score(answers, [r[0] for r in references], rows)


QA_SCORERS = {
    "em": (exact_match, ("score",)),
    "f1": (_f1_score, ("f1",)),
    "rouge": (_rouge, XSUM_METRICS),
    "numeric": (per_sample(numeric_equal, "accuracy"), ("accuracy",)),
    "contains": (per_sample(_contains, "accuracy"), ("accuracy",)),
}


# ------------------------------------------------------------------ building
def _version(*parts: Any) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=3).hexdigest()


def build(entry: str | dict[str, Any]) -> Benchmark:
    """A Benchmark of one sub-dataset for a custom dataset entry; the file is read here, so a
    bad file is reported before any request."""
    spec = normalise_entry(entry)
    path = Path(spec["path"])
    dev_path = Path(spec["dev_path"]) if spec.get("dev_path") else None
    general = _general_mcq_files(path) if (path.is_dir() or path.name.endswith("_val.csv")) else None
    if general is not None:
        path, found_dev = general
        dev_path = dev_path or found_dev
    meta = _meta(path)
    records = _records(path)
    first = records[0][1]
    kind = spec.get("type") or meta.get("data_type")
    if kind is None:
        kind = "mcq" if ("A" in first and "B" in first) else "qa"
    abbr = spec.get("abbr") or meta.get("abbr") or (path.name[: -len("_val.csv")] if general else path.stem)
    few = int(spec.get("few_shot", 0))
    if few and dev_path is None:
        raise ConfigError(f"custom dataset {path}: few_shot {few} needs a dev file (dev_path, or <name>_dev.csv)")

    if kind == "mcq":
        options = str(meta.get("options") or _options_of(records))
        if len(options) < 2:
            raise DataError(f"{records[0][0]}: a multiple-choice record needs columns A and B at least")
        rows = _check_mcq(records, options)
        human = meta.get("human_prompt") or "Question: {question}" + "".join(f"\n{o}. {{{o}}}" for o in options)
        bot = meta.get("bot_prompt") or "Answer: {answer}"
        metric = spec.get("metric") or meta.get("metric") or "accuracy"
        if metric != "accuracy":
            raise ConfigError(f"custom dataset {path}: a multiple-choice dataset is scored by accuracy, not {metric!r}")

        how = spec.get("extract") or meta.get("extract") or "option"
        if how not in EXTRACTORS["mcq"]:
            raise ConfigError(f"custom dataset {path}: extract {how!r} is not one of {', '.join(EXTRACTORS['mcq'])}")

        def extract(reply: str, options: str = options, how: str = how) -> str:
            return first_option(reply, options) if how == "option" else first_capital(reply)

        scorer, metrics = accuracy, ("accuracy",)
        ice_rows = _check_mcq(_records(dev_path), options)[:few] if few and dev_path else []
    else:
        q, a = ("query", "response") if "query" in first and "question" not in first else ("question", "answer")
        rows = _check_qa(records, q, a)
        human = meta.get("human_prompt") or "{question}"
        bot = meta.get("bot_prompt") or "{answer}"
        metric = spec.get("metric") or meta.get("metric") or "em"
        if metric not in QA_SCORERS:
            raise ConfigError(f"custom dataset {path}: metric {metric!r} is not one of {', '.join(QA_METRICS)}")
        scorer, metrics = QA_SCORERS[metric]

        how = spec.get("extract") or meta.get("extract") or "none"
        if how not in EXTRACTORS["qa"]:
            raise ConfigError(f"custom dataset {path}: extract {how!r} is not one of {', '.join(EXTRACTORS['qa'])}")
        extract = _qa_extractor(how)

        ice_rows = []
        if few and dev_path:
            dev_records = _records(dev_path)
            dq, da = ("query", "response") if "query" in dev_records[0][1] and "question" not in dev_records[0][1] else (q, a)
            ice_rows = _check_qa(dev_records, dq, da)[:few]

    turns = (Turn.human(human), Turn.bot(bot))
    files = (str(path),) + ((str(dev_path),) if few and dev_path else ())
    subset = Subset(
        abbr=abbr,
        version=_version(kind, human, bot, metric, few, how),
        files=files,
        load=lambda data_dir, rows=rows: rows,
        template=turns,
        ice_template=turns if ice_rows else None,
        load_ice=(lambda data_dir, ice=ice_rows: ice) if ice_rows else None,
        output_column="answer",
        extract=extract,
        score=scorer,
        metrics=metrics,
        reference=(lambda row: row["answers"]) if kind == "qa" else None,
    )
    return Benchmark(name=abbr, subsets=(subset,), description=f"custom {kind}: {path}")
