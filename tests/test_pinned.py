"""Pins for behaviour no other test held down, each checked against an expectation computed
here from the spec rather than from the product:

* CSV fields with quoted line breaks (C.7, C.13): read as Python's csv module reads a file
  opened in text mode, so CR LF and a lone CR become LF, inside quoted fields too;
* option-letter extraction searches with DOTALL (B.1 step 2): patterns whose `.` must cross a
  line break (rows 42-44 and 49) behave as in OpenCompass;
* the few-shot length guard (A.7) at its exact boundary, with the spec's token estimate;
* `mmlu-weighted` (A.12) at a score other than 100.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from compasslite import benchmark
from compasslite.data import iter_csv, read_csv
from compasslite.extract import first_option
from compasslite.prompt import render_sample
from compasslite.summary import build, group_value
from compasslite.types import DatasetResult, Turn

SPEC_JSON = Path(__file__).resolve().parents[2] / "shared" / "spec" / "datasets.json"

# ------------------------------------------------------------------------------ CSV line breaks


def _python_csv(path: Path) -> list[tuple[int, list[str]]]:
    """What OpenCompass's loaders see: csv.reader over the file opened in text mode."""
    with path.open(encoding="utf-8") as f:
        reader = csv.reader(f)
        return [(reader.line_num, rec) for rec in reader if rec]


CSV_CASES = [
    pytest.param(b'a,"line1\nline2",c\nd,e,f\n', [["a", "line1\nline2", "c"], ["d", "e", "f"]], id="lf"),
    pytest.param(
        b'a,"line1\r\nline2",c\r\nd,e,f\r\n', [["a", "line1\nline2", "c"], ["d", "e", "f"]], id="crlf"
    ),
    pytest.param(b'a,"x\ry",c\rd,e,f\r', [["a", "x\ny", "c"], ["d", "e", "f"]], id="lone-cr"),
    pytest.param(
        b'a,"one\r\ntwo\rthree\nfour",c\r\n', [["a", "one\ntwo\nthree\nfour", "c"]], id="mixed-in-one-field"
    ),
    pytest.param(
        b'"He said ""hi"",\r\nthen left",2\n"",x\n',
        [['He said "hi",\nthen left', "2"], ["", "x"]],
        id="quotes-comma-and-break",
    ),
    pytest.param(
        b'a,"ends with a break\r\n"\nb,"\r\n"\n',
        [["a", "ends with a break\n"], ["b", "\n"]],
        id="edge-breaks",
    ),
    pytest.param(
        "x\u2028y,z\x85w,\x0cv\n".encode(),
        [["x\u2028y", "z\x85w", "\x0cv"]],
        id="unicode-separators-are-not-line-breaks",
    ),
    pytest.param(
        '问题\r\n第二行,"选项\r\nA",C\r\n'.encode(),
        [["问题"], ["第二行", "选项\nA", "C"]],
        id="unquoted-break-ends-the-record",
    ),
]


