"""Xsum and lcsts: summarisation scored by ROUGE (spec C.33, C.31, B.15, B.16).

Xsum uses Google's `rouge_score` exactly as the Hugging Face `rouge` metric that
OpenCompass's RougeEvaluator calls: rouge1/rouge2/rougeL/rougeLsum, no stemming, the
default tokenizer, per-sample F-measures aggregated by `BootstrapAggregator` (1000
resamples, the `mid` value), with Python's and NumPy's generators seeded with 0 right
before scoring (and restored afterwards).

lcsts uses OpenCompass's JiebaRougeEvaluator recipe: `general_postprocess` on answers and
references, jieba tokens joined by spaces, empty texts replaced by placeholders, and
`rouge_chinese.Rouge().get_scores(..., avg=True)`.

The scoring packages are imported when scoring, so importing compasslite stays fast.
Results depend on their versions (checked: rouge-score 0.1.2, rouge-chinese 1.0.3,
jieba 0.42.1).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import read_text, require
from ..errors import DataError
from ..extract import general_postprocess
from ..types import Score, Turn

# --------------------------------------------------------------------------- Xsum

XSUM_FILE = "Xsum/dev.jsonl"
XSUM_TEMPLATE = (
    Turn.human("Document：{dialogue}\nBased on the previous text, provide a brief single summary:"),
)
XSUM_METRICS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
XSUM_MAX_LINES = 1000  # OpenCompass reads only the first 1000 lines
BOOTSTRAP_SEED = 0


def load_xsum(data_dir: Path) -> list[dict[str, Any]]:
    """The first 1000 lines (read with invalid bytes dropped); lines whose dialogue or
    summary is a float (NaN) are skipped."""
    path = require(data_dir, XSUM_FILE, "Xsum")
    lines = read_text(path, errors="ignore").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    rows = []
    for lineno, line in enumerate(lines[:XSUM_MAX_LINES], start=1):
        try:
            obj = json.loads(line.strip())
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}:{lineno}: malformed JSON line ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(obj, dict) or "dialogue" not in obj or "summary" not in obj:
            raise DataError(f"{path}:{lineno}: expected an object with 'dialogue' and 'summary'")
        dialogue, summary = obj["dialogue"], obj["summary"]
        if isinstance(dialogue, float) or isinstance(summary, float):
            continue
        rows.append({"dialogue": dialogue, "summary": summary})
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


def xsum_postprocess(text: str) -> str:
    """B.16 `Xsum`: strip, keep the first line, strip."""
    return text.strip().split("\n")[0].strip()


def xsum_score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    """B.15 ROUGE as OpenCompass's RougeEvaluator computes it (values x 100)."""
    import random

    import numpy as np
    from rouge_score import rouge_scorer, scoring

    if not answers:
        return Score(dict.fromkeys(XSUM_METRICS, 0.0), [])
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(BOOTSTRAP_SEED)
    np.random.seed(BOOTSTRAP_SEED)
    try:
        scorer = rouge_scorer.RougeScorer(list(XSUM_METRICS), use_stemmer=False)
        aggregator = scoring.BootstrapAggregator()
        details = []
        for answer, reference in zip(answers, references, strict=True):
            sample = scorer.score(str(reference), str(answer))  # (target, prediction)
            aggregator.add_scores(sample)
            details.append({k: sample[k].fmeasure * 100 for k in XSUM_METRICS})
        result = aggregator.aggregate()
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return Score({k: float(result[k].mid.fmeasure) * 100 for k in XSUM_METRICS}, details)


# --------------------------------------------------------------------------- lcsts

LCSTS_SRC = "LCSTS/test.src.txt"
LCSTS_TGT = "LCSTS/test.tgt.txt"
LCSTS_TEMPLATE = (Turn.human("阅读以下文章，并给出简短的摘要：{content}\n摘要如下："),)
LCSTS_METRICS = ("rouge1", "rouge2", "rougeL")


def _text_lines(path: Path) -> list[str]:
    """Lines as Python's readlines() gives them (universal newlines), without the ends."""
    text = read_text(path)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def load_lcsts(data_dir: Path) -> list[dict[str, Any]]:
    """Sources and reference summaries paired by line number, each stripped."""
    src_path = require(data_dir, LCSTS_SRC, "lcsts")
    tgt_path = require(data_dir, LCSTS_TGT, "lcsts")
    src, tgt = _text_lines(src_path), _text_lines(tgt_path)
    if len(src) != len(tgt):
        raise DataError(
            f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}: the files must pair line by line"
        )
    if not src:
        raise DataError(f"{src_path}: the file has no records")
    return [{"content": s.strip(), "abst": t.strip()} for s, t in zip(src, tgt, strict=True)]


def lcsts_postprocess(text: str) -> str:
    """B.16 `lcsts_postprocess`."""
    text = text.strip().split("\n")[0].replace("своей", "").strip()
    if text.startswith("1. "):
        text = text.replace("1. ", "")
    if text.startswith("- "):
        text = text.replace("- ", "")
    return text.strip("“，。！”")


def _jieba_text(text: str, placeholder: str) -> str:
    import jieba

    tokens = " ".join(jieba.cut(general_postprocess(str(text))))
    return tokens if tokens else placeholder


def lcsts_score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    """B.15 Jieba ROUGE: the mean over samples of rouge_chinese's F values, x 100."""
    import jieba
    from rouge_chinese import Rouge

    if not answers:
        return Score(dict.fromkeys(LCSTS_METRICS, 0.0), [])
    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
    preds = [_jieba_text(a, "__PREDPLACEHOLDER__") for a in answers]
    refs = [_jieba_text(r, "__REFRPLACEHOLDER__") for r in references]
    per_sample = Rouge().get_scores(preds, refs, avg=False)
    keys = {"rouge1": "rouge-1", "rouge2": "rouge-2", "rougeL": "rouge-l"}
    metrics: dict[str, float | int] = {}
    for name, key in keys.items():
        total = 0  # summed in rouge_chinese's own order, so the mean is bit-identical to avg=True
        for sample in per_sample:
            total = total + sample[key]["f"]
        metrics[name] = total / len(per_sample) * 100
    details = [{name: s[key]["f"] * 100 for name, key in keys.items()} for s in per_sample]
    return Score(metrics, details)


register(
    Benchmark(
        name="Xsum",
        description="XSum (first 1000 dev documents), one-sentence summary, ROUGE",
        subsets=(
            Subset(
                abbr="Xsum",
                version="31397e",
                files=(XSUM_FILE,),
                load=load_xsum,
                template=XSUM_TEMPLATE,
                output_column="summary",
                extract=xsum_postprocess,
                score=xsum_score,
                metrics=XSUM_METRICS,
            ),
        ),
    )
)

register(
    Benchmark(
        name="lcsts",
        description="LCSTS Chinese short-text summarisation, Jieba ROUGE",
        subsets=(
            Subset(
                abbr="lcsts",
                version="8ee1fe",
                files=(LCSTS_SRC, LCSTS_TGT),
                load=load_lcsts,
                template=LCSTS_TEMPLATE,
                output_column="abst",
                extract=lcsts_postprocess,
                score=lcsts_score,
                metrics=LCSTS_METRICS,
            ),
        ),
    )
)
