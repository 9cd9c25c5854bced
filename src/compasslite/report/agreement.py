"""Extraction agreement: the OpenCompass-exact score beside a score from a robust extraction.

OpenCompass extracts answers with narrow rules: C-Eval and the CLUE datasets take the first
capital letter of the reply (so "The answer is B" counts as "T"), gsm8k takes the last number
after cutting the reply at "Question:", and none of them removes a `<think>` block or reads
full-width letters. A model can lose (or gain) points to those rules rather than to what it
answered. `agreement()` re-reads every reply of a sub-dataset with a tolerant extraction and
gives both scores and the samples whose verdict differs, so a report can show when a score is
an artefact of the extraction. The official score stays the OpenCompass-exact one; this one is
only beside it.

Robust extraction, per sample (decided from the reference):
- choice: the reference is one option letter (or a one-letter list, as in GaokaoBench). The
  reply, without `<think>` blocks and NFKC-normalised (full-width letters and colons), is
  searched for stated answers ("Answer: (b)", "The answer is **B**", "答案是B", "选B",
  "\\boxed{B}", "B is correct"); the last one stated wins, so options merely discussed before
  the answer do not count. Without a stated answer, a reply that starts with an option
  ("B. garlic", "(B)") or a line holding only a letter is read as that option.
- numeric: the reference is a plain number (gsm8k, and math items whose answer is a number).
  The last `\\boxed{}`, else the number after the last "answer is" / "Answer:" / "####", else
  the last number in the reply; thousands separators, currency signs, percent signs and a
  trailing ".00" are ignored, and simple fractions are read (`\\frac{3}{4}`, `3/4`).
Samples of any other shape (yes/no, free text, several letters) keep the official verdict and
are counted in `unjudged`. Sub-datasets with no verdict at all (ROUGE, code execution) or
where a letter or number would not be the answer (open QA scored by matching text) give None.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ..reasoning import answer_part

__all__ = ["Agreement", "agreement", "robust_choice", "robust_number", "clean_reply"]

# Datasets whose per-sample verdict is not a letter or a number: open QA matched as text, code
# run against tests, summaries scored by ROUGE, cloze words. A robust letter or number reading
# of those would be meaningless, whatever their references happen to look like.
NO_ROBUST_VERDICT = frozenset(
    {"nq", "triviaqa", "CMRC", "DRCD", "ReCoRD", "lambada", "humaneval", "mbpp", "lcsts", "Xsum"}
)
_NO_ROBUST_PREFIXES = ("openai_humaneval", "mbpp", "lcsts", "Xsum", "CMRC", "DRCD", "nq", "triviaqa")

MAX_REPLY_CHARS = 200_000  # a reply longer than this is read from its last 200k characters


@dataclass
class Agreement:
    """The official and the robust score of one sub-dataset, on the same samples."""

    official_score: float  # 0-100: share of samples the official verdict counts correct
    robust_score: float  # 0-100: the same share under the robust extraction
    n: int  # samples compared (every scored sample of the sub-dataset)
    disagreements: list[dict[str, Any]]  # samples whose verdicts differ (see agreement())
    kind: str = "choice"  # "choice", "numeric" or "mixed": how the judged samples were read
    unjudged: int = 0  # samples of no letter/number shape: they keep the official verdict

    @property
    def delta(self) -> float:
        """Robust minus official, in points."""
        return self.robust_score - self.official_score


# ------------------------------------------------------------------ reply cleaning
_MD_EMPHASIS = re.compile(r"(\*\*|__|`)")  # not a lone *: 16*4 is a product
_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textrm|operatorname)\s*\{([^{}]*)\}")


# A base model continuing the few-shot pattern writes the next "Question: ..." (and answers
# it) after its own answer: what follows is not its answer to this question.
_NEXT_QUESTION = re.compile(r"\n\s*(?:Question|Q|问题)\s*[:：]")


def clean_reply(reply: str) -> str:
    """The reply without thinking, NFKC-normalised (full-width letters, digits and colons become
    ASCII), without markdown emphasis and LaTeX text wrappers, cut before a made-up next
    "Question:"."""
    text = reply[-MAX_REPLY_CHARS:] if len(reply) > MAX_REPLY_CHARS else reply
    text = answer_part(text, "strip").text
    text = unicodedata.normalize("NFKC", text)
    following = _NEXT_QUESTION.search(text)
    if following and text[: following.start()].strip():
        text = text[: following.start()]
    text = _LATEX_WRAPPERS.sub(r"\1", text)
    return _MD_EMPHASIS.sub("", text)


# ------------------------------------------------------------------ option letters
# A letter standing as an answer: "B", "(B)", "[B]", "{B}", "B)" - not the first letter of a
# word. Lower case only in brackets ("(b)") or alone at the end ("Answer: b"), since "a" and
# "I" are words.
_UPPER_OPT = r"[\(\[\{]?\s*([A-Z])\s*[\)\]\}]?(?![A-Za-z0-9])"
_LOWER_OPT = r"(?:[\(\[]\s*([a-z])\s*[\)\]]|([a-z])(?=\s*[.)]?\s*$))"
_OPT = rf"(?:{_UPPER_OPT}|{_LOWER_OPT})"

# Cues after which a letter is a stated answer (English, Chinese); each match is a candidate,
# and the last candidate in the reply wins.
_CHOICE_CUES = [
    rf"(?i:\b(?:final\s+|correct\s+|best\s+|right\s+)?answer(?:\s+choice|\s+option)?\s*(?:is|would\s+be|should\s+be|will\s+be|[:=\-]|is\s*[:=])?\s*(?:(?i:option|choice)\s*)?:?\s*){_OPT}",
    rf"(?i:\b(?:correct|right|best)\s+(?:option|choice)\s*(?:is|[:=])?\s*:?\s*){_OPT}",
    rf"(?i:\b(?:i\s+(?:would\s+)?(?:choose|pick|select)|i\s+go\s+with|my\s+choice\s+is)\s*(?:option\s*)?){_OPT}",
    rf"(?:答案|正确答案|最终答案|答)\s*(?:是|为|应该?是|应该?为|应选|选)?\s*(?:选项)?\s*[:：]?\s*{_OPT}",
    rf"(?:故|所以|因此|应|应该)?\s*选(?:择)?\s*(?:项)?\s*[:：]?\s*{_OPT}",
    rf"\\boxed\s*\{{\s*{_OPT}\s*\}}",
    rf"(?:^|(?<=[\s(]))(?:option\s*|choice\s*)?{_UPPER_OPT}\s*(?:is|would\s+be)\s+(?:the\s+)?(?:correct|right|best)\b",
    rf"{_UPPER_OPT}\s*(?:是正确的|正确|是正确答案|为正确答案)",
]
# A cue is tried only when one of its words is in the reply (lower-cased): most replies hold
# one or two of them, and a pattern that may start at any capital letter is slow on long text.
_CUE_WORDS = [("answer",), ("correct", "right", "best"), ("choose", "pick", "select", "go with", "my choice"),
              ("答",), ("选",), ("boxed",), ("correct", "right", "best"), ("正确",)]  # fmt: skip
_CHOICE_CUE_RES = list(zip(_CUE_WORDS, [re.compile(p, re.MULTILINE) for p in _CHOICE_CUES], strict=True))
ANSWER_TAIL_CHARS = 8000  # the answer is at the end: extraction reads the last 8000 characters
_NEGATED = re.compile(r"(?i)\b(?:not|isn't|is\s+not|never)\s*$|不\s*$|不是\s*$|非\s*$")
# Without a stated answer: a reply that starts with an option ("B. garlic", "(b)", "C:"), not
# with a word ("A cat..."), or a line holding only a letter.
_LEADING_OPT = re.compile(
    r"^\s*(?:(?i:option|choice)\s*|选项\s*)?(?:[\(\[]\s*([A-Za-z])\s*[\)\]]|([A-Z])(?=[.:：、,，)]|\s*$|\s*\n))"
)
_LONE_LINE = re.compile(r"^\s*[\(\[]?\s*([A-Z])\s*[\)\]]?\s*[.。]?\s*$", re.MULTILINE)


def _letter(match: re.Match[str]) -> str:
    return next(g for g in match.groups() if g).upper()


def robust_choice(reply: str, options: str = "ABCD") -> str:
    """The option letter a reply states, or '' (see the module doc)."""
    text = clean_reply(reply)[-ANSWER_TAIL_CHARS:]
    lowered = text.lower()
    best: tuple[int, str] | None = None
    for words, cue in _CHOICE_CUE_RES:
        if not any(w in lowered for w in words):
            continue
        for m in cue.finditer(text):
            letter = _letter(m)
            if letter not in options:
                continue
            if _NEGATED.search(text[max(0, m.start() - 12) : m.start() + _cue_len(m)]):
                continue
            if best is None or m.end() > best[0]:
                best = (m.end(), letter)
    if best is not None:
        return best[1]
    lead = _LEADING_OPT.match(text)
    if lead and _letter(lead) in options:
        return _letter(lead)
    lone = [m.group(1).upper() for m in _LONE_LINE.finditer(text) if m.group(1).upper() in options]
    return lone[-1] if lone else ""


def _cue_len(match: re.Match[str]) -> int:
    """Characters from the match start to its letter: where a negation ("is not B") would be."""
    for i, g in enumerate(match.groups(), start=1):
        if g:
            return match.start(i) - match.start()
    return 0


# ------------------------------------------------------------------ numbers
_NUM = r"[-−]?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?|[-−]?\.\d+%?"
_NUM_RE = re.compile(_NUM)
_FRAC_RE = re.compile(r"[-−]?\\d?frac\s*\{\s*([-−]?\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}")
_SLASH_FRAC_RE = re.compile(r"(?<![\d/])([-−]?\d+)\s*/\s*(\d+)(?![\d/])")
_BOXED_RE = re.compile(r"\\boxed\s*\{")
_ANSWER_CUE_RE = re.compile(
    r"(?i)(?:answer\s*(?:is|[:=])|####|答案\s*(?:是|为)?\s*[:：]?|=\s*\$?\s*(?=[-\d.]+\s*$))"
)


_MATH_DELIMS = re.compile(r"^\\\(|\\\)$|^\$+|\$+$")
_PLAIN_NUMBER = re.compile(r"(-)?\s*\$?\s*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)\s*%?")


def parse_number(text: str) -> float | None:
    """A plain number written any common way ("1,234", "$1,234.00", "50%", "-3", "3/4",
    "\\frac{3}{4}"), or None when `text` is not just one number."""
    t = str(text)
    if not t.isascii():
        t = unicodedata.normalize("NFKC", t).replace("−", "-")
    t = _MATH_DELIMS.sub("", t.strip()).strip().rstrip(".").strip()
    frac = _FRAC_RE.fullmatch(t)
    if frac:
        return _divide(frac.group(1), frac.group(2), negative=t.startswith("-"))
    slash = _SLASH_FRAC_RE.fullmatch(t)
    if slash:
        return _divide(slash.group(1), slash.group(2))
    m = _PLAIN_NUMBER.fullmatch(t)
    if not m:
        return None
    value = float(m.group(2).replace(",", ""))
    return -value if m.group(1) else value


def _divide(num: str, den: str, negative: bool = False) -> float | None:
    d = float(den)
    if d == 0:
        return None
    value = float(num.replace("−", "-")) / d
    return -abs(value) if negative and value > 0 else value


def _numbers_in(text: str) -> list[tuple[int, float]]:
    """(end position, value) of every number in `text`, fractions read as one number."""
    found: list[tuple[int, int, float]] = []
    taken: list[tuple[int, int]] = []
    fraction_res = [rx for rx, mark in ((_FRAC_RE, "frac"), (_SLASH_FRAC_RE, "/")) if mark in text]
    for rx in fraction_res:
        for m in rx.finditer(text):
            value = parse_number(m.group(0))
            if value is not None:
                found.append((m.start(), m.end(), value))
                taken.append((m.start(), m.end()))
    for m in _NUM_RE.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        value = parse_number(m.group(0))
        if value is not None:
            found.append((m.start(), m.end(), value))
    found.sort()
    return [(end, value) for _, end, value in found]


def _boxed_contents(text: str) -> list[str]:
    out = []
    for m in _BOXED_RE.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end() : i - 1])
    return out


def robust_number(reply: str) -> float | None:
    """The number a reply gives as its answer, or None (see the module doc)."""
    text = clean_reply(reply)[-ANSWER_TAIL_CHARS:]
    for content in reversed(_boxed_contents(text)):
        value = parse_number(content)
        if value is None:
            nums = _numbers_in(content)
            value = nums[-1][1] if len(nums) == 1 else None
        if value is not None:
            return value
    cues = list(_ANSWER_CUE_RE.finditer(text))
    for cue in reversed(cues):
        # the first number after the last cue, on the same line; "answer is 2*4 = 8": the result
        line = text[cue.end() :].split("\n", 1)[0]
        sentence = re.split(r"[.。;；](?:\s|$)", line, maxsplit=1)[0]
        if "=" in sentence:
            line = sentence[sentence.rfind("=") + 1 :] or line
        nums = _numbers_in(line)
        if nums:
            return nums[0][1]
    # the last number: look in the last line(s) first, the whole reply only if they hold none
    tail = text[text.rfind("\n", 0, max(0, len(text) - 200)) + 1 :]
    nums = _numbers_in(tail) or _numbers_in(text)
    return nums[-1][1] if nums else None


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _fmt_number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


# ------------------------------------------------------------------ per sample
_LETTER_REF = re.compile(r"^\(?([A-Z])\)?$")


def _reference_letter(ref: Any) -> str | None:
    if isinstance(ref, list) and len(ref) == 1:
        ref = ref[0]
    if isinstance(ref, dict) and isinstance(ref.get("label"), int):  # siqa: candidates + label
        cands = ref.get("candidates")
        if isinstance(cands, list) and 0 <= ref["label"] < len(cands):
            cand = cands[ref["label"]]
            if isinstance(cand, list) and len(cand) > 1 and isinstance(cand[1], str):
                ref = cand[1]
    if isinstance(ref, str):
        m = _LETTER_REF.match(ref.strip())
        if m:
            return m.group(1)
    return None


def _reference_number(ref: Any) -> float | None:
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int | float):
        return float(ref)
    if isinstance(ref, str) and ref.strip():
        return parse_number(ref)
    return None


def _official_correct(entry: dict[str, Any]) -> bool | None:
    for key in ("correct", "is_correct"):
        value = entry.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return bool(value)
    return None


def _official_answer(entry: dict[str, Any]) -> Any:
    """What OpenCompass extracted: `pred` where the scorer records it (its `answer` is then
    the gold), else `answer`; siqa records the chosen candidate's index."""
    if "pred" in entry:
        return entry["pred"]
    ref = entry.get("reference")
    if isinstance(ref, dict) and isinstance(entry.get("predicted_index"), int):
        cands = ref.get("candidates")
        i = entry["predicted_index"]
        if (
            isinstance(cands, list)
            and 0 <= i < len(cands)
            and isinstance(cands[i], list)
            and len(cands[i]) > 1
        ):
            return cands[i][1]
    return entry.get("answer")


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _excluded(dataset: str, abbr: str) -> bool:
    if dataset in NO_ROBUST_VERDICT:
        return True
    if any(abbr.startswith(p) for p in _NO_ROBUST_PREFIXES):
        return True
    return abbr.startswith("GaokaoBench") and any(
        k in abbr
        for k in (
            "Open-ended",
            "Fill-in-the-Blank",
            "Reading",
            "Dictation",
            "Error_Correction",
            "Cloze_Passage",
        )
    )