@pytest.mark.parametrize(("content", "expected"), CSV_CASES)
def test_csv_quoted_line_breaks_read_as_python_text_mode(tmp_path, content, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    reference = _python_csv(path)
    assert [rec for _, rec in reference] == expected  # the table itself is what Python does
    assert list(iter_csv(path)) == reference  # records and line numbers
    assert read_csv(path, header=False) == expected
    if len(expected) > 1:
        assert read_csv(path, header=True) == expected[1:]


_MMLU_QUESTION = "A cell nucleus contains which of the following?\nI. DNA\nII. Protein\nIII. RNA"


def _mmlu_dir(root: Path, newline: str) -> Path:
    """A data dir with one mmlu subject whose second test record has a multi-line question."""
    test = root / "mmlu" / "test" / "college_biology_test.csv"
    dev = root / "mmlu" / "dev" / "college_biology_dev.csv"
    test.parent.mkdir(parents=True)
    dev.parent.mkdir(parents=True)
    question = _MMLU_QUESTION.replace("\n", newline)
    test.write_bytes(
        (
            f"Which is a prokaryote?,E. coli,Yeast,Amoeba,Fern,A{newline}"
            f'"{question}",I only,II only,III only,"I, II, and III",D{newline}'
        ).encode()
    )
    dev.write_bytes(
        "".join(f"Dev question {i}?,w{i},x{i},y{i},z{i},{'ABCD'[i % 4]}{newline}" for i in range(5)).encode()
    )
    return root


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_mmlu_keeps_the_line_breaks_of_a_quoted_question(tmp_path, newline):
    data = _mmlu_dir(tmp_path, newline)
    (sub,) = [s for s in benchmark.get("mmlu").subsets if s.abbr == "lukaemon_mmlu_college_biology"]
    rows = sub.load(data)
    assert rows[1] == {
        "input": _MMLU_QUESTION,
        "A": "I only",
        "B": "II only",
        "C": "III only",
        "D": "I, II, and III",
        "target": "D",
    }
    ice = sub.load_ice(data)
    assert len(ice) == 5
    prompt = render_sample(
        sub.template,
        rows[1],
        sub.output_column,
        meta_template=False,
        ice_template=sub.ice_template,
        ice_rows=ice,
        max_seq_len=4096,
    )
    # The test item comes last (A.7); its question keeps its line breaks, the options follow.
    assert prompt.text.endswith(
        "Question: A cell nucleus contains which of the following?\nI. DNA\nII. Protein\nIII. RNA\n"
        "A. I only\nB. II only\nC. III only\nD. I, II, and III\nAnswer: "
    )
    assert "\r" not in prompt.text


def test_mmlu_real_record_14_has_the_multi_line_question(real_data):
    path = real_data / "mmlu" / "test" / "college_biology_test.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    assert _python_csv(path)[13][1][0] == _MMLU_QUESTION  # record 14 as Python's csv reads it
    (sub,) = [s for s in benchmark.get("mmlu").subsets if s.abbr == "lukaemon_mmlu_college_biology"]
    rows = sub.load(real_data)
    assert rows[13]["input"] == _MMLU_QUESTION
    assert (rows[13]["A"], rows[13]["D"], rows[13]["target"]) == ("I only", "I, II, and III", "D")


# ------------------------------------------------------------------ B.1 extraction with DOTALL

# The spec's ordered pattern list (B.1), written out here: row 14 is the fused pattern (the
# missing-comma quirk), rows 51-52 the cushion patterns.
SPEC_OPTION_PATTERNS = (
    r"答案是?\s*([{options}])",
    r"答案是?\s*：\s*([{options}])",
    r"答案是?\s*:\s*([{options}])",
    r"答案选项应?该?是\s*([{options}])",
    r"答案选项应?该?为\s*([{options}])",
    r"答案应该?是\s*([{options}])",
    r"答案应该?选\s*([{options}])",
    r"答案选项为?\s*：\s*([{options}])",
    r"答案选项为?\s+\(?\*?\*?([{options}])\*?\*?\)?",
    r"答案选项是?\s*:\s*([{options}])",
    r"答案为\s*([{options}])",
    r"答案选\s*([{options}])",
    r"选择?\s*([{options}])",
    r"故选?\s*([{options}])只有选?项?\s?([{options}])\s?是?对",
    r"只有选?项?\s?([{options}])\s?是?错",
    r"只有选?项?\s?([{options}])\s?不?正确",
    r"只有选?项?\s?([{options}])\s?错误",
    r"说法不?对选?项?的?是\s?([{options}])",
    r"说法不?正确选?项?的?是\s?([{options}])",
    r"说法错误选?项?的?是\s?([{options}])",
    r"([{options}])\s?是正确的",
    r"([{options}])\s?是正确答案",
    r"选项\s?([{options}])\s?正确",
    r"所以答\s?([{options}])",
    r"所以\s?([{options}][.。$]?$)",
    r"所有\s?([{options}][.。$]?$)",
    r"[\s，：:,]([{options}])[。，,\.]?$",
    r"[\s，,：:][故即]([{options}])[。\.]?$",
    r"[\s，,：:]因此([{options}])[。\.]?$",
    r"[是为。]\s?([{options}])[。\.]?$",
    r"因此\s?([{options}])[。\.]?$",
    r"显然\s?([{options}])[。\.]?$",
    r"答案是\s?(\S+)(?:。|$)",
    r"答案应该是\s?(\S+)(?:。|$)",
    r"答案为\s?(\S+)(?:。|$)",
    r"(?i)ANSWER\s*:\s*([{options}])",
    r"[Tt]he answer is:?\s+\(?([{options}])\)?",
    r"[Tt]he answer is:?\s+\(?\*?\*?([{options}])\*?\*?\)?",
    r"[Tt]he answer is option:?\s+\(?([{options}])\)?",
    r"[Tt]he correct answer is:?\s+\(?([{options}])\)?",
    r"[Tt]he correct answer is option:?\s+\(?([{options}])\)?",
    r"[Tt]he correct answer is:?.*?boxed{([{options}])}",
    r"[Tt]he correct option is:?.*?boxed{([{options}])}",
    r"[Tt]he correct answer option is:?.*?boxed{([{options}])}",
    r"[Tt]he answer to the question is:?\s+\(?([{options}])\)?",
    r"^选项\s?([{options}])",
    r"^([{options}])\s?选?项",
    r"(\s|^)[{options}][\s。，,：:\.$]",
    r"1.\s?(.*?)$",
    r"1.\s?([{options}])[.。$]?$",
    r"([{options}]):",
    r"([{options}])",
)


def spec_first_option(text: str, options: str, flags: int = re.DOTALL) -> tuple[str, int | None]:
    """B.1's control flow over the spec's patterns: (letter, deciding row number)."""
    text = text.strip()
    for row, pattern in enumerate(SPEC_OPTION_PATTERNS, start=1):
        match = re.search(pattern.replace("{options}", options), text, flags)
        if not match:
            continue
        captured = match.group(1) if match.groups() and match.group(1) else match.group(0)
        for letter in options:
            if letter in captured:
                return letter, row
    return "", None


def test_the_pattern_list_here_is_the_specs():
    if not SPEC_JSON.is_file():
        pytest.skip(f"{SPEC_JSON} not found")
    spec = {d["name"]: d for d in json.loads(SPEC_JSON.read_text(encoding="utf-8"))}
    for name, options in (("obqa", "ABCD"), ("CB", "ABC"), ("COPA", "AB")):
        listed = spec[name]["normalized"]["answer_patterns"]
        assert listed == [p.replace("{options}", options) for p in SPEC_OPTION_PATTERNS], name


# (options, reply, letter, deciding row, letter the same patterns give WITHOUT DOTALL or None
# when DOTALL does not matter for this reply). The letters and rows are what the spec's patterns
# give (checked below by running them); they are written out so the table reads on its own.
DOTALL_CASES = [
    ("ABCD", "Answer:\nB", "B", 27, None),
    ("ABCD", "The answer is\n(C)", "C", 37, None),
    ("ABCD", "The answer is:\n\n**B**", "B", 38, None),
    ("AB", "Answer:\n\nB", "B", 27, None),
    ("ABCD", "答案是\nC", "C", 1, None),
    ("ABCD", "The correct answer is:\nAfter checking, $\\boxed{C}$", "A", 40, None),  # "A" of After
    # `.*?` must cross the line break: rows 42-44
    ("ABCD", "The correct answer is\nby Bob's rule $\\boxed{D}$", "D", 42, "B"),
    ("ABCD", "The correct option is:\nAfter all, \\boxed{B}", "B", 43, "A"),
    ("ABCD", "The correct answer option is\nAlways \\boxed{C}.", "C", 44, "A"),
    # row 49 `1.\s?(.*?)$`: the `.` after 1 is the line break, the tail runs over lines
    ("ABCD", "Also 1\nD holds", "D", 49, "A"),
    ("AB", "Also see point 1\nB stands", "B", 49, "A"),
    ("ABCD", "Reason 1\nD holds, C fails", "C", 49, "D"),
    ("ABCDE", "Also 1\nE stands\nfirm", "E", 49, "A"),
    ("ABC", "Claim 1:\nB, then more\ntext", "B", 49, "C"),
]


@pytest.mark.parametrize(("options", "reply", "letter", "row", "without_dotall"), DOTALL_CASES)
def test_option_extraction_matches_across_line_breaks(options, reply, letter, row, without_dotall):
    assert spec_first_option(reply, options) == (letter, row)
    if without_dotall is not None:
        # The case really depends on DOTALL: without it the same patterns give another letter.
        assert spec_first_option(reply, options, 0)[0] == without_dotall != letter
    assert first_option(reply, options) == letter


@pytest.mark.parametrize(
    ("name", "abbr", "options"),
    [
        ("obqa", "openbookqa", "ABCD"),
        ("CB", "CB", "ABC"),
        ("COPA", "COPA", "AB"),
        ("agieval", "agieval-lsat-ar", "ABCDE"),
    ],
)
def test_datasets_extract_across_line_breaks(name, abbr, options):
    (sub,) = [s for s in benchmark.get(name).subsets if s.abbr == abbr]
    for opts, reply, _letter, _row, _ in DOTALL_CASES:
        if opts == options:
            assert sub.extract(reply) == spec_first_option(reply, options)[0], reply


# --------------------------------------------------------------------- A.7 length guard boundary


def spec_estimate(text: str) -> int:
    """A.7: maximal runs of ASCII letters/digits plus CJK characters (U+4E00-U+9FFF)."""
    return len(re.findall(r"[A-Za-z0-9]+", text)) + len(re.findall(r"[\u4e00-\u9fff]", text))


_ICE = (Turn.human("Question: {q}"), Turn.bot("{a}"))
_TEMPLATE = (Turn.human("Question: {q}"),)
_ICE_ROWS = [{"q": f"苹果 café{i} x{i}y", "a": f"Ans{i}"} for i in range(5)]
_ROW = {"q": "最后 final question", "a": "secret"}


def _expected(n: int, meta: bool) -> tuple[str, int]:
    """The prompt text with the first n examples and its estimate, built here (A.6, A.7)."""
    texts: list[str] = []
    for r in _ICE_ROWS[:n]:
        texts += [f"Question: {r['q']}", r["a"]]
    texts.append(f"Question: {_ROW['q']}")
    # Flat: one LF between turns. Meta template: the estimate is over the message texts
    # concatenated without separators, so "Ans0" and the next "Question" are one run.
    return "\n".join(texts), spec_estimate("".join(texts) if meta else "\n".join(texts))


def _render(max_seq_len: int | None, meta: bool):
    return render_sample(_TEMPLATE, _ROW, "a", meta_template=meta, ice_template=_ICE, ice_rows=_ICE_ROWS,
                         max_seq_len=max_seq_len)  # fmt: skip


@pytest.mark.parametrize("meta", [False, True], ids=["flat", "meta-template"])
def test_length_guard_boundary(meta):
    estimates = [_expected(n, meta)[1] for n in range(6)]
    assert estimates == sorted(set(estimates))  # every example adds to the estimate
    if meta:
        assert estimates[5] < _expected(5, False)[1]  # the concatenation merges runs
    for n in range(1, 6):
        # Exactly at max_seq_len the n examples stay; one below, the last one goes.
        kept = _render(estimates[n], meta)
        assert (kept.text, kept.estimate) == _expected(n, meta)
        dropped = _render(estimates[n] - 1, meta)
        assert (dropped.text, dropped.estimate) == _expected(n - 1, meta)
    # The test item alone is sent even if it exceeds the limit.
    assert _render(1, meta).text == _expected(0, meta)[0]
    assert _render(None, meta).text == _expected(5, meta)[0]


# ---------------------------------------------------------------------- A.12 mmlu-weighted

# The spec's weights (A.12): the number of test rows of each subject (sum 14042).
MMLU_ROWS = {
    "college_biology": 144, "college_chemistry": 100, "college_computer_science": 100,
    "college_mathematics": 100, "college_physics": 102, "electrical_engineering": 145, "astronomy": 152,
    "anatomy": 135, "abstract_algebra": 100, "machine_learning": 112, "clinical_knowledge": 265,
    "global_facts": 100, "management": 103, "nutrition": 306, "marketing": 234,
    "professional_accounting": 282, "high_school_geography": 198, "international_law": 121,
    "moral_scenarios": 895, "computer_security": 100, "high_school_microeconomics": 238,
    "professional_law": 1534, "medical_genetics": 100, "professional_psychology": 612, "jurisprudence": 108,
    "world_religions": 171, "philosophy": 311, "virology": 166, "high_school_chemistry": 203,
    "public_relations": 110, "high_school_macroeconomics": 390, "human_sexuality": 131,
    "elementary_mathematics": 378, "high_school_physics": 151, "high_school_computer_science": 100,
    "high_school_european_history": 165, "business_ethics": 100, "moral_disputes": 346,
    "high_school_statistics": 216, "miscellaneous": 783, "formal_logic": 126,
    "high_school_government_and_politics": 193, "prehistory": 324, "security_studies": 245,
    "high_school_biology": 310, "logical_fallacies": 163, "high_school_world_history": 237,
    "professional_medicine": 272, "high_school_mathematics": 270, "college_medicine": 173,
    "high_school_us_history": 204, "sociology": 201, "econometrics": 114, "high_school_psychology": 545,
    "human_aging": 223, "us_foreign_policy": 100, "conceptual_physics": 235,
}  # fmt: skip


def _mmlu_results() -> dict[str, DatasetResult]:
    """Every subject answered in full, with a different share right per subject."""
    results = {}
    for i, (subject, n) in enumerate(MMLU_ROWS.items()):
        correct = (n * (i * 7 % 57)) // 57
        results[f"lukaemon_mmlu_{subject}"] = DatasetResult(
            f"lukaemon_mmlu_{subject}",
            {"accuracy": 100.0 * correct / n},
            total=n,
            answered=n,
            errors=0,
            missing=0,
        )
    return results


def test_mmlu_weighted_is_the_sample_weighted_mean():
    assert sum(MMLU_ROWS.values()) == 14042
    mmlu = benchmark.get("mmlu")
    results = _mmlu_results()
    scores = {abbr: r.metrics["accuracy"] for abbr, r in results.items()}
    weighted = sum(scores[a] * r.total for a, r in results.items()) / sum(r.total for r in results.values())
    naive = sum(scores.values()) / len(scores)
    assert abs(weighted - naive) > 1  # the weights matter for these scores
    assert 0 < weighted < 100

    groups = {g.name: g for g in mmlu.groups}
    assert group_value(groups["mmlu-weighted"], scores) == ("weighted_average", pytest.approx(weighted), None)
    assert group_value(groups["mmlu"], scores) == ("naive_average", pytest.approx(naive), None)

    summary = build([mmlu], {"m": results})
    rows = {r.dataset: r for r in summary.rows if r.is_group}
    assert (rows["mmlu-weighted"].metric, rows["mmlu-weighted"].values) == (
        "weighted_average",
        [f"{weighted:.2f}"],
    )
    assert (rows["mmlu"].metric, rows["mmlu"].values) == ("naive_average", [f"{naive:.2f}"])


def test_mmlu_weighted_keeps_the_spec_weights_on_a_limited_run():
    """The weights are the subjects' full test sizes (A.12), also when fewer samples ran."""
    mmlu = benchmark.get("mmlu")
    results = _mmlu_results()
    limited = {
        a: DatasetResult(a, r.metrics, total=3, answered=3, errors=0, missing=0) for a, r in results.items()
    }
    scores = {a: r.metrics["accuracy"] for a, r in results.items()}
    expected = sum(scores[f"lukaemon_mmlu_{s}"] * n for s, n in MMLU_ROWS.items()) / 14042
    summary = build([mmlu], {"m": limited})
    (row,) = [r for r in summary.rows if r.dataset == "mmlu-weighted"]
    assert row.values == [f"{expected:.2f}"]
