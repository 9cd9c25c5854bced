"""math: the MATH competition problems, 0-shot with a \\boxed{} instruction (spec C.18, B.10).

This is the EvalScope / ms-opencompass variant of `math_gen_265cce`: one HUMAN turn asking
to reason step by step and box the final answer, max_out_len 8192. Answers are taken
from the last \\boxed{...} of the reply (`math_postprocess_v2`) and compared with the
boxed content of the reference solution by OpenCompass's MATHEvaluator, version v2.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Subset, register
from ..data import read_json, require
from ..errors import DataError
from ..types import Score, Turn

DATA_FILE = "math/math.json"

TEMPLATE: tuple[Turn, ...] = (
    Turn.human("{problem}\nPlease reason step by step, and put your final answer within \\boxed{}."),
)


# --------------------------------------------------------------------------------------
# The last boxed expression (B.10)


def last_boxed_only_string(text: str) -> str | None:
    """The last `\\boxed...` (else `\\fbox...`) expression up to its balancing `}`, or None."""
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def remove_boxed(expr: str | None) -> str | None:
    """The inner text of `\\boxed{...}`; None for anything else (`\\fbox{..}`, `\\boxed 5`)."""
    left = "\\boxed{"
    if expr is None or not expr.startswith(left) or not expr.endswith("}"):
        return None
    return expr[len(left) : -1]


_DOUBLE_BRACE = re.compile(r"^\{(.*)\}$")


def extract_boxed_answer(text: str, strip_double_curly_brace: bool = False) -> str | None:
    """Content of the last boxed expression; optionally unwrap one more pair of braces."""
    answer = remove_boxed(last_boxed_only_string(text))
    if answer is None:
        return None
    if strip_double_curly_brace:
        match = _DOUBLE_BRACE.match(answer)
        if match:
            answer = match.group(1)
    return answer


# --------------------------------------------------------------------------------------
# normalize_final_answer (B.10)

_SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    ("an ", ""),
    ("a ", ""),
    (".$", "$"),
    ("\\$", ""),
    ("\\ ", ""),
    (" ", ""),
    ("mbox", "text"),
    (",\\text{and}", ","),
    ("\\text{and}", ","),
    ("\\text{m}", "\\text{}"),
    ("\\le", "<"),
)
_REMOVED_EXPRESSIONS: tuple[str, ...] = (
    "square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units",
    "\\ldots", "sue", "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm",
    "pounds", "meters", "meals", "edges", "students", "childrentickets", "multiples",
    "\\text{s}", "\\text{.}", "\\text{\ns}", "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}",
    "\\mathrm{th}", "^\\circ", "^{\\circ}", "\\;", ",\\!", "{,}", '"', "\\dots", "\n", "\r", "\f",
)  # fmt: skip
_UNWRAP: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"(\\text\{)\((.*?)\)(\})",
        r"(\\text\{)(.*?)(\})",
        r"(\\textbf\{)(.*?)(\})",
        r"(\\overline\{)(.*?)(\})",
        r"(\\boxed\{)(.*)(\})",
    )
)
_LAST_CAPTURE: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p) for p in (r"finalansweris(.*)", r"answer?is:?(.*)", r"oxed\{(.*?)\}", r"\$(.*?)\$")
)
_SHORT_FRAC = re.compile(r"(frac)([^{])(.)")
_SHORT_SQRT = re.compile(r"(sqrt)([^{])")


def normalize_final_answer(final_answer: str) -> str:
    """OpenCompass's `normalize_final_answer` (Minerva-style normalisation), step by step."""
    for before, after in _SUBSTITUTIONS:
        final_answer = final_answer.replace(before, after)
    for expr in _REMOVED_EXPRESSIONS:
        final_answer = final_answer.replace(expr, "")
    for pattern in _UNWRAP:
        final_answer = pattern.sub(r"\2", final_answer)
    for pattern in _LAST_CAPTURE:
        found = pattern.findall(final_answer)
        if found:
            final_answer = found[-1]
    final_answer = final_answer.strip()
    if "rac" in final_answer and "\\frac" not in final_answer:
        final_answer = final_answer.replace("rac", "\\frac")
    final_answer = _SHORT_FRAC.sub(r"frac{\2}{\3}", final_answer)
    final_answer = _SHORT_SQRT.sub(r"sqrt{\2}", final_answer)
    final_answer = final_answer.replace("$", "")
    if final_answer.replace(",", "").isdigit():
        final_answer = final_answer.replace(",", "")
    return final_answer


_ANSWER_SENTENCE = re.compile("final answer|answer is")


def math_postprocess_v2(text: str) -> str:
    """B.10 answer extractor: the last boxed content, else an 'answer is' sentence, else the first."""
    boxed = extract_boxed_answer(text, strip_double_curly_brace=True)
    if boxed:
        return boxed
    for piece in text.split("."):
        if _ANSWER_SENTENCE.search(piece.lower()):
            return normalize_final_answer(piece)
    return normalize_final_answer(text.split(".")[0])


# --------------------------------------------------------------------------------------
# strip_v2 and the v2 equivalence (B.10)


def fix_fracs(string: str, trailing_frac_raises: bool = False) -> str:
    """`\\frac12` -> `\\frac{1}{2}`, `\\frac1b` -> `\\frac{1}{b}`, `\\frac1{72}` -> `\\frac{1}{72}`.

    A `\\frac` followed by fewer than two characters leaves the whole text unchanged, except
    that a `\\frac` at the very end raises IndexError when `trailing_frac_raises` (the
    Hendrycks normalisation AGIEval uses, whose caller then compares the raw strings)."""
    pieces = string.split("\\frac")
    out = pieces[0]
    for piece in pieces[1:]:
        out += "\\frac"
        if not piece and trailing_frac_raises:
            raise IndexError("\\frac at the end of the text")
        if piece[:1] == "{":
            out += piece
            continue
        if len(piece) < 2:
            return string
        a, b, rest = piece[0], piece[1], piece[2:]
        if b != "{":
            out += "{" + a + "}{" + b + "}" + rest
        else:
            out += "{" + a + "}" + b + rest
    return out