def _options_for(details: list[dict[str, Any]]) -> str:
    """Option letters A.. up to the highest reference letter, and at least A-D."""
    top = "D"
    for entry in details:
        letter = _reference_letter(entry.get("reference"))
        if letter and letter > top:
            top = letter
    return "".join(chr(c) for c in range(ord("A"), ord(top) + 1))


def agreement(details: list[dict[str, Any]], *, dataset: str, abbr: str) -> Agreement | None:
    """Official and robust scores of one sub-dataset from its results' `details`.

    `details` is the list in `results/<model>/<abbr>.json` (index, prediction = the raw reply,
    answer/pred = OpenCompass's extraction, reference, correct). Returns None when a robust
    per-sample verdict makes no sense for the dataset or no sample has an official verdict.
    Each disagreement is {index, official_answer, robust_answer, reference, official_correct,
    robust_correct}, in sample order.
    """
    if _excluded(dataset, abbr) or not details:
        return None
    options = _options_for(details)
    n = official_right = robust_right = unjudged = 0
    kinds: set[str] = set()
    disagreements: list[dict[str, Any]] = []
    for entry in details:
        if not isinstance(entry, dict):
            continue
        official = _official_correct(entry)
        if official is None:
            continue
        n += 1
        official_right += official
        reply = entry.get("prediction")
        reply = reply if isinstance(reply, str) else ""
        ref = entry.get("reference")
        letter = _reference_letter(ref)
        number = None if letter is not None else _reference_number(ref)
        if letter is not None:
            kinds.add("choice")
            robust_answer = robust_choice(reply, options)
            robust = robust_answer == letter
            shown_ref = letter
        elif number is not None:
            kinds.add("numeric")
            value = robust_number(reply)
            robust_answer = _fmt_number(value)
            robust = _same_number(value, number)
            shown_ref = _show(ref)
        else:
            unjudged += 1
            robust_right += official
            continue
        robust_right += robust
        if robust != official:
            disagreements.append({
                "index": entry.get("index"),
                "official_answer": _show(_official_answer(entry)),
                "robust_answer": robust_answer,
                "reference": shown_ref,
                "official_correct": official,
                "robust_correct": robust,
            })  # fmt: skip
    if n == 0 or not kinds:
        return None
    return Agreement(
        official_score=100.0 * official_right / n,
        robust_score=100.0 * robust_right / n,
        n=n,
        disagreements=disagreements,
        kind=kinds.pop() if len(kinds) == 1 else "mixed",
        unjudged=unjudged,
    )
