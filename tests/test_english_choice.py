"""English choice datasets: obqa, AX_b, siqa, winogrande, BoolQ, WSC, storycloze, MultiRC,
RTE, AX_g, piqa, race, CB, WiC, hellaswag, summedits, COPA (spec C.1 ... C.46).

Real data is read from ../shared/data (tests skip when a file is absent); the fixtures under
tests/fixtures/data are small hand-written files in the exact format of each data file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from compasslite.benchmark import Subset, available, get
from compasslite.benchmarks.commonsense import edit_distance_accuracy
from compasslite.errors import DataError
from compasslite.prompt import render_sample
from helpers import check_worked_example
from oracles.english_choice import ORACLES

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "data"
SHARED = HERE.parents[1] / "shared"
REAL = Path(os.environ.get("COMPASSLITE_REAL_DATA", SHARED / "data"))
SPEC_JSON = SHARED / "spec" / "datasets.json"

NAMES = (
    "obqa", "AX_b", "siqa", "winogrande", "BoolQ", "WSC", "storycloze", "MultiRC", "RTE",
    "AX_g", "piqa", "race", "CB", "WiC", "hellaswag", "summedits", "COPA",
)  # fmt: skip


def _spec() -> dict[str, dict[str, Any]]:
    if not SPEC_JSON.is_file():
        pytest.skip(f"spec file {SPEC_JSON} is absent")
    return {d["name"]: d["normalized"] for d in json.loads(SPEC_JSON.read_text(encoding="utf-8"))}


def _subset(abbr: str) -> Subset:
    for name in NAMES:
        for sub in get(name).subsets:
            if sub.abbr == abbr:
                return sub
    raise KeyError(abbr)


def _has_files(data_dir: Path, sub: Subset) -> bool:
    return all((data_dir / rel).is_file() for rel in sub.files)


def _real_rows(sub: Subset) -> list[dict[str, Any]]:
    if not _has_files(REAL, sub):
        pytest.skip(f"real data for {sub.abbr} is absent under {REAL}")
    return sub.load(REAL)


def _all_subsets() -> list[tuple[str, Subset]]:
    return [(name, sub) for name in NAMES for sub in get(name).subsets]


# ------------------------------------------------------------------ declarations vs spec


def test_all_names_registered() -> None:
    registered = available()
    assert [n for n in NAMES if n not in registered] == []
    assert set(ORACLES) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_declaration_matches_spec(name: str) -> None:
    spec = _spec()[name]
    bench = get(name)
    assert [s.abbr for s in bench.subsets] == [s["abbr"] for s in spec["subsets"]]
    for sub, ssub in zip(bench.subsets, spec["subsets"], strict=True):
        assert sub.version == ssub["version"]
        rounds = ssub["template"]["prompt_template"]["round"]
        assert [(t.role, t.text) for t in sub.template] == [(r["role"], r["prompt"]) for r in rounds]
        assert sub.ice_template is None and sub.load_ice is None  # all 0-shot
        assert sub.output_column == spec["output_column"]
        assert sub.metrics == tuple(spec["metrics_in_summary_order"]) == ("accuracy",)
        assert sub.max_out_len == spec["max_out_len"] is None
        assert list(sub.files) == ssub["evaluated_files"].split(" + ")


@pytest.mark.parametrize(("name", "sub"), _all_subsets(), ids=lambda x: getattr(x, "abbr", x))
def test_row_column_order_matches_spec(name: str, sub: Subset) -> None:
    expected = _spec()[name]["row_columns"]
    data_dir = REAL if _has_files(REAL, sub) else FIXTURES
    row = sub.load(data_dir)[0]
    if isinstance(expected, dict):
        expected = expected[sub.abbr]
    if isinstance(
        expected, str
    ):  # summedits: "the record's keys in file order (id, doc, summary, label, ...)"
        assert list(row)[:4] == ["id", "doc", "summary", "label"]
    else:
        assert list(row) == expected


# -------------------------------------------------------------------- worked examples


def _worked_examples() -> list[tuple[str, int]]:
    if not SPEC_JSON.is_file():
        return []
    spec = _spec()
    return [(name, i) for name in NAMES for i in range(len(spec[name]["worked_examples"]))]


@pytest.mark.parametrize(("name", "index"), _worked_examples())
def test_worked_example(name: str, index: int) -> None:
    example = _spec()[name]["worked_examples"][index]
    sub = _subset(example["abbr"])
    if example["illustrative_record"]:  # hellaswag: no real file; the record is line 1 of the fixture
        rows = sub.load(FIXTURES)
    else:
        rows = _real_rows(sub)
    position = example["row_index"]
    if position is None:  # summedits: identified by file position (one row per line)
        position = example["raw_record"][0]["position"]
    row = rows[position]
    check_worked_example(sub, row, example, sub.load_ice(REAL)[:5] if sub.load_ice else [])


def _verified_counts() -> list[tuple[str, int]]:
    if not SPEC_JSON.is_file():
        return []
    return [
        (s["abbr"], s["count"])
        for name in NAMES
        for s in _spec()[name]["subsets"]
        if s["count_status"] == "verified"
    ]


@pytest.mark.parametrize(("abbr", "count"), _verified_counts())
def test_real_row_count(abbr: str, count: int) -> None:
    assert len(_real_rows(_subset(abbr))) == count


# -------------------------------------------------------------- files that may be absent


def test_race_high_missing_is_a_clear_data_error_and_middle_still_loads(tmp_path: Path) -> None:
    # Only the evaluated middle test file: no high file, no validation files.
    (tmp_path / "race" / "test").mkdir(parents=True)
    shutil.copy(FIXTURES / "race/test/middle.jsonl", tmp_path / "race/test/middle.jsonl")
    middle, high = get("race").subsets
    assert len(middle.load(tmp_path)) == 3
    with pytest.raises(DataError) as err:
        high.load(tmp_path)
    assert str(tmp_path / "race/test/high.jsonl") in str(err.value)
    assert "<data-dir>/race/test/high.jsonl" in str(err.value)


def test_obqa_fact_missing_is_a_clear_data_error(tmp_path: Path) -> None:
    (tmp_path / "openbookqa" / "Main").mkdir(parents=True)
    shutil.copy(FIXTURES / "openbookqa/Main/test.jsonl", tmp_path / "openbookqa/Main/test.jsonl")
    main, fact = get("obqa").subsets
    assert len(main.load(tmp_path)) == 4
    with pytest.raises(DataError, match=r"openbookqa/Additional/test_complete\.jsonl"):
        fact.load(tmp_path)


def test_hellaswag_missing_names_the_expected_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"hellaswag/hellaswag\.jsonl"):
        get("hellaswag").subsets[0].load(tmp_path)


@pytest.mark.parametrize("name", ["siqa", "piqa"])
def test_train_files_are_not_required(name: str) -> None:
    # OpenCompass opens train.jsonl / train-labels.lst but never uses them.
    assert not (FIXTURES / name / "train.jsonl").exists()
    assert not (FIXTURES / name / "train-labels.lst").exists()
    assert len(get(name).subsets[0].load(FIXTURES)) == 3


# ----------------------------------------------------------------------------- fixtures


def _labels(abbr: str) -> list[Any]:
    sub = _subset(abbr)
    return [sub.reference_of(r) for r in sub.load(FIXTURES)]


@pytest.mark.parametrize(
    ("abbr", "labels"),
    [
        ("openbookqa", ["B", "C", "A", "D"]),
        ("openbookqa_fact", ["A", "B", "D"]),
        ("AX_b", ["B", "A", "A"]),
        ("AX_g", ["A", "B", "A"]),  # the fixture has no final newline, like the real file
        ("BoolQ", ["A", "B", "A"]),
        ("CB", ["A", "B", "C"]),
        ("COPA", ["A", "B", "A"]),
        ("MultiRC", ["A", "B", "A", "B", "A", "A", "B"]),
        ("RTE", ["A", "B", "A"]),
        ("WSC", ["A", "B", "A"]),
        ("WiC", ["B", "A", "B"]),
        ("piqa", ["A", "B", "A"]),
        ("winogrande", ["A", "B", "B"]),
        ("hellaswag", ["D", "A", "B", "C"]),
        ("story_cloze", ["A", "A", "B", "A", "B"]),
        ("race-middle", ["B", "C", "A"]),
        ("race-high", ["D", "B", "A"]),
        ("summedits", ["A", "B", "B"]),
    ],
)
def test_fixture_labels(abbr: str, labels: list[str]) -> None:
    assert _labels(abbr) == labels


def test_fixture_rows_in_detail() -> None:
    obqa_fact = _subset("openbookqa_fact").load(FIXTURES)[0]
    assert obqa_fact == {
        "A": "moving air",
        "B": "gravity alone",
        "C": "its string color",
        "D": "the ground",
        "question_stem": "What keeps a kite in the air?",
        "answerKey": "A",
        "fact1": "wind is moving air",
    }
    assert _subset("WSC").load(FIXTURES)[0] == {
        "span1": "The trophy",
        "span2": "it",
        "text": "The trophy does not fit in the suitcase because it is too big .",
        "label": "A",
    }
    multirc = _subset("MultiRC").load(FIXTURES)
    assert [r["question"] for r in multirc].count("How many tomatoes had Tom picked by August?") == 3
    assert multirc[5]["text"].startswith("<b>Sent 1: </b>The library opens at nine.")
    siqa = _subset("siqa").load(FIXTURES)
    assert [r["label"] for r in siqa] == ["B", "A", "C"]
    assert siqa[0]["all_labels"] == {
        "candidates": [
            ["A. dry and warm", "A", "dry and warm"],
            ["B. wet and cold", "B", "wet and cold"],
            ["C. proud of the weather", "C", "proud of the weather"],
        ],
        "label": 1,
    }
    assert "id" not in _subset("piqa").load(FIXTURES)[0]
    wino = _subset("winogrande").load(FIXTURES)[0]
    assert wino["opt1"] == "The cup held more water than the glass because the cup was larger."
    assert wino["opt2"] == "The cup held more water than the glass because the glass was larger."
    assert wino["cont"] == " was larger."
    hella = _subset("hellaswag").load(FIXTURES)
    assert hella[0]["ctx"] == "A man is sitting on a roof. He"
    assert hella[2]["ctx"] == "Step 2: mix the dough. The chef"  # cut at the FIRST ": " only
    assert hella[3]["ctx"] == "A boy kicks a ball across a field. The ball"  # no ": " -> whole query
    story = _subset("story_cloze").load(FIXTURES)
    assert [r["story_id"] for r in story] == [f"fx-story-{i}" for i in range(1, 6)]  # train rows first
    assert story[0]["context"] == (
        "Lena wanted a dog. She saved her allowance for months. Finally she had enough money. She went to the shelter."
    )
    assert list(_subset("summedits").load(FIXTURES)[0]) == [
        "id", "doc", "summary", "label", "original_summary", "edit_types", "split", "domain",
    ]  # fmt: skip


def _render(abbr: str, row: dict[str, Any]) -> str:
    sub = _subset(abbr)
    return render_sample(sub.template, row, sub.output_column, meta_template=False).text


def test_fill_order_follows_row_columns() -> None:
    # obqa fills A..D before question_stem: a literal "{A}" inside the stem stays as is.
    row = _subset("openbookqa").load(FIXTURES)[3]
    assert _render("openbookqa", row) == (
        "Question: Which is a source of {A} braces in text?\nA. curly\nB. round\nC. square\nD. angle\nAnswer:"
    )
    # summedits fills doc before summary: a "{summary}" inside the document is replaced in turn.
    row = _subset("summedits").load(FIXTURES)[2]
    text = _render("summedits", row)
    assert "at the cafe Anna and Ben will meet at 6 at the cafe. near the station" in text
    assert text.endswith("A. Yes\nB. No\n\nAnswer:")


def test_race_prompt_has_no_answer_line() -> None:
    row = _subset("race-high").load(FIXTURES)[2]
    assert _render("race-high", row) == (
        "Read the article, and answer the question by replying A, B, C or D.\n\nArticle:\n"
        "The author argues that sleep is essential for memory.\n\nQ: What is the author's main point?\n\n"
        "A. Sleep is essential for memory\nB. Memory needs no sleep\nC. Sleep is a waste of time\nD. Dreams are random"
    )


# ----------------------------------------------------------------- loader edge cases


def _write(tmp_path: Path, rel: str, text: str) -> Path:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("abbr", "rel", "record"),
    [
        ("BoolQ", "SuperGLUE/BoolQ/val.jsonl", {"question": "q", "passage": "p", "idx": 0}),
        ("WiC", "SuperGLUE/WiC/val.jsonl", {"word": "w", "sentence1": "s1", "sentence2": "s2", "idx": 0}),
        (
            "WSC",
            "SuperGLUE/WSC/val.jsonl",
            {"text": "t", "target": {"span1_text": "a", "span2_text": "b"}, "idx": 0},
        ),
    ],
)
def test_true_false_labels_as_strings_or_json_booleans(
    tmp_path: Path, abbr: str, rel: str, record: dict
) -> None:
    lines = [json.dumps({**record, "label": v}) for v in ("true", "false", True, False)]
    _write(tmp_path, rel, "\n".join(lines) + "\n")
    assert [r["label"] for r in _subset(abbr).load(tmp_path)] == ["A", "B", "A", "B"]
    _write(tmp_path, rel, lines[0] + "\n" + json.dumps({**record, "label": "yes"}) + "\n")
    with pytest.raises(DataError, match=r"val\.jsonl:2: unexpected label 'yes'"):
        _subset(abbr).load(tmp_path)


@pytest.mark.parametrize(
    ("abbr", "rel", "bad_line", "message"),
    [
        ("RTE", "SuperGLUE/RTE/val.jsonl", '{"premise": "p", "hypothesis": "h", "label": "maybe"}', r":2: unexpected"),
        ("AX_b", "SuperGLUE/AX-b/AX-b.jsonl", '{"sentence1": "x", "label": "entailment"}', r":2: .*sentence2"),
        ("CB", "SuperGLUE/CB/val.jsonl", '{"premise": "p", "hypothesis": "h", "label": 1}', r":2: unexpected"),
        ("COPA", "SuperGLUE/COPA/val.jsonl", '{"premise": "p", "choice1": "a"', r":2: malformed JSON"),
        ("MultiRC", "SuperGLUE/MultiRC/val.jsonl", '{"passage": {"text": "t"}}', r":2: .*MultiRC format"),
        ("winogrande", "winogrande/dev.jsonl", '{"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"}', r":2: .*blank"),
        ("hellaswag", "hellaswag/hellaswag.jsonl", '{"query": "q", "choices": ["a", "b", "c", "d"], "gold": 4}', r":2: expected `gold`"),
        ("story_cloze", "xstory_cloze/en_train.jsonl", '{"input_sentence_1": "a"}', r":2: .*lacks"),
        ("race-middle", "race/test/middle.jsonl", '{"article": "a", "question": "q", "options": ["x"], "answer": "A"}', r":2: .*RACE format"),
        ("summedits", "summedits/summedits.jsonl", '{"doc": "d", "summary": "s", "label": "1"}', r":2: expected label 0 or 1"),
        ("openbookqa", "openbookqa/Main/test.jsonl", '{"question": {"stem": "s", "choices": []}, "answerKey": "A"}', r":2: .*OpenBookQA format"),
    ],
)  # fmt: skip
def test_malformed_record_is_reported_at_file_and_line(
    tmp_path: Path, abbr: str, rel: str, bad_line: str, message: str
) -> None:
    sub = _subset(abbr)
    for other in sub.files:  # every evaluated file starts from its fixture
        _write(tmp_path, other, (FIXTURES / other).read_text(encoding="utf-8"))
    good = (FIXTURES / rel).read_text(encoding="utf-8").split("\n")[0]
    path = _write(tmp_path, rel, good + "\n" + bad_line + "\n")
    with pytest.raises(DataError, match=message) as err:
        sub.load(tmp_path)
    assert str(path) in str(err.value)


def test_siqa_labels_are_paired_and_checked(tmp_path: Path) -> None:
    _write(tmp_path, "siqa/dev.jsonl", (FIXTURES / "siqa/dev.jsonl").read_text(encoding="utf-8"))
    _write(tmp_path, "siqa/dev-labels.lst", "2\n1\n")
    with pytest.raises(DataError, match=r"has 3 records but .*dev-labels\.lst has 2 labels"):
        _subset("siqa").load(tmp_path)
    _write(tmp_path, "siqa/dev-labels.lst", "2\n4\n1\n")
    with pytest.raises(DataError, match=r"dev-labels\.lst:2: expected label 1, 2 or 3, found 4"):
        _subset("siqa").load(tmp_path)
    _write(tmp_path, "siqa/dev-labels.lst", "2\nx\n1\n")
    with pytest.raises(DataError, match=r"dev-labels\.lst:2: expected an integer label"):
        _subset("siqa").load(tmp_path)


def test_piqa_negative_label_gives_null_reference(tmp_path: Path) -> None:
    _write(tmp_path, "piqa/dev.jsonl", (FIXTURES / "piqa/dev.jsonl").read_text(encoding="utf-8"))
    _write(tmp_path, "piqa/dev-labels.lst", "0\n-1\n1\n")
    assert [r["answer"] for r in _subset("piqa").load(tmp_path)] == ["A", "NULL", "B"]


# ------------------------------------------------------------------ extraction tables

# (dataset names, replies -> expected extraction); spec vectors first, then realistic replies.
_AB_VECTORS = [
    ("B", "B"),
    ("A. Yes", "A"),
    ("No, the answer is B", "B"),
    ("Option 1: B", "B"),
    ("Both A and B", "B"),
    ("The second sentence follows from the first, so the answer is A.", "A"),
    ("The answer is (B)", "B"),
    ("**A**", "A"),
    ("答案是B", "B"),
    ("Both options seem plausible.", "B"),  # cushion: the B of "Both"
    ("no idea", ""),
    ("", ""),
]
_ABC_VECTORS = [
    ("A. Contradiction", "A"),
    ("The relation is neutral.\nThe answer is C.", "C"),
    ("C", "C"),
    ("D", ""),
    ("entailment", ""),
]
_ABCD_VECTORS = [
    ("B", "B"),
    ("The answer is C.", "C"),
    ("Answer: D", "D"),
    ("I think (B) is right", "B"),
    ("Based on the passage, the answer is A.", "A"),
    ("All of the options except D are wrong", "A"),
    ("Step 1: compute. The correct answer is B", "B"),
    ("答案是C", "C"),
    ("A. Paris\nB is wrong", "A"),
    ("(C) 1917", "C"),
    ("none", ""),
    ("D. starts pulling up roofing on a roof.", "D"),
    ("The answer is **C**", "C"),
]
_CAPITAL_VECTORS = [
    ("A", "A"),
    ("Yes", "Y"),
    ("no, B", "B"),
    ("B. 否", "B"),
    ("答案是A", "A"),
    ("the answer is B", "B"),
    ("", ""),
    ("No, they are different.", "N"),
    ("B. No, the passage says otherwise.", "B"),
]
_EXTRACTION_TABLE = [
    *[(n, r, e) for n in ("AX_b", "RTE", "AX_g", "COPA", "MultiRC", "piqa", "winogrande", "storycloze") for r, e in _AB_VECTORS],
    *[("CB", r, e) for r, e in _ABC_VECTORS],
    *[(n, r, e) for n in ("obqa", "race", "hellaswag") for r, e in _ABCD_VECTORS],
    *[(n, r, e) for n in ("BoolQ", "WSC", "WiC", "summedits") for r, e in _CAPITAL_VECTORS],
]  # fmt: skip


@pytest.mark.parametrize(("name", "reply", "expected"), _EXTRACTION_TABLE)
def test_extraction(name: str, reply: str, expected: str) -> None:
    for sub in get(name).subsets:
        assert sub.extract(reply) == expected


def test_siqa_has_no_extractor() -> None:
    reply = "  C. Find somewhere to go  "
    assert get("siqa").subsets[0].extract(reply) == reply


_SIQA_REF = {
    "candidates": [
        ["A. go to the store", "A", "go to the store"],
        ["B. stay home", "B", "stay home"],
        ["C. call a friend", "C", "call a friend"],
    ],
    "label": 1,
}


@pytest.mark.parametrize(
    ("reply", "index"),
    [
        ("B", 1),
        ("B. stay home", 1),
        ("The answer is B", 1),
        ("stay home", 1),
        ("Answer: C", 0),  # distance 8 to both "A" and "C": the tie goes to the lowest index
        ("I think they would call a friend.", 2),
        ("", 0),  # distance 1 to "A", "B" and "C"
    ],
)
def test_siqa_edit_distance_vectors(reply: str, index: int) -> None:
    score = edit_distance_accuracy([reply], [_SIQA_REF], [{}])
    assert score.details[0]["predicted_index"] == index
    assert score.metrics == {"accuracy": 100.0 if index == 1 else 0.0}


def test_siqa_accuracy_over_several_samples() -> None:
    replies = ["B", "C. call a friend", "stay home", "Answer: C"]
    score = edit_distance_accuracy(replies, [_SIQA_REF] * 4, [{}] * 4)
    assert [d["correct"] for d in score.details] == [True, False, True, False]
    assert score.metrics == {"accuracy": 50.0}


# ---------------------------------------------------------------------- oracle contract


def _oracle_cases() -> list[tuple[str, Subset]]:
    return _all_subsets()


@pytest.mark.parametrize(("name", "sub"), _oracle_cases(), ids=lambda x: getattr(x, "abbr", x))
def test_oracles_score_exactly(name: str, sub: Subset) -> None:
    data_dir = REAL if _has_files(REAL, sub) else FIXTURES
    rows = sub.load(data_dir)
    right, wrong = ORACLES[name]
    refs = [sub.reference_of(r) for r in rows]
    n = len(rows)

    answers = [sub.extract(right(sub, r)) for r in rows]
    assert sub.score(answers, refs, rows).metrics == {"accuracy": 100.0}

    wrong_answers = [sub.extract(wrong(sub, r)) for r in rows]
    assert sub.score(wrong_answers, refs, rows).metrics == {"accuracy": 0.0}

    mixed = [sub.extract((right if i % 3 else wrong)(sub, r)) for i, r in enumerate(rows)]
    expected = 100.0 * sum(1 for i in range(n) if i % 3) / n
    score = sub.score(mixed, refs, rows)
    assert score.metrics == {"accuracy": expected}
    assert [d["correct"] for d in score.details] == [bool(i % 3) for i in range(n)]
