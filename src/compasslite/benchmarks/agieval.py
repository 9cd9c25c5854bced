"""agieval: AGIEval v1, 21 subsets, 0-shot, config agieval_gen_64afd3 (spec C.34, B.1, B.3, B.11).

Single-choice subsets use the option-letter extractor with `ABCDE` (B.1), the three
multi-answer subsets the multi-letter extractor (B.3); both are scored by accuracy. The two
cloze subsets (gaokao-mathcloze, math) are scored by AGIEval's own math-answer parser and
Hendrycks-MATH equivalence (B.11), implemented here (it differs from MATH's B.10 rules).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Group, Subset, register
from ..data import iter_jsonl, missing_fields, require
from ..errors import DataError
from ..extract import first_capital_multi, first_option
from ..scoring import accuracy
from ..types import Score, Turn
from .math import fix_fracs

_ZH_HINT = "答案是： "
_EN_HINT = "The answer is "

# (name, kind, intro line, hint, OpenCompass version) in config order.
SUBSETS: tuple[tuple[str, str, str, str, str], ...] = (
    ("gaokao-chinese", "single", "以下是一道中国高考语文选择题，请选择正确的答案。", _ZH_HINT, "774562"),
    ("gaokao-english", "single", "以下是一道中国高考英语选择题，请选择正确的答案。", _ZH_HINT, "cb5bc6"),
    ("gaokao-geography", "single", "以下是一道中国高考地理选择题，请选择正确的答案。", _ZH_HINT, "2ca56f"),
    ("gaokao-history", "single", "以下是一道中国高考历史选择题，请选择正确的答案。", _ZH_HINT, "9c3ae0"),
    ("gaokao-biology", "single", "以下是一道中国高考生物选择题，请选择正确的答案。", _ZH_HINT, "277c85"),
    ("gaokao-chemistry", "single", "以下是一道中国高考化学选择题，请选择正确的答案。", _ZH_HINT, "d62fd4"),
    ("gaokao-mathqa", "single", "以下是一道中国高考数学选择题，请选择正确的答案。", _ZH_HINT, "e2ea74"),
    ("logiqa-zh", "single", "以下是一道中国公务员考试题，请选择正确的答案。", _ZH_HINT, "03474d"),
    (
        "lsat-ar",
        "single",
        "The following is a LSAT Analytical Reasoning question. Please select the correct answer.",
        _EN_HINT,
        "ed1edf",
    ),
    (
        "lsat-lr",
        "single",
        "The following is a LSAT Logical Reasoning question. Please select the correct answer.",
        _EN_HINT,
        "ec6882",
    ),
    (
        "lsat-rc",
        "single",
        "The following is a LSAT Reading Comprehension question. Please select the correct answer.",
        _EN_HINT,
        "33077d",
    ),
    (
        "logiqa-en",
        "single",
        "The following is a Logic Reasoning question. Please select the correct answer.",
        _EN_HINT,
        "c6ee60",
    ),
    (
        "sat-math",
        "single",
        "The following is a SAT Math question. Please select the correct answer.",
        _EN_HINT,
        "6c970d",
    ),
    (
        "sat-en",
        "single",
        "The following is a SAT English question. Please select the correct answer.",
        _EN_HINT,
        "4e3fef",
    ),
    (
        "sat-en-without-passage",
        "single",
        "The following is a SAT English question. Please select the correct answer.",
        _EN_HINT,
        "4e3fef",
    ),
    (
        "aqua-rat",
        "single",
        "The following is a AQUA-RAT question. Please select the correct answer.",
        _EN_HINT,
        "c090ca",
    ),
    ("gaokao-physics", "multi", "以下是一道中国高考物理选择题，请选择正确的答案。", _ZH_HINT, "7704e3"),
    ("jec-qa-kd", "multi", "以下是一道中国司法考试基础知识题，请选择正确的答案。", _EN_HINT, "b1e586"),
    ("jec-qa-ca", "multi", "以下是一道中国司法考试案例分析题，请选择正确的答案。", _EN_HINT, "47bc29"),
    ("gaokao-mathcloze", "cloze", "以下是一道中国高考数学填空题，请填入正确的答案。", _ZH_HINT, "b2c3c3"),
    (
        "math",
        "cloze",
        "The following is a Math question. Please select the correct answer.",
        _EN_HINT,
        "e0c6d9",
    ),
)

CHINESE = (
    "gaokao-chinese", "gaokao-english", "gaokao-geography", "gaokao-history", "gaokao-biology",
    "gaokao-chemistry", "gaokao-physics", "gaokao-mathqa", "logiqa-zh", "jec-qa-kd", "jec-qa-ca",
    "gaokao-mathcloze",
)  # fmt: skip
ENGLISH = (
    "lsat-ar", "lsat-lr", "lsat-rc", "logiqa-en", "sat-math", "sat-en", "sat-en-without-passage",
    "aqua-rat", "math",
)  # fmt: skip
GAOKAO = (
    "gaokao-chinese", "gaokao-english", "gaokao-geography", "gaokao-history", "gaokao-biology",
    "gaokao-chemistry", "gaokao-physics", "gaokao-mathqa", "gaokao-mathcloze",
)  # fmt: skip
ALL = (
    "gaokao-chinese", "gaokao-english", "gaokao-geography", "gaokao-history", "gaokao-biology",
    "gaokao-chemistry", "gaokao-physics", "gaokao-mathqa", "logiqa-zh", "lsat-ar", "lsat-lr",
    "lsat-rc", "logiqa-en", "sat-math", "sat-en", "sat-en-without-passage", "aqua-rat",
    "jec-qa-kd", "jec-qa-ca", "gaokao-mathcloze", "math",
)  # fmt: skip


def abbr(name: str) -> str:
    return f"agieval-{name}"


KINDS: dict[str, str] = {abbr(name): kind for name, kind, _, _, _ in SUBSETS}  # abbr -> single/multi/cloze


def data_file(name: str) -> str:
    return f"AGIEval/data/v1/{name}.jsonl"


# ---------------------------------------------------------------------------------------------
# Loading


def _row(path: Path, lineno: int, obj: dict[str, Any]) -> dict[str, Any]:
    missing_fields(path, lineno, obj, ("passage", "question", "options", "label"))
    passage, question, options, label = obj["passage"], obj["question"], obj["options"], obj["label"]
    if not isinstance(question, str) or not (passage is None or isinstance(passage, str)):
        raise DataError(f"{path}:{lineno}: passage and question must be strings (passage may be null)")
    if options is not None and not (isinstance(options, list) and all(isinstance(o, str) for o in options)):
        raise DataError(f"{path}:{lineno}: options must be a list of strings or null")
    if label:
        if isinstance(label, list):
            if not all(isinstance(x, str) for x in label):
                raise DataError(f"{path}:{lineno}: label list must hold letters")
            label = "".join(label)
    else:
        if "answer" not in obj:
            raise DataError(f"{path}:{lineno}: record has neither a label nor an answer field")
        label = obj["answer"]  # may be None: the reference then compares as "None"
    return {
        "question": (passage or "") + question,
        "options": "\n".join(options) if options else "",
        "label": label,
    }


def _loader(name: str):
    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, data_file(name), "agieval")
        rows = [_row(path, lineno, obj) for lineno, obj in iter_jsonl(path)]
        if not rows:
            raise DataError(f"{path}: the file has no records")
        return rows

    return load


# ---------------------------------------------------------------------------------------------
# B.11: cloze answer parsing (AGIEval's parse_math_answer, zero-shot setting)

_PREFIXES = ("The answer is therefore", "答案是")
_DOLLAR = re.compile(r"\$(.*)\$")
_NUMBER = re.compile(r"(?:\$)?\d+(?:\.\d+)?(?![\w\d])")


def remove_prefix(text: str) -> str:
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
        elif prefix in text:
            text = text[text.rfind(prefix) + len(prefix) :].strip()
    return text


def last_boxed(text: str) -> str | None:
    """The last `\\boxed…` (or, failing that, `\\fbox…`) expression up to its balancing `}`."""
    idx = text.rfind("\\boxed")
    if idx < 0:
        idx = text.rfind("\\fbox")
        if idx < 0:
            return None
    depth = 0
    for i in range(idx, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[idx : i + 1]
    return None


def _unbox(expr: str | None) -> str | None:
    left = "\\boxed{"
    if expr is None or not expr.startswith(left) or not expr.endswith("}"):
        return None
    answer = expr[len(left) : -1]
    if "=" in answer:
        answer = answer.split("=")[-1].lstrip(" ")
    return answer


def parse_cloze_answer(reply: str) -> str | None:
    """B.11 steps 1-4: the answer a cloze reply states, or None when it is missing."""
    text = remove_prefix(reply)
    if "\\boxed" in text:
        return _unbox(last_boxed(text))
    answer: str | None = None
    matches = _DOLLAR.findall(text)
    if matches:
        answer = matches[-1]
        if "=" in answer:
            answer = answer.split("=")[-1].lstrip(" ")
    if answer:
        return answer
    if "=" in text:
        answer = text.split("=")[-1].lstrip(" ").rstrip(".")
        if "\\n" in answer:
            answer = answer.split("\\n")[0]
        return answer
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


# B.11 step 5: Hendrycks-MATH normalisation. Errors are raised as in the original and make
# the comparison fall back to the raw strings.


def _fix_a_slash_b(text: str) -> str:
    parts = text.split("/")
    if len(parts) != 2:
        return text
    try:
        a, b = int(parts[0]), int(parts[1])
    except ValueError:
        return text
    if text != f"{a}/{b}":
        return text
    return "\\frac{" + str(a) + "}{" + str(b) + "}"


def _remove_right_units(text: str) -> str:
    if "\\text{ " in text:
        parts = text.split("\\text{ ")
        if len(parts) != 2:
            raise ValueError("more than one \\text{ in the answer")
        return parts[0]
    return text


def _fix_sqrt(text: str) -> str:
    if "\\sqrt" not in text:
        return text
    pieces = text.split("\\sqrt")
    out = pieces[0]
    for piece in pieces[1:]:
        if piece[0] != "{":  # IndexError for a trailing \sqrt, as in the original
            out += "\\sqrt{" + piece[0] + "}" + piece[1:]
        else:
            out += "\\sqrt" + piece
    return out


def normalize_cloze(text: str) -> str:
    """Hendrycks-MATH `_strip_string` (may raise; see `cloze_equivalent`)."""
    text = text.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    text = text.replace("tfrac", "frac").replace("dfrac", "frac")
    text = text.replace("\\left", "").replace("\\right", "")
    text = text.replace("^{\\circ}", "").replace("^\\circ", "")
    text = text.replace("\\$", "")
    text = _remove_right_units(text)
    text = text.replace("\\%", "")
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if not text:
        return text
    if text[0] == ".":
        text = "0" + text
    parts = text.split("=")
    if len(parts) == 2 and len(parts[0]) <= 2:
        text = parts[1]
    text = _fix_sqrt(text)
    text = text.replace(" ", "")
    text = fix_fracs(text, trailing_frac_raises=True)
    if text == "0.5":
        text = "\\frac{1}{2}"
    return _fix_a_slash_b(text)


def cloze_equivalent(answer: str | None, reference: Any) -> bool:
    """AGIEval `is_equiv`: both missing -> equal, one missing -> not; otherwise compare the
    normalised strings, or the raw strings if normalisation fails."""
    if answer is None and reference is None:
        return True
    if answer is None or reference is None:
        return False
    try:
        return normalize_cloze(answer) == normalize_cloze(reference)
    except Exception:
        return answer == reference


def score_cloze(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    """B.11 `AGIEvalEvaluator`: parse each raw reply, then MATH equivalence; metric `score`."""
    details = []
    for reply, ref in zip(answers, references, strict=True):
        pred = parse_cloze_answer(reply)
        details.append({"correct": cloze_equivalent(pred, ref), "pred": pred, "answer": ref})
    correct = sum(d["correct"] for d in details)
    return Score({"score": 100.0 * correct / len(details) if details else 0.0}, details)


# ---------------------------------------------------------------------------------------------


def extract_single(reply: str) -> str:
    return first_option(reply, "ABCDE")


def _subset(name: str, kind: str, intro: str, hint: str, version: str) -> Subset:
    body = "\n{question}\n" if kind == "cloze" else "\n{question}\n{options}\n"
    common = dict(
        abbr=abbr(name),
        version=version,
        files=(data_file(name),),
        load=_loader(name),
        template=(Turn.human(intro + body + hint),),
        output_column="label",
        max_out_len=1024,
    )
    if kind == "cloze":
        return Subset(**common, score=score_cloze, metrics=("score",))
    extract = extract_single if kind == "single" else first_capital_multi
    return Subset(**common, extract=extract, score=accuracy, metrics=("accuracy",))


register(
    Benchmark(
        name="agieval",
        description="AGIEval v1, 21 subsets, 0-shot",
        subsets=tuple(_subset(*spec) for spec in SUBSETS),
        groups=(
            Group("agieval-chinese", tuple(map(abbr, CHINESE))),
            Group("agieval-english", tuple(map(abbr, ENGLISH))),
            Group("agieval-gaokao", tuple(map(abbr, GAOKAO))),
            Group("agieval", tuple(map(abbr, ALL))),
        ),
    )
)
