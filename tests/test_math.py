"""math (spec C.18, B.10): prompt, loader, last-boxed extraction, normalisation, v2 equivalence.

Every expectation in the tables below was checked against OpenCompass's own functions
(`math_postprocess_v2`, `MATHEvaluator(version="v2").is_equiv`, ms-opencompass 0.1.6 /
opencompass 0.3.7). Some entries pin down quirks on purpose: `0.50` is not `0.5`, `\\text{(A)}`
is not `(A)`, `2\\cdot 3` equals `23`, and `So the answer is 3.5` extracts `3` (the reply is
split at every period).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from compasslite.benchmark import get
from compasslite.benchmarks import math as m
from compasslite.errors import DataError
from compasslite.prompt import render_sample
from oracles.qa_math import ORACLES, math_variant, math_wrong_answer

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "data"
REAL = Path(os.environ.get("COMPASSLITE_REAL_DATA", HERE.parents[1] / "shared" / "data"))
SPEC_JSON = HERE.parents[1] / "shared" / "spec" / "datasets.json"


def _spec() -> dict[str, Any] | None:
    if not SPEC_JSON.is_file():
        return None
    return next(d for d in json.loads(SPEC_JSON.read_text(encoding="utf-8")) if d["name"] == "math")


SPEC = _spec()
needs_spec = pytest.mark.skipif(SPEC is None, reason=f"{SPEC_JSON} not available")


def _sub():
    (sub,) = get("math").subsets
    return sub


def _real(relpath: str) -> Path:
    path = REAL / relpath
    if not path.is_file():
        pytest.skip(f"real data file {path} not available")
    return path


# --------------------------------------------------------------------------------------------
# Equivalence (MATHEvaluator v2): (answer, reference, equivalent)

EQUIV = [
    # spec B.10 vectors
    ("\\frac{1}{2}", "\\frac12", True),
    ("0.5", "\\frac{1}{2}", False),
    ("1/2", "\\frac{1}{2}", True),
    ("10", "10.0", True),
    ("\\dfrac{3}{4}", "\\frac{3}{4}", True),
    ("x=5", "5", True),
    ("5\\text{ cm}", "5", True),
    ("(1,2)", "(1, 2)", True),
    ("\\$12", "12", True),
    ("50\\%", "50", True),
    (None, "1", False),
    # both missing
    (None, None, True),
    ("1", None, False),
    # fractions
    ("\\tfrac{3}{4}", "\\frac{3}{4}", True),
    ("\\dfrac34", "\\frac{3}{4}", True),
    ("\\frac1{72}", "\\frac{1}{72}", True),
    ("\\frac{1}{2}.", "\\frac{1}{2}", True),
    ("-\\frac{1}{3}", "-\\frac13", True),
    ("\\frac{\\sqrt{3}}{2}", "\\dfrac{\\sqrt3}{2}", True),
    ("3/4", "\\dfrac{3}{4}", True),
    ("-1/2", "-\\frac{1}{2}", False),
    ("\\frac{-1}{3}", "-\\frac{1}{3}", False),
    ("2/4", "\\frac{1}{2}", False),
    ("\\frac{2}{4}", "\\frac12", False),
    ("1/3", "0.333", False),
    ("1.5", "\\frac{3}{2}", False),
    ("x/2", "\\frac{x}{2}", False),
    ("\\left(\\frac{1}{2}\\right)", "(\\frac{1}{2})", True),
    # decimals and integers
    ("3.0", "3", True),
    ("3.00", "3", True),
    ("3.", "3", True),
    ("-3.00", "-3", True),
    (".5", "0.5", True),
    ("0.50", "0.5", False),
    ("3.50", "3.5", False),
    ("3.14", "\\pi", False),
    ("10", "100", False),
    ("2", "3", False),
    ("-2", "2", False),
    ("−7", "-7", False),
    ("1,000", "1000", True),
    ("1{,}000", "1000", True),
    ("\\$1,\\!000", "1000", True),
    ("1,000,000", "1000000", True),
    ("1,2", "2,1", False),
    ("-0.5", "-\\frac{1}{2}", False),
    # units and text
    ("5 cm", "5", True),
    ("7 inches", "7", True),
    ("4 ways", "4", True),
    ("12 dollars", "12", True),
    ("\\$5.00", "5", True),
    ("5\\text{ dollars}", "5", True),
    ("\\frac{1}{2}\\text{ m}", "\\frac{1}{2}", True),
    ("5\\mbox{ cm}", "5", True),
    ("12", "\\$12.50", False),
    ("\\text{Monday}", "Monday", True),
    ("\\textbf{Monday}", "Monday", True),
    ("\\text{(A)}", "(A)", False),
    ("\\text{(C)}", "C", True),
    ('"yes"', "yes", True),
    ("'yes'", "yes", False),
    ("\\mathbf{v}", "v", False),
    # degrees and percentages
    ("90^\\circ", "90", True),
    ("90^{\\circ}", "90", True),
    ("30^\\circ", "30 degrees", True),
    ("45", "45^\\circ", True),
    ("50%", "50", True),
    ("25\\%", "0.25", False),
    ("50", "0.5", False),
    # spaces and \! \  \,
    ("2\\pi", "2 \\pi", True),
    ("2\\ \\pi", "2\\pi", True),
    ("2\\!\\pi", "2\\pi", True),
    ("x^2 + 1", "x^2+1", True),
    ("x^2+1", "x^2+2", False),
    # equations and variables
    ("k = 7", "7", True),
    ("y = 2x + 3", "2x+3", True),
    ("x\\in[1,2]", "[1,2]", True),
    ("abc=7", "7", False),
    ("x=1, y=2", "(1,2)", False),
    # square roots
    ("3\\sqrt{2}", "3\\sqrt2", True),
    ("\\sqrt{12}", "\\sqrt12", True),
    ("\\sqrt{2}", "2", False),
    ("2\\sqrt{3}", "\\sqrt{12}", False),
    # intervals and sets
    ("[-1, 3)", "[-1,3)", True),
    ("\\left[-1,3\\right)", "[-1,3)", True),
    ("(-\\infty, 2]", "(-\\infty,2]", True),
    ("(-inf, 2]", "(-\\infty,2]", True),
    ("[2, infinity)", "[2,\\infty)", True),
    ("(-\\infty,-1)\\cup(1,\\infty)", "(-\\infty, -1) \\cup (1, \\infty)", True),
    ("(1,2)", "[1,2]", False),
    ("(1,2)", "(2,1)", False),
    ("\\{1,2\\}", "\\{1, 2\\}", True),
    # complex numbers, \cdot, "and"
    ("3+2j", "3+2i", True),
    ("2\\cdot 3", "23", True),
    ("1 and 2", "1,2", True),
    ("1 \\text{ and } 2", "1, 2", True),
    # letters
    ("A", "B", False),
    ("(B)", "B", False),
    ("", "0", False),
    ("", "", True),
]

# math_postprocess_v2: (stripped reply, extracted answer)
EXTRACT = [
    # spec B.10 vectors
    ("so \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
    ("The answer is $5$.", "5"),
    ("\\boxed{{1,2}}", "1,2"),
    ("Final Answer: The final answer is 3. I hope", "3"),
    ("x = 7", "x=7"),
    # boxed forms
    ("\\boxed{5}", "5"),
    ("First \\boxed{3}, then correcting myself: \\boxed{4}.", "4"),
    ("We get $\\boxed{\\frac{a+1}{b}}$", "\\frac{a+1}{b}"),
    ("$\\boxed{(-\\infty, 2]}$", "(-\\infty, 2]"),
    ("\\boxed{\\text{(C)}}", "\\text{(C)}"),
    ("\\boxed{ 12 }", " 12 "),
    ("\\boxed{{1},{2}}", "1},{2"),
    ("The final answer is \\boxed{\\dfrac{3}{4}}.\nI hope it is correct.", "\\dfrac{3}{4}"),
    # no usable box: fall back to the 'answer is' sentence, then the first sentence
    ("\\fbox{5}", "\\fbox{5}"),
    ("\\boxed 5", "\\boxed5"),
    ("\\boxed{5", "\\boxed{5"),
    ("The answer is \\boxed{}", ""),
    ("\\boxed{{}}. The answer is 7.", "7"),
    ("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
    ("So the answer is 3.5", "3"),
    ("The answer is 1,000.", "1000"),
    ("The answer is: 12 dollars.", "12"),
    ("Thus the answer is $\\frac12$", "\\frac{1}{2}"),
    ("the answer is x = 4", "x=4"),
    ("I think it is 42", "Ithinkitis42"),
    ("Hence $x=3$. Done.", "x=3"),
    ("", ""),
]

# last_boxed_only_string: (text, expression)
LAST_BOXED = [
    ("a \\boxed{1} b \\boxed{2} c", "\\boxed{2}"),
    ("\\boxed{\\frac{1}{2}}", "\\boxed{\\frac{1}{2}}"),
    ("x \\boxed{{a}{b}} y", "\\boxed{{a}{b}}"),
    ("\\fbox{7} end", "\\fbox{7}"),  # found, but remove_boxed rejects it
    ("\\boxed{1} and \\fbox{2}", "\\boxed{1}"),  # \fbox only when there is no \boxed
    ("no box", None),
    ("\\boxed{unclosed", None),
    ("\\boxed 5}", None),  # the first `}` takes the count to -1, never back to 0
]

# normalize_final_answer: (input, output)
NORMALIZE = [
    ("The final answer is 5", "5"),
    ("\\text{(B)}", "B"),
    ("10 \\text{ meters}", "10"),
    ("$\\frac12$", "\\frac{1}{2}"),
    ("\\boxed{42}", "42"),
    ("1,234", "1234"),
    ("a \\le b", "<b"),
    ("\\dfrac{3}{4}", "\\df\\frac{3}{4}"),  # `rac` -> `\frac` because `\frac` is absent
    ("rac{1}{2}", "\\frac{1}{2}"),
    ("\\sqrt2", "\\sqrt{2}"),
    ("5 \\text{and} 6", "56"),
    ("100^\\circ", "100"),
    ("\\overline{AB}", "AB"),
    ("answer: 9", "answer:9"),  # `answer?is:?` needs the word "is"
    ("2\\;3", "23"),
]

# strip_v2: (input, output); "ValueError" where OpenCompass's a/b parsing raises.
STRIP_V2 = [
    ("  \\frac12. ", "\\frac{1}{2}"),
    ("\\left( 3, \\infty \\right)", "(3,\\infty)"),
    ("5\\text{ cm}", "5"),
    ("\\text{(A)}", "{(A)}"),  # removing the trailing \text{...} would leave nothing: kept
    ("\\$1,000", "1,000"),
    ("12\\%", "12"),
    ("0.5", "0.5"),  # v2 has no 0.5 -> \frac{1}{2} rule
    (".25", "0.25"),
    ("k=3", "3"),
    ("area=3", "area=3"),
    ("3\\sqrt2", "3\\sqrt{2}"),
    ("\\frac1", "\\frac1"),
    ("4.000 + x", "4+x"),
    ("2j", "2i"),
    ("2ij", "2ij"),
    ("\\mbox{ cm}5", "5"),
    ("\\\\frac{1}{2}", "\\frac{1}{2}"),
    ("", ""),
    ("\\frac{1}{2}\\text{ m}\\text{ s}", "\\frac{1}{2}"),
    ("a/b", "ValueError"),
    ("01/2", "01/2"),
]


@pytest.mark.parametrize("answer, reference, expected", EQUIV)
def test_equivalence(answer, reference, expected):
    assert m.is_equiv(answer, reference) is expected


@pytest.mark.parametrize("answer, reference, expected", EQUIV)
def test_equivalence_is_what_the_scorer_counts(answer, reference, expected):
    score = _sub().score([answer], [reference], [{}])
    assert score.metrics == {"accuracy": 100.0 if expected else 0.0}
    assert score.details[0]["correct"] is expected


@pytest.mark.parametrize("reply, expected", EXTRACT)
def test_extract(reply, expected):
    assert m.math_postprocess_v2(reply) == expected
    assert _sub().extract(reply) == expected


@pytest.mark.parametrize("text, expected", LAST_BOXED)
def test_last_boxed_only_string(text, expected):
    assert m.last_boxed_only_string(text) == expected


@pytest.mark.parametrize(
    "expr, content",
    [("\\boxed{5}", "5"), ("\\boxed{}", ""), ("\\fbox{5}", None), ("\\boxed 5", None), (None, None)],
)
def test_remove_boxed(expr, content):
    assert m.remove_boxed(expr) == content


@pytest.mark.parametrize("text, expected", NORMALIZE)
def test_normalize_final_answer(text, expected):
    assert m.normalize_final_answer(text) == expected


@pytest.mark.parametrize("text, expected", STRIP_V2)
def test_strip_v2(text, expected):
    if expected == "ValueError":
        with pytest.raises(ValueError):
            m.strip_v2(text)
    else:
        assert m.strip_v2(text) == expected


@pytest.mark.parametrize(
    "answers, references, accuracy",
    [
        (["\\frac{1}{2}", "3", "0.5"], ["\\frac12", "3.0", "\\frac{1}{2}"], 200 / 3),
        (["x"], ["y"], 0.0),
        ([None, "1"], [None, "1"], 100.0),
    ],
)
def test_accuracy_pooled(answers, references, accuracy):
    score = _sub().score(answers, references, [{}] * len(answers))
    assert list(score.metrics) == ["accuracy"]
    assert score.metrics["accuracy"] == pytest.approx(accuracy)
    assert [d["pred"] for d in score.details] == answers
    assert [d["answer"] for d in score.details] == references


# --------------------------------------------------------------------------------------------
# Declaration


def test_declaration():
    bench = get("math")
    sub = _sub()
    assert (sub.abbr, sub.version, sub.files) == ("math", "51671d", ("math/math.json",))
    assert sub.output_column == "solution"
    assert sub.metrics == ("accuracy",)
    assert sub.max_out_len == 8192
    assert sub.ice_template is None and sub.load_ice is None and sub.reference is None
    assert [(t.role, t.text) for t in sub.template] == [
        ("HUMAN", "{problem}\nPlease reason step by step, and put your final answer within \\boxed{}.")
    ]
    assert bench.groups == ()


@needs_spec
def test_declaration_matches_spec_json():
    norm = SPEC["normalized"]
    sub = _sub()
    assert norm["row_columns"] == ["problem", "solution"]
    assert norm["output_column"] == sub.output_column
    assert norm["max_out_len"] == sub.max_out_len
    assert norm["metrics_in_summary_order"] == list(sub.metrics)
    (entry,) = norm["subsets"]
    assert (entry["abbr"], entry["version"], entry["evaluated_files"]) == (
        sub.abbr,
        sub.version,
        sub.files[0],
    )
    assert entry["pred_postprocessor"] == {"type": "math_postprocess_v2"}
    rounds = entry["template"]["prompt_template"]["round"]
    assert [(t.role, t.text) for t in sub.template] == [(r["role"], r["prompt"]) for r in rounds]
    vectors = SPEC["test_vectors"]
    assert [tuple(v) for v in vectors["math_postprocess_v2"]] == EXTRACT[:5]
    assert [tuple(v) for v in vectors["MATHEvaluator_v2.is_equiv"]] == EQUIV[:11]


# --------------------------------------------------------------------------------------------
# Real data


@pytest.fixture(scope="module")
def real_rows() -> list[dict[str, Any]]:
    _real(m.DATA_FILE)
    return _sub().load(REAL)


@pytest.mark.realdata
@needs_spec
def test_worked_example(real_rows):
    sub = _sub()
    (example,) = SPEC["normalized"]["worked_examples"]
    # The record is `"192"` of the file; its position is not pinned by the spec: find it.
    record = json.loads(example["raw_record"][0]["text"])["192"]
    matches = [r for r in real_rows if r["problem"] == record["problem"]]
    assert len(matches) == 1
    row = matches[0]
    assert row == {"problem": record["problem"], "solution": "3"}
    flat = render_sample(sub.template, row, sub.output_column, meta_template=False, max_seq_len=4096)
    chat = render_sample(sub.template, row, sub.output_column, meta_template=True, max_seq_len=4096)
    assert flat.text == example["rendered_prompt_no_meta_template"]
    assert chat.messages == example["chat_messages_with_meta_template"]
    assert flat.messages == chat.messages  # a single HUMAN turn: both renderings agree
    answer = sub.extract(example["reply"])
    assert answer == example["extracted_by_config_postprocessor"]
    reference = sub.reference_of(row)
    assert reference == example["reference_after_dataset_postprocessor"]
    score = sub.score([answer], [reference], [row])
    assert score.metrics == example["per_sample_result"]
    assert score.details[0]["correct"] is True


@pytest.mark.realdata
def test_real_rows(real_rows):
    assert len(real_rows) == 5000
    assert all(tuple(r) == ("problem", "solution") for r in real_rows)
    # every reference solution of the file has a boxed answer
    assert all(isinstance(r["solution"], str) for r in real_rows)
    assert real_rows[0]["solution"] == "2"  # "... the graph has $\boxed{2}$ vertical asymptotes."


@pytest.mark.realdata
def test_real_oracles(real_rows):
    sub = _sub()
    right, wrong = ORACLES["math"]
    refs = [sub.reference_of(r) for r in real_rows]
    replies = [right(sub, r) for r in real_rows]
    # the correct replies box the answer in another (accepted) spelling where there is one
    assert sum(v != r for v, r in zip(map(math_variant, refs), refs, strict=True)) > 3000
    score = sub.score([sub.extract(x) for x in replies], refs, real_rows)
    assert score.metrics == {"accuracy": 100.0}
    mixed = [(right if i % 3 else wrong)(sub, r) for i, r in enumerate(real_rows)]
    score = sub.score([sub.extract(x) for x in mixed], refs, real_rows)
    expected = 100 * sum(1 for i in range(len(real_rows)) if i % 3) / len(real_rows)
    assert score.metrics["accuracy"] == pytest.approx(expected)
    assert [d["correct"] for d in score.details] == [bool(i % 3) for i in range(len(real_rows))]


# --------------------------------------------------------------------------------------------
# Fixture file and loader errors

FIXTURE_ROWS = [
    ("What is $\\frac{1}{4}+\\frac{1}{4}$?", "\\frac{1}{2}"),
    ("Compute $7 \\times 8$.", "56"),
    ("Find all $x$ with $x^2 = 4$.", "-2, 2"),
    ("What is the measure of each interior angle of a regular hexagon, in degrees?", "120^\\circ"),
    ("Solve $|x-1| < 2$. Express your answer in interval notation.", "(-1,3)"),
    ("What is $\\sqrt{12}$ in simplest radical form?", "2\\sqrt{3}"),
]


def test_fixture_loads():
    rows = _sub().load(FIXTURES)
    assert [(r["problem"], r["solution"]) for r in rows] == FIXTURE_ROWS
    assert all(tuple(r) == ("problem", "solution") for r in rows)


# Replies a model might write for the fixture rows, each with the boxed answer spelled
# differently from the reference (or not boxed at all), and whether it is accepted.
FIXTURE_REPLIES = [
    ("Both terms are a quarter, so the sum is $\\boxed{\\dfrac{1}{2}}$.", True),
    ("$7 \\times 8 = 56$, so the answer is $\\boxed{56.0}$.", True),
    ("The roots are $x = \\pm 2$, so $\\boxed{2}$.", False),
    ("The interior angles sum to $720^\\circ$, so each one is $\\boxed{120^{\\circ}}$.", True),
    ("$-1 < x < 3$, i.e. $x \\in \\boxed{(-1, 3)}$.", True),
    # no box: the first `.`-separated piece mentioning "final answer" is normalised
    ("$\\sqrt{12} = 2\\sqrt{3}$. The final answer is $2\\sqrt{3}$", True),
]


def test_fixture_replies_scored():
    sub = _sub()
    rows = sub.load(FIXTURES)
    answers = [sub.extract(reply) for reply, _ in FIXTURE_REPLIES]
    assert answers == ["\\dfrac{1}{2}", "56.0", "2", "120^{\\circ}", "(-1, 3)", "2\\sqrt{3}"]
    score = sub.score(answers, [sub.reference_of(r) for r in rows], rows)
    assert [d["correct"] for d in score.details] == [ok for _, ok in FIXTURE_REPLIES]
    assert score.metrics["accuracy"] == pytest.approx(500 / 6)


def test_fixture_oracles():
    sub = _sub()
    rows = sub.load(FIXTURES)
    right, wrong = ORACLES["math"]
    refs = [sub.reference_of(r) for r in rows]
    assert sub.score([sub.extract(right(sub, r)) for r in rows], refs, rows).metrics == {"accuracy": 100.0}
    assert sub.score([sub.extract(wrong(sub, r)) for r in rows], refs, rows).metrics == {"accuracy": 0.0}
    assert [math_wrong_answer(r) for r in refs[:2]] == ["\\frac{1}{2}+1", "57"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "math" / "math.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"0": {"problem": "p", "solution": "\\\\boxed{1}"},\n "1": {"problem": "q"',
            "math.json:2: malformed JSON",
        ),
        ('[{"problem": "p", "solution": "s"}]', "expected a JSON object keyed by problem id"),
        (
            '{"0": {"problem": "p", "solution": "\\\\boxed{1}"}, "1": {"problem": "q"}}',
            "record '1' lacks field(s) solution",
        ),
        ('{"0": "just text"}', "record '0' is not an object"),
        (
            '{"0": {"problem": 3, "solution": "\\\\boxed{1}"}}',
            "record '0': problem and solution must be strings",
        ),
        ("{}", "has no records"),
    ],
)
def test_loader_errors(tmp_path, text, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _sub().load(_write(tmp_path, text))


def test_missing_file_names_the_expected_path(tmp_path):
    with pytest.raises(DataError, match=r"math/math\.json"):
        _sub().load(tmp_path)


def test_solution_without_box_gives_missing_reference(tmp_path):
    # The loader keeps such a record; its reference is missing and can never be matched.
    rows = _sub().load(_write(tmp_path, '{"0": {"problem": "p", "solution": "It is 4."}}'))
    assert rows == [{"problem": "p", "solution": None}]
    assert _sub().score(["4"], [None], rows).metrics == {"accuracy": 0.0}
