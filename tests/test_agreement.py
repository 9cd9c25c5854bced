"""Extraction agreement (report/agreement.py): robust letter and number extraction, and the
official-versus-robust scores of real runs against the built-in server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compasslite.report.agreement import agreement, parse_number, robust_choice, robust_number
from compasslite.runner import execute
from compasslite.testing.server import fixed
from conftest import FIXTURE_DATA
from helpers import config

CHOICE_REPLIES = [
    ("The answer is A.", "A"),
    ("Answer: (b)", "B"),
    ("answer: c", "C"),
    ("**B**", "B"),
    ("The answer is **D**.", "D"),
    ("The correct answer is (C) because the rest are wrong.", "C"),
    ("Final answer: B", "B"),
    ("ANSWER: D", "D"),
    ("选B", "B"),
    ("故选：C", "C"),
    ("答案是B", "B"),
    ("答案：Ｃ", "C"),  # full-width letter and colon
    ("Ａｎｓｗｅｒ：Ｄ", "D"),  # full-width throughout
    ("<think>The answer is A? No, wait.</think>The answer is C", "C"),
    ("<think>Maybe B</think>\n\nD", "D"),
    ("Option A is wrong, and option B too. The answer is D.", "D"),  # discussed vs stated
    ("The answer is A. On reflection, the answer is B.", "B"),  # the last stated wins
    ("A. an increase in oxygen\n\nThe answer is A. The answer is not C.", "A"),  # negation
    ("B. amount of garlic\n\nThe choice of D is not relevant.", "B"),  # leading option
    ("(C)", "C"),
    ("C", "C"),
    ("I think it is\n\nC", "C"),  # a line holding only the letter
    ("\\boxed{D}", "D"),
    ("$\\boxed{\\text{B}}$", "B"),
    ("B is correct.", "B"),
    ("The answer is B.\n\nQuestion: Which is a mammal?\nAnswer: C", "B"),  # made-up next question
    ("I would choose option C.", "C"),
    ("A cat sat on the mat.", ""),  # a word, not an option
    ("I do not know.", ""),
    ("The answer is not B.", ""),
    ("", ""),
]


@pytest.mark.parametrize(("reply", "expected"), CHOICE_REPLIES)
def test_robust_choice_reads_many_reply_styles(reply: str, expected: str) -> None:
    assert robust_choice(reply, "ABCD") == expected


def test_robust_choice_only_returns_offered_options() -> None:
    assert robust_choice("The answer is E.", "ABCD") == ""
    assert robust_choice("The answer is E.", "ABCDE") == "E"


NUMBER_REPLIES = [
    ("The answer is 18", 18.0),
    ("Janet sells 16 - 3 - 4 = 9 eggs, so she makes 9 * 2 = $18 every day.", 18.0),
    ("$1,234.00", 1234.0),
    ("The total is $1,234.00.", 1234.0),
    ("#### 72", 72.0),
    ("#### 72\n\nQuestion: Tom has 5 apples", 72.0),
    ("So she has 3 + 4 = 7 apples.\n\nQuestion: Tom has 5 pears. How many?\nAnswer: 5", 7.0),  # made-up next question
    ("\\boxed{\\frac{3}{4}}", 0.75),
    ("So x = \\boxed{-5}.", -5.0),
    ("3/4 of them are left", 0.75),
    ("He earns 50% more. The answer is 1,200 dollars.", 1200.0),
    ("The answer is 18 dollars a day, 126 a week.", 18.0),  # the first number after the cue
    ("The answer is 2*4 = 8.", 8.0),  # a worked product: its result
    ("She sells 16*4 =", 4.0),  # a lone * is multiplication, not markdown: never "164"
    ("<think>It is 5. No, 7.</think>The answer is 6.", 6.0),
    ("答案是 ４２", 42.0),  # full-width digits
    ("The answer is **42**.", 42.0),
    ("no number here", None),
]


@pytest.mark.parametrize(("reply", "expected"), NUMBER_REPLIES)
def test_robust_number_reads_many_reply_styles(reply: str, expected: float | None) -> None:
    assert robust_number(reply) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [("1234", 1234.0), ("1,234", 1234.0), ("$1,234.00", 1234.0), ("-3", -3.0), ("50%", 50.0),
     ("0.5", 0.5), (".5", 0.5), ("\\frac{1}{2}", 0.5), ("3/4", 0.75), ("x+1", None), ("(3,4]", None), ("", None)],
)  # fmt: skip
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


def _entry(index: int, reply: str, answer: str, reference: str, correct: bool) -> dict:
    return {"index": index, "prediction": reply, "answer": answer, "reference": reference, "correct": correct}


def test_agreement_finds_first_capital_artefact() -> None:
    # C-Eval's official extraction takes the first capital: "The answer is A" reads as "T".
    details = [
        _entry(0, "The answer is A.", "T", "A", False),
        _entry(1, "B", "B", "B", True),
        _entry(2, "The answer is C.", "T", "D", False),
        _entry(3, "Answer: D", "A", "D", False),
    ]
    result = agreement(details, dataset="ceval", abbr="ceval-law")
    assert result is not None
    assert result.n == 4
    assert result.official_score == pytest.approx(25.0)
    assert result.robust_score == pytest.approx(75.0)
    assert result.kind == "choice"
    assert result.disagreements == [
        {"index": 0, "official_answer": "T", "robust_answer": "A", "reference": "A",
         "official_correct": False, "robust_correct": True},
        {"index": 3, "official_answer": "A", "robust_answer": "D", "reference": "D",
         "official_correct": False, "robust_correct": True},
    ]  # fmt: skip


def test_agreement_can_go_down_too() -> None:
    # OpenCompass's first-option rules take "A" from "A or B? ... the answer is B": the
    # robust reading (last stated answer) is B, so an official hit is a robust miss.
    details = [_entry(0, "A, maybe. On reflection the answer is B.", "A", "A", True)]
    result = agreement(details, dataset="mmlu", abbr="lukaemon_mmlu_anatomy")
    assert result is not None
    assert (result.official_score, result.robust_score) == (100.0, 0.0)
    assert result.disagreements[0]["robust_answer"] == "B"


def test_agreement_numeric_gsm8k_style() -> None:
    details = [
        _entry(0, "She pays $1,234.00 in total.", "1234.00", "1234", False),  # official exact-string miss
        _entry(1, "The answer is 18.", "18", "18", True),
        _entry(2, "<think>Is it 7?</think>It is 8.", "8", "7", False),
    ]
    result = agreement(details, dataset="gsm8k", abbr="gsm8k")
    assert result is not None
    assert result.kind == "numeric"
    assert result.official_score == pytest.approx(100 / 3)
    assert result.robust_score == pytest.approx(200 / 3)
    assert [d["index"] for d in result.disagreements] == [0]
    assert result.disagreements[0]["robust_answer"] == "1234"


def test_agreement_uses_pred_when_the_scorer_records_it() -> None:
    # math/bbh/agieval cloze keep the extraction in `pred` and the gold in `answer`.
    details = [{"index": 0, "prediction": "so \\boxed{2}", "answer": "2", "pred": "", "reference": "2", "correct": False}]
    result = agreement(details, dataset="math", abbr="math")
    assert result is not None
    assert result.disagreements[0]["official_answer"] == ""
    assert result.disagreements[0]["robust_answer"] == "2"


def test_agreement_keeps_official_verdict_for_unjudged_samples() -> None:
    details = [
        _entry(0, "The answer is 4.", "4", "4", True),
        {"index": 1, "prediction": "x+1", "answer": "x+1", "pred": "x+1", "reference": "x+1", "correct": True},
    ]
    result = agreement(details, dataset="math", abbr="math")
    assert result is not None
    assert (result.n, result.unjudged) == (2, 1)
    assert result.official_score == result.robust_score == 100.0


@pytest.mark.parametrize(
    ("dataset", "abbr", "entry"),
    [
        ("lcsts", "lcsts", {"index": 0, "prediction": "x", "answer": "x", "reference": "y", "rouge1": 0.0}),
        ("humaneval", "openai_humaneval", _entry(0, "A", "A", "HumanEval/0", False)),
        ("nq", "nq", {"index": 0, "prediction": "1972", "answer": ["1972"], "reference": ["1972"], "correct": True}),
        ("strategyqa", "strategyqa", _entry(0, "yes", "yes", "yes", True)),  # nothing judgeable
    ],
)
def test_agreement_is_none_where_a_robust_verdict_makes_no_sense(dataset: str, abbr: str, entry: dict) -> None:
    assert agreement([entry], dataset=dataset, abbr=abbr) is None


def test_agreement_on_a_real_run(tmp_path: Path, fake_server) -> None:
    """Every sample of a real run answered "The answer is B." (with thinking and full-width
    letters): official and robust scores straight from results/<model>/<abbr>.json."""
    server = fake_server(fixed("<think>Maybe A.</think>The answer is Ｂ."))
    cfg = config(["ceval", "ARC_c", "gsm8k"], FIXTURE_DATA, tmp_path, api_base=server.base_url, limit=5)
    outcome = execute(cfg)
    results = outcome.run_dir.root / "results" / "fake-model"
    seen = 0
    for path in sorted(results.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        abbr = path.stem
        dataset = "ceval" if abbr.startswith("ceval") else "ARC_c" if abbr == "ARC-c" else "gsm8k"
        result = agreement(body["details"], dataset=dataset, abbr=abbr)
        assert result is not None, abbr
        refs = [d["reference"] for d in body["details"]]
        if dataset == "gsm8k":
            assert result.robust_score == 0.0  # no number in the reply
            continue
        seen += 1
        # robust: "B" on every sample, so its score is the share of B references
        assert result.robust_score == pytest.approx(100.0 * refs.count("B") / len(refs)), abbr
        if dataset == "ceval":
            # OpenCompass's first capital of the answer part "The answer is Ｂ." is "T" (every
            # ceval-* sample wrong); the robust extraction reads the full-width B.
            assert result.official_score == 0.0, abbr
            assert {d["official_answer"] for d in result.disagreements} == {"T"}
            assert len(result.disagreements) == refs.count("B")
    assert seen >= 2