def _fix_a_slash_b(string: str) -> str:
    """`a/b` with canonical integers -> `\\frac{a}{b}`.

    As in OpenCompass, a part that int() rejects raises ValueError (the caller then
    falls back to the next comparison); int()-accepted but non-canonical text such as
    `01/2` or ` 1/2` is left unchanged."""
    parts = string.split("/")
    if len(parts) != 2:
        return string
    a, b = int(parts[0]), int(parts[1])
    if string != f"{a}/{b}":
        return string
    return "\\frac{" + str(a) + "}{" + str(b) + "}"


_TRAILING_TEXT = re.compile(r"\\text\{.*?\}$")
_MBOX = re.compile(r"\\mbox\{.*?\}")
_ZERO_DECIMALS_INNER = re.compile(r"(\d+)\.0+([^\d])")
_ZERO_DECIMALS_END = re.compile(r"(\d+)\.0+$")
_SQRT_WORD = re.compile(r"\\sqrt(\w+)")


def strip_v2(value: Any) -> str:
    """MATHEvaluator v2 `_strip_string_v2`; may raise ValueError (from `a/b` parsing)."""
    s = str(value).strip()
    s = s.replace("\n", "")
    s = s.rstrip(".")
    s = s.replace("\\!", "")
    s = s.replace("\\ ", "")
    s = s.replace("\\\\", "\\")
    s = s.replace("\\\\", "\\")
    s = s.replace("tfrac", "frac")
    s = s.replace("dfrac", "frac")
    s = s.replace("\\left", "")
    s = s.replace("\\right", "")
    without_unit = _TRAILING_TEXT.sub("", s).strip()
    if without_unit != "" and without_unit != s:
        s = without_unit
    s = s.replace("^{\\circ}", "")
    s = s.replace("^\\circ", "")
    s = s.replace("\\$", "")
    s = s.replace("$", "")
    s = s.replace("\\text", "")
    s = s.replace("x\\in", "")
    s = s.replace("\\%", "")
    s = s.replace("%", "")
    s = s.replace(" .", " 0.")
    s = s.replace("{.", "{0.")
    s = s.replace("\\cdot", "")
    s = s.replace("infinity", "\\infty")
    if "\\infty" not in s:
        s = s.replace("inf", "\\infty")
    s = s.replace("+\\inity", "\\infty")
    s = s.replace("and", "")
    s = s.replace("\\mathbf", "")
    s = _MBOX.sub("", s)
    # OpenCompass means to delete quotes here but discards the result: quotes stay.
    if "j" in s and "i" not in s:
        s = s.replace("j", "i")
    s = _ZERO_DECIMALS_INNER.sub(r"\1\2", s)
    s = _ZERO_DECIMALS_END.sub(r"\1", s)
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    s = _SQRT_WORD.sub(r"\\sqrt{\1}", s)
    s = s.replace(" ", "")
    s = fix_fracs(s)
    return _fix_a_slash_b(s)


def is_equiv(answer: str | None, reference: str | None) -> bool:
    """MATHEvaluator (v2) equivalence of an extracted answer and a reference."""
    if answer is None and reference is None:
        return True
    if answer is None or reference is None:
        return False
    try:
        s1, s2 = strip_v2(answer), strip_v2(reference)
        if s1 == s2 or normalize_final_answer(s1) == normalize_final_answer(s2):
            return True
    except Exception:  # noqa: BLE001 - OpenCompass ignores any error of this step
        pass
    try:
        if normalize_final_answer(answer) == normalize_final_answer(reference):
            return True
    except Exception:  # noqa: BLE001
        pass
    return answer == reference


def score(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
    details = [
        {"pred": a, "answer": r, "correct": is_equiv(a, r)} for a, r in zip(answers, references, strict=True)
    ]
    correct = sum(d["correct"] for d in details)
    return Score({"accuracy": 100.0 * correct / len(details) if details else 0.0}, details)


# --------------------------------------------------------------------------------------
# Loading


def load(data_dir: Path) -> list[dict[str, Any]]:
    """One row per record, in file key order: problem, and the boxed content of the solution."""
    path = require(data_dir, DATA_FILE, "math")
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object keyed by problem id, got {type(data).__name__}")
    rows = []
    for key, record in data.items():
        if not isinstance(record, dict):
            raise DataError(f"{path}: record {key!r} is not an object")
        absent = [f for f in ("problem", "solution") if f not in record]
        if absent:
            raise DataError(f"{path}: record {key!r} lacks field(s) {', '.join(absent)}")
        if not isinstance(record["problem"], str) or not isinstance(record["solution"], str):
            raise DataError(f"{path}: record {key!r}: problem and solution must be strings")
        rows.append({"problem": record["problem"], "solution": extract_boxed_answer(record["solution"])})
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


register(
    Benchmark(
        name="math",
        description="MATH (5000 competition problems), 0-shot, boxed answer, v2 equivalence",
        subsets=(
            Subset(
                abbr="math",
                version="51671d",
                files=(DATA_FILE,),
                load=load,
                template=TEMPLATE,
                output_column="solution",
                extract=math_postprocess_v2,
                score=score,
                metrics=("accuracy",),
                max_out_len=8192,
            ),
        ),
    )
)
