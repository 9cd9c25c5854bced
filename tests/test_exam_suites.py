"""bbh, agieval, GaokaoBench and strategyqa (spec C.16, C.34, C.44, C.32; B.1, B.3, B.11, B.14,
B.16, B.17; A.12 groups)."""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from compasslite.benchmark import get
from compasslite.benchmarks import agieval, bbh, gaokao, strategyqa
from compasslite.errors import DataError
from compasslite.prompt import fill, render_sample
from helpers import check_worked_example
from oracles.exam_suites import ORACLES, REAL_MAXIMA, SAME_PROMPT_DIFFERENT_GOLD, expected_score

REAL = Path(os.environ.get("COMPASSLITE_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FIXTURES = Path(__file__).parent / "fixtures" / "data"
SPEC_JSON = Path("/work/shared/spec/datasets.json")
NAMES = ("bbh", "agieval", "GaokaoBench", "strategyqa")


@cache
def spec() -> dict[str, Any]:
    if not SPEC_JSON.is_file():
        pytest.skip("spec datasets.json not available")
    return {d["name"]: d for d in json.loads(SPEC_JSON.read_text(encoding="utf-8")) if d["name"] in NAMES}


def subset(abbr: str):
    for name in NAMES:
        for sub in get(name).subsets:
            if sub.abbr == abbr:
                return sub
    raise KeyError(abbr)


def has_files(data_dir: Path, sub) -> bool:
    return all((data_dir / f).is_file() for f in sub.files)


@cache
def real_rows(abbr: str) -> list[dict[str, Any]]:
    sub = subset(abbr)
    if not has_files(REAL, sub):
        pytest.skip(f"real data for {abbr} not available")
    return sub.load(REAL)


ALL_SUBSETS = [(name, sub.abbr) for name in NAMES for sub in get(name).subsets]


# ---------------------------------------------------------------------------------------------
# Declarations against the spec


@pytest.mark.parametrize("name", NAMES)
def test_subsets_versions_and_lengths_match_spec(name):
    declared = get(name).subsets
    expected = spec()[name]["normalized"]["subsets"]
    assert [s.abbr for s in declared] == [e["abbr"] for e in expected]
    assert [s.version for s in declared] == [e["version"] for e in expected]
    assert {s.max_out_len for s in declared} == {spec()[name]["normalized"]["max_out_len"]}
    assert all(len(s.metrics) == 1 for s in declared)


@pytest.mark.parametrize("name", ("agieval", "GaokaoBench", "strategyqa"))
def test_templates_equal_spec(name):
    for sub, expected in zip(get(name).subsets, spec()[name]["normalized"]["subsets"], strict=True):
        tpl = expected["template"].get("prompt_template") or expected["template"]["ice_template"]
        assert [(t.role, t.text) for t in sub.template] == [(r["role"], r["prompt"]) for r in tpl["round"]]
        assert sub.ice_template is None and sub.load_ice is None


def test_bbh_template_with_lib_prompt_equals_spec():
    lib = spec()["bbh"]["bbh_lib_prompt"]
    for sub, expected in zip(get("bbh").subsets, spec()["bbh"]["normalized"]["subsets"], strict=True):
        task = sub.abbr.removeprefix("bbh-")
        (turn,) = sub.template
        assert turn.role == "HUMAN"
        assert (
            fill(turn.text, {bbh.PROMPT_COLUMN: lib[task]["text"]})
            == expected["template"]["prompt_template"]["round"][0]["prompt"]
        )
        assert sub.files == (f"BBH/data/{task}.json", f"BBH/lib_prompt/{task}.txt")


def test_bbh_lib_prompts_in_data_dir_equal_spec_texts():
    lib = spec()["bbh"]["bbh_lib_prompt"]
    assert len(lib) == 27
    for task, entry in lib.items():
        path = REAL / "BBH" / "lib_prompt" / f"{task}.txt"
        if not path.is_file():
            pytest.skip("real BBH lib_prompt files not available")
        raw = path.read_bytes()
        assert len(raw) == entry["n_bytes"], task
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"], task
        assert path.read_text(encoding="utf-8") == entry["text"], task


@pytest.mark.parametrize("name", NAMES)
def test_metrics_and_extraction_kinds(name):
    for sub, expected in zip(get(name).subsets, spec()[name]["normalized"]["subsets"], strict=True):
        metric = expected.get("metric", "accuracy")
        assert sub.metrics == (metric,), sub.abbr


# ---------------------------------------------------------------------------------------------
# Worked examples (real rows): prompt bytes, extraction, reference, per-sample score


def _worked_examples():
    if not SPEC_JSON.is_file():
        return []
    out = []
    for name in NAMES:
        for i, ex in enumerate(spec()[name]["normalized"]["worked_examples"]):
            out.append(pytest.param(name, i, id=f"{ex['abbr']}-{i}"))
    return out


def _worked_row(ex: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    if ex["row_index"] is not None:
        return rows[ex["row_index"]]
    # strategyqa's example names its record, not a verified position: find it by qid.
    record = json.loads(ex["raw_record"][0]["text"])
    (row,) = [r for r in rows if r.get("qid") == record["qid"]]
    return row


@pytest.mark.parametrize("name,i", _worked_examples())
def test_worked_example(name, i):
    ex = spec()[name]["normalized"]["worked_examples"][i]
    sub = subset(ex["abbr"])
    row = _worked_row(ex, real_rows(sub.abbr))
    check_worked_example(sub, row, ex, sub.load_ice(REAL)[:5] if sub.load_ice else [])


def test_strategyqa_worked_example_has_thirteen_chat_messages():
    ex = spec()["strategyqa"]["normalized"]["worked_examples"][0]
    roles = [m["role"] for m in ex["chat_messages_with_meta_template"]]
    assert roles == ["user", "assistant"] * 6 + ["user"]


# ---------------------------------------------------------------------------------------------
# Row counts on the real files


@pytest.mark.parametrize("name,abbr", ALL_SUBSETS)
def test_row_counts(name, abbr):
    (expected,) = [s for s in spec()[name]["normalized"]["subsets"] if s["abbr"] == abbr]
    assert expected["count_status"] == "verified"
    assert len(real_rows(abbr)) == expected["count"]


# ---------------------------------------------------------------------------------------------
# B.14 bbh extractors


@pytest.mark.parametrize(
    "text,expected",
    [
        ("(A)", "A"),
        ("Let's think. So the answer is (C).", "C"),
        ("So the answer is B.", "B"),
        ("The answer is (D). Q: next... So the answer is (A).", "D"),
        ("no letter here", "no letter here"),
        # realistic replies
        ("Let's think step by step.\nThe dates line up with (E). So the answer is (F).", "F"),
        ("Step 1: compare (A) and (B).\nSo the answer is B", "B"),
        ("So the answer is Monsters, Inc.", "M"),
        ("So the answer is dearth, wind, & fire", "dearth, wind, & fire"),
        ("So the answer is dearth, wind, & fire.", "dearth, wind, & fire."),
        ("I would pick (G) here", "G"),
        ("the answer is  (b) maybe", "(b) maybe"),
    ],
)
def test_bbh_mcq_postprocess(text, expected):
    assert bbh.mcq_postprocess(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("So the answer is True.", "True"),
        ("So the answer is **Yes**.", "Yes"),
        ("So the answer is 42.\nQ: ...", "42"),
        ("the answer is } ] >.", "} ] >"),
        ("No marker. 7", "No marker. 7"),
        # realistic replies
        ("Let's think step by step.\n(3 + 4) * 2 = 14. So the answer is 14.", "14"),
        ("So the answer is -7..", "-7."),
        ("The answer is: Yes.", "The answer is: Yes"),
        ("So the answer is yes, because he is a hockey player.", "yes, because he is a hockey player"),
        ("Sorted: apple banana. So the answer is apple banana\nThat is all.", "apple banana"),
        ("So the answer is valid. Then the answer is invalid.", "valid. Then the"),
    ],
)
def test_bbh_freeform_postprocess(text, expected):
    assert bbh.freeform_postprocess(text) == expected


def test_bbh_spec_json_test_vectors():
    vectors = spec()["bbh"]["test_vectors"]
    for text, expected in vectors["bbh_mcq_postprocess"]:
        assert bbh.mcq_postprocess(text) == expected
    for text, expected in vectors["bbh_freeform_postprocess"]:
        assert bbh.freeform_postprocess(text) == expected


def test_bbh_scorers():
    mcq = subset("bbh-date_understanding")
    refs = [mcq.reference_of({"target": t}) for t in ("(A)", "(B)", "(C)", "(D)")]
    assert refs == ["A", "B", "C", "D"]
    replies = ["So the answer is (A).", "So the answer is (C).", "So the answer is C.", "(D)"]
    result = mcq.score([mcq.extract(r) for r in replies], refs, [{}] * 4)
    assert result.metrics == {"score": 75.0}
    assert [d["correct"] for d in result.details] == [True, False, True, True]

    free = subset("bbh-sports_understanding")
    assert free.extract("So the answer is no.") == "So the answer is no."  # the scorer extracts
    replies = ["So the answer is no.", "So the answer is No.", "So the answer is **yes**.", "yes"]
    result = free.score(replies, ["no", "no", "yes", "no"], [{}] * 4)
    assert result.metrics == {"score": 50.0}  # case-sensitive: "No" != "no"
    assert [d["pred"] for d in result.details] == ["no", "No", "yes", "yes"]


# ---------------------------------------------------------------------------------------------
# B.16 strategyqa


@pytest.mark.parametrize(
    "text,expected",
    [
        ("So the answer is yes", "yes"),
        ("Frogs can feel disgust.\nSo the answer is yes", "yes"),
        ("The answer is No.", "no"),
        ("So the answer is YES!", "yes"),
        ("I do not think so.\nSo the answer is yes", "yes"),  # after the last `answer is `
        ("I do not know.", "no"),  # `not` contains `no`
        ("His eyes are blue.", "yes"),  # `eyes` contains `yes`
        ("Hmm, let me think.\n\nSo the answer is no", ""),  # only text before the first blank line
        ("The answer is yes. Wait, the answer is no.", "no"),
        ("So the answer is maybe", ""),
        ("", ""),
    ],
)
def test_strategyqa_extractor(text, expected):
    assert strategyqa.extract_answer(text) == expected


@pytest.mark.parametrize(
    "value,expected", [(True, "yes"), (False, "no"), ("True", "yes"), ("true", "no"), (None, "no")]
)
def test_strategyqa_reference(value, expected):
    assert strategyqa.reference({"answer": value}) == expected


# ---------------------------------------------------------------------------------------------
# B.1 with ABCDE and B.3 for agieval


@pytest.mark.parametrize(
    "text,expected",
    [
        ("The answer is E.", "E"),
        ("答案是E", "E"),
        ("答案是： C", "C"),
        ("Since k = 3, (x-1)/3 = 3, so x = 10. The answer is (D).", "D"),
        ("逐项分析各选项后可以确定，答案是 B", "B"),
        ("After checking, (E) 12 is right", "A"),  # only the cushion row fires: the A of "After"
        ("All of the options except D are wrong", "A"),
        ("none", ""),
    ],
)
def test_agieval_single_choice_extractor(text, expected):
    assert subset("agieval-aqua-rat").extract(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("AD", "AD"),
        ("A and D", "A"),
        ("Based on the law", "B"),
        ("正确答案是ABC。", "ABC"),
        ("ACE", "AC"),
        ("无", ""),
    ],
)
def test_agieval_multi_letter_extractor(text, expected):
    for abbr in ("agieval-gaokao-physics", "agieval-jec-qa-kd", "agieval-jec-qa-ca"):
        assert subset(abbr).extract(text) == expected


def test_agieval_none_reference_is_never_correct():
    sub = subset("agieval-jec-qa-kd")
    row = {"question": "q", "options": "(A)x", "label": None}
    assert sub.reference_of(row) is None
    result = sub.score([sub.extract("None"), sub.extract("正确答案是A。")], [None, None], [row, row])
    assert result.metrics == {"accuracy": 0.0}


# ---------------------------------------------------------------------------------------------
# B.11 agieval cloze parsing and equivalence


@pytest.mark.parametrize(
    "reply,expected",
    [
        ("Since $2^6 = 64$, we get $\\log_2 64 = 6$.", "6"),
        ("The answer is therefore 5", "5"),
        ("The answer is therefore $\\boxed{7}$.", "7"),
        ("答案是 $\\frac{1}{2}$", "\\frac{1}{2}"),
        ("We get \\boxed{x = 3}.", "3"),
        ("So \\boxed{\\frac{1}{2}} and \\boxed{{1,2}}", "{1,2}"),
        ("\\boxed 5", None),  # no braces after \boxed
        ("\\boxed{12", None),  # unbalanced
        ("\\fbox{4}", "4"),  # no \boxed: the number path finds 4
        ("so $x = 4$ and $y = 5$", "5"),  # greedy per line, then after the last =
        ("Line one $a$\nso b = 7.", "a"),
        ("$$ and nothing else", None),
        ("x = 12.\\nmore", "12."),  # trailing dots are stripped before the \n cut
        ("so y = 7.", "7"),
        ("The value is 3.5 or maybe 4", "4"),
        ("It costs $5", "$5"),
        ("Nothing here", None),
        ("答案是3，The answer is therefore 8", "8"),
        ("Hmm. The answer is therefore $x$, no wait. The answer is therefore 7", "7"),  # last prefix
        ("The answer is therefore $x$, no wait. The answer is therefore 7", "x"),  # leading prefix only
    ],
)
def test_agieval_cloze_parse(reply, expected):
    assert agieval.parse_cloze_answer(reply) == expected


@pytest.mark.parametrize(
    "answer,reference,expected",
    [
        ("\\frac12", "\\frac{1}{2}", True),
        ("0.5", "\\frac{1}{2}", True),  # Hendrycks rule (MATH's B.10 differs)
        (".5", "0.5", True),
        ("1/2", "\\frac{1}{2}", True),
        ("\\dfrac{3}{4}", "\\frac{3}{4}", True),
        ("x=5", "5", True),
        ("5\\text{ cm}", "5", True),
        ("10", "10.0", False),
        ("(1,2)", "(1, 2)", True),
        ("\\$12", "12", True),
        ("50\\%", "50", True),
        ("\\sqrt2", "\\sqrt{2}", True),
        ("2^\\circ", "2", True),
        ("\\left(1,2\\right)", "(1,2)", True),
        ("a=b=c", "c", False),
        ("\\frac", "\\frac", True),  # normalisation fails: raw strings compared
        ("\\frac", "x", False),
        ("3\\text{ m}\\text{ s}", "3", False),  # two `\text{ `: error, raw comparison
        ("\\sqrt", "\\sqrt", True),
        (None, "1", False),
        (None, None, True),
        ("2x - y = 0", "2x-y=0", True),
    ],
)
def test_agieval_cloze_equivalence(answer, reference, expected):
    assert agieval.cloze_equivalent(answer, reference) is expected


def test_agieval_cloze_scorer():
    sub = subset("agieval-math")
    assert sub.extract("raw reply") == "raw reply"
    replies = [
        "The answer is therefore $\\boxed{\\frac{1}{2}}$.",
        "x = 3",
        "I give up",
        "$\\boxed{2x - y = 0}$",
    ]
    result = sub.score(replies, ["0.5", "3", "3", "2x - y = 0"], [{}] * 4)
    assert result.metrics == {"score": 50.0}
    assert [d["pred"] for d in result.details] == ["\\frac{1}{2}", "3", None, "0"]


# ---------------------------------------------------------------------------------------------
# B.17 GaokaoBench


@pytest.mark.parametrize(
    "qtype,reply,n,expected",
    [
        ("single_choice", "【解析】 A 和 B 都不对 <eoe>\n【答案】 C <eoa>", 1, ["C"]),
        ("single_choice", "选A还是B？最终选 D", 1, ["D"]),
        ("single_choice", "无法确定", 1, []),
        ("multi_question_choice", "（1）【答案】 B <eoa>\n（2）【答案】：C <eoa>", 2, ["B", "C"]),
        ("multi_question_choice", "（1）【答案】 B <eoa> 第二题选 C", 2, ["B", "C"]),
        ("multi_question_choice", "The answer: A, then D", 2, ["T", "A"]),
        ("multi_question_choice", "（1）【答案】 B <eoa>", 3, ["B"]),
        ("multi_choice", "【解析】 分析 <eoe>\n【答案】 B C <eoa>", 1, ["BC"]),
        ("multi_choice", "【答案】A，理由：选项C和D都是错的", 1, ["CD"]),  # marker at 0: last 10 chars
        ("multi_choice", "我认为 A 正确 【答案】 BD", 1, ["BD"]),
        ("multi_choice", "无", 1, []),
        ("five_out_of_seven", "【答案】 F A G C E <eoa>", 5, ["F", "A", "G", "C", "E"]),
        ("five_out_of_seven", "A B C", 5, ["A", "B", "C"]),
        ("five_out_of_seven", "G F E D C B A", 5, ["G", "F", "E", "D", "C"]),
    ],
)
def test_gaokao_parse_reply(qtype, reply, n, expected):
    assert gaokao.parse_reply(reply, qtype, n) == expected


def _gaokao_score(abbr: str, replies: list[str], refs: list[list[str]]):
    sub = subset(abbr)
    return sub.score([sub.extract(r) for r in replies], refs, [{}] * len(refs))


def test_gaokao_multi_choice_partial_credit():
    abbr = "GaokaoBench_2010-2022_Physics_MCQs"
    cases = [("【解析】 x <eoe>\n【答案】 B <eoa>", 1), ("【解析】 x <eoe>\n【答案】 BD <eoa>", 0)]
    cases += [("【解析】 x <eoe>\n【答案】 BC <eoa>", 2), ("【解析】 x <eoe>\n【答案】 无 <eoa>", 0)]
    for reply, points in cases:
        result = _gaokao_score(abbr, [reply], [["BC"]])
        assert result.metrics == {"score": 100.0 * points / 2}, reply
        assert result.details[0]["points"] == points


def test_gaokao_scores_are_pooled_points():
    result = _gaokao_score(
        "GaokaoBench_2010-2022_Geography_MCQs",
        ["（1）【答案】 B <eoa>\n（2）【答案】 C <eoa>\n（3）【答案】 A <eoa>", "（1）【答案】 A <eoa>"],
        [["B", "C", "D"], ["A", "B"]],  # 2 of 3, then length mismatch -> Z Z -> 0 of 2
    )
    assert result.metrics == {"score": 40.0}
    assert result.details[1]["pred"] == ["Z", "Z"]
    result = _gaokao_score(
        "GaokaoBench_2012-2022_English_Cloze_Test", ["【答案】 F A G C D <eoa>"], [["F", "A", "G", "C", "E"]]
    )
    assert result.metrics == {"score": 80.0}


@pytest.mark.parametrize(
    "abbr", [a for a, t in gaokao.QUESTION_TYPES.items() if t not in gaokao.SCORED_TYPES]
)
def test_gaokao_unscored_subsets_always_zero(abbr):
    result = _gaokao_score(abbr, ["【答案】 whatever <eoa>", "A"], [["A"], "A"])
    assert result.metrics == {"score": 0}


def test_gaokao_question_types_match_spec():
    expected = {s["abbr"]: s["question_type"] for s in spec()["GaokaoBench"]["normalized"]["subsets"]}
    assert gaokao.QUESTION_TYPES == expected
    assert sum(t in gaokao.SCORED_TYPES for t in expected.values()) == 14


# ---------------------------------------------------------------------------------------------
# Group declarations (A.12)


def test_groups():
    bbh_groups = get("bbh").groups
    assert [(g.name, g.weights) for g in bbh_groups] == [("bbh", None)]
    assert bbh_groups[0].members == tuple(s.abbr for s in get("bbh").subsets)
    assert len(bbh_groups[0].members) == 27

    groups = {g.name: g for g in get("agieval").groups}
    assert set(groups) == {"agieval", "agieval-chinese", "agieval-english", "agieval-gaokao"}
    assert all(g.weights is None for g in groups.values())
    # A.12 lists the members in the summarizer's order (gaokao-physics before gaokao-mathqa).
    assert sorted(groups["agieval"].members) == sorted(s.abbr for s in get("agieval").subsets)
    assert groups["agieval"].members[6:9] == (
        "agieval-gaokao-physics",
        "agieval-gaokao-mathqa",
        "agieval-logiqa-zh",
    )
    assert len(groups["agieval-chinese"].members) == 12
    assert len(groups["agieval-english"].members) == 9
    assert set(groups["agieval-chinese"].members) | set(groups["agieval-english"].members) == set(
        groups["agieval"].members
    )
    assert groups["agieval-gaokao"].members == tuple(
        f"agieval-{n}"
        for n in (
            "gaokao-chinese", "gaokao-english", "gaokao-geography", "gaokao-history", "gaokao-biology",
            "gaokao-chemistry", "gaokao-physics", "gaokao-mathqa", "gaokao-mathcloze",
        )
    )  # fmt: skip
    assert "agieval-math" in groups["agieval-english"].members

    (gk,) = get("GaokaoBench").groups
    assert gk.name == "GaokaoBench"
    scored = [
        s.abbr for s in get("GaokaoBench").subsets if gaokao.QUESTION_TYPES[s.abbr] in gaokao.SCORED_TYPES
    ]
    assert sorted(gk.members) == sorted(scored)
    weights = dict(zip(gk.members, gk.weights, strict=True))
    assert sum(gk.weights) == 9702
    assert weights["GaokaoBench_2010-2022_Political_Science_MCQs"] == 1280
    assert weights["GaokaoBench_2010-2013_English_MCQs"] == 105
    assert weights["GaokaoBench_2010-2022_Chinese_Lang_and_Usage_MCQs"] == 240


# ---------------------------------------------------------------------------------------------
# Fixtures (exact file formats) through the loaders


def test_fixture_bbh():
    rows = subset("bbh-date_understanding").load(FIXTURES)
    assert len(rows) == 3
    # The task's few-shot text travels in an extra first column (see bbh.py); then the spec's columns.
    assert list(rows[0]) == [bbh.PROMPT_COLUMN, "input", "target"]
    lib = (FIXTURES / "BBH/lib_prompt/date_understanding.txt").read_text(encoding="utf-8")
    assert rows[0][bbh.PROMPT_COLUMN] == lib and not lib.endswith("\n")
    sub = subset("bbh-date_understanding")
    prompt = render_sample(sub.template, rows[1], sub.output_column, meta_template=False)
    assert prompt.text == (
        "Follow the given examples and answer the question.\n" + lib + "\n\nQ: " + rows[1]["input"]
        + "\nA: Let's think step by step."
    )  # fmt: skip
    assert [sub.reference_of(r) for r in rows] == ["A", "B", "C"]
    rows = subset("bbh-sports_understanding").load(FIXTURES)
    assert [r["target"] for r in rows] == ["no", "yes"]


def test_fixture_agieval():
    rows = subset("agieval-sat-math").load(FIXTURES)
    assert rows[1] == {
        "question": "A store sells pens at $3 each. How much do 5 pens cost?",
        "options": "(A)$8\n(B)$12\n(C)$15\n(D)$18",
        "label": "C",
    }
    assert list(rows[0]) == ["question", "options", "label"]
    rows = subset("agieval-jec-qa-kd").load(FIXTURES)
    assert [r["label"] for r in rows] == ["ABC", "B", None]
    assert [r["label"] for r in subset("agieval-gaokao-physics").load(FIXTURES)] == ["A", "AC"]
    rows = subset("agieval-math").load(FIXTURES)
    assert rows[0] == {"question": "Compute $3+4$.", "options": "", "label": "7"}
    sub = subset("agieval-math")
    prompt = render_sample(sub.template, rows[0], sub.output_column, meta_template=True)
    assert prompt.messages == [
        {
            "role": "user",
            "content": "The following is a Math question. Please select the correct answer.\nCompute $3+4$.\nThe answer is ",
        }
    ]


def test_fixture_gaokao():
    rows = subset("GaokaoBench_2010-2022_Physics_MCQs").load(FIXTURES)
    assert [r["answer"] for r in rows] == [["AC"], ["D"]]
    assert list(rows[0]) == list(gaokao.COLUMNS)
    rows = subset("GaokaoBench_2010-2022_Chemistry_Open-ended_Questions").load(FIXTURES)
    assert [list(r) for r in rows] == [list(gaokao.COLUMNS)] * 2  # the swapped record is reordered
    assert rows[1]["answer"] == "O2"
    for abbr in (
        "GaokaoBench_2010-2022_Math_II_MCQs",
        "GaokaoBench_2010-2022_Geography_MCQs",
        "GaokaoBench_2012-2022_English_Cloze_Test",
        "GaokaoBench_2010-2022_Math_I_Fill-in-the-Blank",
    ):
        assert subset(abbr).load(FIXTURES)


def test_fixture_strategyqa():
    sub = get("strategyqa").subsets[0]
    rows = sub.load(FIXTURES)
    assert list(rows[0]) == [
        "qid", "term", "description", "question", "answer", "facts", "decomposition", "evidence",
    ]  # fmt: skip
    assert [sub.reference_of(r) for r in rows] == ["no", "yes", "yes"]
    prompt = render_sample(sub.template, rows[0], sub.output_column, meta_template=True)
    assert len(prompt.messages) == 13
    assert prompt.messages[-1] == {
        "role": "user",
        "content": "Question: Can a penguin fly to the Moon?\nAnswer:",
    }
    flat = render_sample(sub.template, rows[0], sub.output_column, meta_template=False).text
    assert "So the answer is no\n\nQuestion: Would a pear sink in water?\nAnswer:\n" in flat
    assert flat.endswith("So the answer is no\n\nQuestion: Can a penguin fly to the Moon?\nAnswer:")


# ---------------------------------------------------------------------------------------------
# Loader errors


def _write(base: Path, relpath: str, text: str) -> None:
    path = base / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_missing_files_name_the_expected_path(tmp_path):
    with pytest.raises(DataError, match=r"BBH/data/navigate\.json"):
        subset("bbh-navigate").load(tmp_path)
    _write(tmp_path, "BBH/data/navigate.json", json.dumps({"examples": [{"input": "x", "target": "Yes"}]}))
    with pytest.raises(DataError, match=r"BBH/lib_prompt/navigate\.txt"):
        subset("bbh-navigate").load(tmp_path)
    with pytest.raises(DataError, match=r"AGIEval/data/v1/lsat-ar\.jsonl"):
        subset("agieval-lsat-ar").load(tmp_path)
    with pytest.raises(DataError, match=r"GAOKAO-BENCH/data/Open-ended_Questions/2010-2022_Math_I"):
        subset("GaokaoBench_2010-2022_Math_I_Open-ended_Questions").load(tmp_path)
    with pytest.raises(DataError, match=r"strategyqa/strategyQA_train\.json"):
        get("strategyqa").subsets[0].load(tmp_path)


def test_malformed_records(tmp_path):
    good = {"passage": None, "question": "q", "options": ["(A)x"], "label": "A", "other": None}
    _write(tmp_path, "AGIEval/data/v1/lsat-ar.jsonl", json.dumps(good) + "\n{oops\n")
    with pytest.raises(DataError, match=r"lsat-ar\.jsonl:2: malformed JSON"):
        subset("agieval-lsat-ar").load(tmp_path)
    bad = dict(good)
    del bad["options"]
    _write(tmp_path, "AGIEval/data/v1/lsat-ar.jsonl", json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=r"lsat-ar\.jsonl:2: record lacks field\(s\) options"):
        subset("agieval-lsat-ar").load(tmp_path)
    nolabel = {"passage": None, "question": "q", "options": None, "label": None, "other": None}
    _write(tmp_path, "AGIEval/data/v1/math.jsonl", json.dumps(nolabel) + "\n")
    with pytest.raises(DataError, match=r"math\.jsonl:1: record has neither a label nor an answer"):
        subset("agieval-math").load(tmp_path)

    _write(tmp_path, "BBH/lib_prompt/navigate.txt", "text")
    _write(tmp_path, "BBH/data/navigate.json", json.dumps([{"input": "x", "target": "Yes"}]))
    with pytest.raises(DataError, match=r'navigate\.json: expected a JSON object with an "examples" list'):
        subset("bbh-navigate").load(tmp_path)
    _write(tmp_path, "BBH/data/navigate.json", json.dumps({"examples": [{"input": "x"}]}))
    with pytest.raises(DataError, match=r"navigate\.json:examples\[0\]: record lacks field\(s\) target"):
        subset("bbh-navigate").load(tmp_path)
    _write(tmp_path, "BBH/data/navigate.json", '{"examples": [\n{"input": "x",}\n]}')
    with pytest.raises(DataError, match=r"navigate\.json:2: malformed JSON"):
        subset("bbh-navigate").load(tmp_path)

    rel = "GAOKAO-BENCH/data/Multiple-choice_Questions/2010-2022_Physics_MCQs.json"
    record = {"year": "2020", "category": "c", "question": "q", "answer": "A", "analysis": "", "index": 0}
    _write(tmp_path, rel, json.dumps({"keywords": "k", "example": [record]}))
    with pytest.raises(DataError, match=r"example\[0\]: record lacks field\(s\) score"):
        subset("GaokaoBench_2010-2022_Physics_MCQs").load(tmp_path)
    record["score"] = 6
    _write(tmp_path, rel, json.dumps({"keywords": "k", "example": [record]}))
    with pytest.raises(DataError, match=r"example\[0\]: answer must be a non-empty list"):
        subset("GaokaoBench_2010-2022_Physics_MCQs").load(tmp_path)

    _write(tmp_path, "strategyqa/strategyQA_train.json", json.dumps({"question": "q"}))
    with pytest.raises(DataError, match=r"expected a JSON array"):
        get("strategyqa").subsets[0].load(tmp_path)
    _write(
        tmp_path,
        "strategyqa/strategyQA_train.json",
        json.dumps([{"question": "q", "answer": True}, {"qid": 1}]),
    )
    with pytest.raises(DataError, match=r"\[1\]: record lacks field\(s\) question, answer"):
        get("strategyqa").subsets[0].load(tmp_path)


# ---------------------------------------------------------------------------------------------
# Oracle contract: all-correct replies reach 100 (or the documented maximum); a deterministic
# mix gives exactly the score computed independently from the gold labels.


def _data_dir(sub) -> Path:
    if has_files(REAL, sub):
        return REAL
    if has_files(FIXTURES, sub):
        return FIXTURES
    pytest.skip(f"no real data and no fixture for {sub.abbr}")


def test_identical_prompts_with_different_golds():
    """Facts of the real files that bound what a prompt-keyed oracle can score (see the oracle
    module): these pairs render the same prompt but have different references."""
    found: dict[str, list[tuple[int, int]]] = {}
    for name in NAMES:
        for sub in get(name).subsets:
            rows = real_rows(sub.abbr)
            by_prompt: dict[str, int] = {}
            for i, row in enumerate(rows):
                text = render_sample(sub.template, row, sub.output_column, meta_template=False).text
                j = by_prompt.setdefault(text, i)
                if j != i and sub.reference_of(rows[j]) != sub.reference_of(row):
                    found.setdefault(sub.abbr, []).append((j, i))
    assert found == SAME_PROMPT_DIFFERENT_GOLD


@pytest.mark.parametrize("name,abbr", ALL_SUBSETS)
def test_oracle_contract(name, abbr):
    sub = subset(abbr)
    data_dir = _data_dir(sub)
    rows = real_rows(abbr) if data_dir == REAL else sub.load(data_dir)
    right, wrong = ORACLES[name]
    refs = [sub.reference_of(r) for r in rows]
    (metric,) = sub.metrics

    correct = sub.score([sub.extract(right(sub, r)) for r in rows], refs, rows)
    maximum = expected_score(name, sub, rows, [True] * len(rows))
    assert correct.metrics[metric] == pytest.approx(maximum, abs=1e-9)
    if data_dir == REAL:
        assert maximum == pytest.approx(REAL_MAXIMA.get(abbr, 100.0), abs=1e-9)

    chosen = [i % 3 != 0 for i in range(len(rows))]
    replies = [(right if c else wrong)(sub, r) for r, c in zip(rows, chosen, strict=True)]
    mixed = sub.score([sub.extract(r) for r in replies], refs, rows)
    assert mixed.metrics[metric] == pytest.approx(expected_score(name, sub, rows, chosen), abs=1e-9)
    assert len(mixed.details) == len(rows)


def test_oracle_contract_on_fixtures():
    """The same contract on the hand-written fixture files (formats the loaders must accept)."""
    covered = 0
    for name in NAMES:
        right, wrong = ORACLES[name]
        for sub in get(name).subsets:
            if not has_files(FIXTURES, sub):
                continue
            rows = sub.load(FIXTURES)
            refs = [sub.reference_of(r) for r in rows]
            (metric,) = sub.metrics
            correct = sub.score([sub.extract(right(sub, r)) for r in rows], refs, rows)
            assert correct.metrics[metric] == pytest.approx(
                expected_score(name, sub, rows, [True] * len(rows))
            )
            none = sub.score([sub.extract(wrong(sub, r)) for r in rows], refs, rows)
            assert none.metrics[metric] == 0
            covered += 1
    assert covered == 13
