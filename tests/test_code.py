"""humaneval and mbpp: prompts, extraction (OpenCompass and robust modes), scoring by
execution, fixtures, and the oracle contract on the real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compasslite import benchmark
from compasslite.benchmarks import code
from compasslite.errors import ConfigError, DataError
from compasslite.prompt import render_sample
from conftest import FIXTURE_DATA, real_data_or_skip
from oracles.code_summ import ORACLES

SPEC_JSON = Path(__file__).resolve().parents[2] / "shared" / "spec" / "datasets.json"
if not SPEC_JSON.is_file():
    pytest.skip(f"{SPEC_JSON} not available", allow_module_level=True)
SPEC = json.loads(SPEC_JSON.read_text(encoding="utf-8"))
SPEC_BY_NAME = {d["name"]: d for d in SPEC}

# The worked example's HumanEval record (HumanEval/53), used where real data is not needed.
ADD_ROW = {
    "task_id": "HumanEval/53",
    "prompt": '\n\ndef add(x: int, y: int):\n    """Add two numbers x and y\n    >>> add(2, 3)\n    5\n    >>> add(5, 7)\n    12\n    """\n',
    "entry_point": "add",
    "canonical_solution": "    return x + y\n",
    "test": "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    import random\n\n    assert candidate(0, 1) == 1\n    assert candidate(1, 0) == 1\n    assert candidate(2, 3) == 5\n    assert candidate(5, 7) == 12\n    assert candidate(7, 5) == 12\n\n    for i in range(100):\n        x, y = random.randint(0, 1000), random.randint(0, 1000)\n        assert candidate(x, y) == x + y\n\n",
}
VOLUME_TESTS = "assert volume_cube(3)==27\nassert volume_cube(2)==8\nassert volume_cube(5)==125"


def _subset(name: str):
    (sub,) = benchmark.get(name).subsets
    return sub


def _worked_examples():
    for name in ("humaneval", "mbpp"):
        for ex in SPEC_BY_NAME[name]["normalized"]["worked_examples"]:
            yield pytest.param(name, ex, id=f"{name}-{ex['row_index']}")


@pytest.fixture
def opencompass_mode():
    with code.extraction("opencompass"):
        yield


@pytest.fixture
def robust_mode():
    with code.extraction("robust"):
        yield


# --------------------------------------------------------------------------- declarations


def test_declarations_match_spec():
    for name, abbr, version, metrics in (
        ("humaneval", "openai_humaneval", "8e312c", ("humaneval_pass@1",)),
        ("mbpp", "mbpp", "830460", ("score", "pass", "timeout", "failed", "wrong_answer")),
    ):
        sub = _subset(name)
        norm = SPEC_BY_NAME[name]["normalized"]
        assert (sub.abbr, sub.version, sub.metrics) == (abbr, version, metrics)
        assert sub.metrics == tuple(norm["metrics_in_summary_order"])
        assert sub.output_column == norm["output_column"]
        assert sub.max_out_len == norm["max_out_len"] == 512
        assert [f["path"] for f in norm["data_files"]] == list(sub.files)
    assert code.MBPP_PATTERNS == tuple(SPEC_BY_NAME["mbpp"]["normalized"]["answer_patterns"])
    spec_turns = SPEC_BY_NAME["mbpp"]["prompt_template"][0]["prompt_template"]["template"]["round"]
    assert [(t.role, t.text) for t in code.MBPP_TEMPLATE] == [(t["role"], t["prompt"]) for t in spec_turns]


# --------------------------------------------------------------------------- worked examples


@pytest.mark.parametrize(("name", "ex"), list(_worked_examples()))
def test_worked_example(name, ex, opencompass_mode):
    data = real_data_or_skip()
    sub = _subset(name)
    if not all((data / f).is_file() for f in sub.files):
        pytest.skip(f"real file missing for {name}")
    rows = sub.load(data)
    row = rows[ex["row_index"]]
    assert json.loads(ex["raw_record"][0]["text"])["task_id"] == row["task_id"]
    assert list(row) == SPEC_BY_NAME[name]["normalized"]["row_columns"]
    flat = render_sample(sub.template, row, sub.output_column, meta_template=False, max_seq_len=4096)
    chat = render_sample(sub.template, row, sub.output_column, meta_template=True, max_seq_len=4096)
    assert flat.text == ex["rendered_prompt_no_meta_template"]
    assert flat.messages == [{"role": "user", "content": ex["rendered_prompt_no_meta_template"]}]
    assert chat.messages == ex["chat_messages_with_meta_template"]
    answer = sub.extract(ex["reply"])
    assert answer == ex["extracted_by_config_postprocessor"]
    reference = sub.reference_of(row)
    assert reference == ex["reference_after_dataset_postprocessor"]
    score = sub.score([answer], [reference], [row])
    expected = {k: v for k, v in ex["per_sample_result"].items() if k in sub.metrics}
    assert score.metrics == expected
    if name == "humaneval":
        assert score.details[0]["result"] == ex["per_sample_result"]["result"]


def test_real_row_counts():
    data = real_data_or_skip()
    for name, count, first, last in (
        ("humaneval", 164, "HumanEval/0", "HumanEval/163"),
        ("mbpp", 500, 11, 510),
    ):
        sub = _subset(name)
        if not all((data / f).is_file() for f in sub.files):
            continue
        rows = sub.load(data)
        assert len(rows) == count == SPEC_BY_NAME[name]["normalized"]["subsets"][0]["count"]
        assert (rows[0]["task_id"], rows[-1]["task_id"]) == (first, last)


# --------------------------------------------------------------------------- extraction tables


@pytest.mark.parametrize(
    ("reply", "expected"), SPEC_BY_NAME["humaneval"]["test_vectors"]["humaneval_postprocess_v2"]
)
def test_humaneval_postprocess_spec_vectors(reply, expected, opencompass_mode):
    assert code.humaneval_postprocess_v2(reply) == expected
    assert _subset("humaneval").extract(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "```python\ndef f():\n    pass\n```\n```python\nprint(1)\n```",
            "def f():\n    pass\n",
        ),  # first block
        ("Sure!\n```py\n    return 1\n```", "    return 1\n"),  # leading indentation kept
        ("```\ncode```", "code"),
        ("``` python\nx = 1\n```", "``` python\nx = 1\n```"),  # a space in the header: no match
        ("```python\ndef f():\n    return 1", "```python\ndef f():\n    return 1"),  # unclosed: unchanged
        ("return x", "return x"),
    ],
)
def test_humaneval_postprocess_more(reply, expected):
    assert code.humaneval_postprocess_v2(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"), SPEC_BY_NAME["mbpp"]["test_vectors"]["MBPPEvaluator._process_answer"]
)
def test_mbpp_process_answer_spec_vectors(reply, expected):
    assert code.mbpp_process_answer(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # the worked example
        (
            "[BEGIN]\n 'def volume_cube(l):\r\n  volume = l * l * l\r\n  return volume' \n[DONE]",
            "def volume_cube(l):\r\n  volume = l * l * l\r\n  return volume",
        ),
        # greedy groups: the last [DONE] wins inside a pattern, then the first DONE cuts
        ("[BEGIN]\n 'a = 1' \n[DONE]\n[BEGIN]\n 'b = 2' \n[DONE]", "a = 1"),
        # `BEGIN` without brackets and `DONE` without brackets (patterns 2-4)
        ("BEGIN 'x = 1' DONE", "x = 1"),
        # a lone fence: pattern 16 takes what follows it (pattern 17 is never reached)
        ("x = 1\n```\nmore", "more"),
        # backslash-underscore from markdown escaping
        ("[BEGIN]\ndef my\\_func():\n    return 1\n[DONE]", "def my_func():\n    return 1"),
        # [BEGIN] with a fenced block: OpenCompass keeps the empty text before the fence
        ("[BEGIN]\n```python\ndef f():\n    return 1\n```\n[DONE]", ""),
        # no [DONE]: pattern 18 keeps everything after the quote
        ("[BEGIN]\n 'def f():\n    return 1", "def f():\n    return 1"),
        # an unterminated fence
        ("```python\ndef f():\n    return 2\n", "def f():\n    return 2"),
        ("plain text", "plain text"),
    ],
)
def test_mbpp_process_answer_more(reply, expected):
    assert code.mbpp_process_answer(reply) == expected


def test_mbpp_extract_is_identity_and_program_assembly(opencompass_mode):
    sub = _subset("mbpp")
    reply = "[BEGIN]\n 'def f(x):\r\n  return x' \n[DONE]"
    assert sub.extract(reply) == reply  # mbpp has no pred_postprocessor; the scorer processes
    assert code.mbpp_program(reply, "assert f(1) == 1") == "def f(x):\r\n  return x\nassert f(1) == 1"


def test_humaneval_program_assembly(opencompass_mode):
    program = code.humaneval_program(ADD_ROW, "    return x + y\n")
    assert program == ADD_ROW["prompt"] + "    return x + y\n" + "\n" + ADD_ROW["test"] + "\ncheck(add)"


def test_extraction_mode_switch():
    assert code.extraction_mode() == "opencompass"
    with code.extraction("robust"):
        assert code.extraction_mode() == "robust"
        with code.extraction("opencompass"):
            assert code.extraction_mode() == "opencompass"
        assert code.extraction_mode() == "robust"
    assert code.extraction_mode() == "opencompass"
    with pytest.raises(ConfigError, match="'lenient' is not one of opencompass, robust"):
        with code.extraction("lenient"):
            pass
    assert code.extraction_mode() == "opencompass"


# Replies that trip OpenCompass: (reply, passes with OpenCompass's extraction, passes when robust)
HUMANEVAL_TRIPS = [
    ("```python\ndef add(x: int, y: int):\n    return x + y\n```", True, True),  # fenced full function
    ("```python\n    return x + y\n```", True, True),  # fenced body keeps its indentation
    ("def add(x, y):\n    return x + y", True, True),  # unfenced full function at column 0
    ("return x + y", False, True),  # a body whose indentation was stripped with the reply
    ("result = x + y\n    return result", False, True),  # first line lost its indentation
    ("result = x + y\nreturn result", False, True),  # a body written without indentation
    ("    def add(x, y):\n        return x + y", False, True),  # signature repeated, indented
    ("``` python\ndef add(x, y):\n    return x + y\n```", False, True),  # space in the fence header
    ("```Python3\ndef add(x, y):\n    return x + y\n```", True, True),
    ("```python\ndef add(x, y):\n    return x + y\n", False, True),  # cut off before the closing fence
    ("Here is the function:\ndef add(x, y):\n    return x + y", False, True),  # prose line before
    ("```python\ndef add(x, y):\n    return x - y\n```", False, False),  # wrong stays wrong
    ("I don't know.", False, False),
]


def _humaneval_pass(reply: str) -> bool:
    sub = _subset("humaneval")
    return sub.score([sub.extract(reply)], ["HumanEval/53"], [ADD_ROW]).details[0]["correct"]


def test_humaneval_extraction_modes():
    replies = [r for r, _, _ in HUMANEVAL_TRIPS]
    sub = _subset("humaneval")
    for mode, column in (("opencompass", 1), ("robust", 2)):
        with code.extraction(mode):
            answers = [sub.extract(r) for r in replies]
            score = sub.score(answers, ["HumanEval/53"] * len(replies), [ADD_ROW] * len(replies))
        got = [d["correct"] for d in score.details]
        assert got == [case[column] for case in HUMANEVAL_TRIPS], mode
        assert score.metrics["humaneval_pass@1"] == pytest.approx(100 * sum(got) / len(got))


def test_robust_mode_keeps_compiling_programs():
    # a compiling program is never rewritten (bar the nested definition case)
    assert code.robust_completion("    return x + y\n", ADD_ROW["prompt"], "add") == "    return x + y\n"
    full = "def add(x, y):\n    return x + y\n"
    assert code.robust_completion(full, ADD_ROW["prompt"], "add") == full
    assert code.humaneval_postprocess_robust("```python\nA\n```\n```python\nB\n```") == "A\n"
    assert code.humaneval_postprocess_robust("no fence") == "no fence"
    assert code.mbpp_process_answer_robust("[BEGIN]\n 'x = 1' \n[DONE]") == "x = 1"


MBPP_TRIPS = [
    ("[BEGIN]\n 'def volume_cube(l):\r\n  return l ** 3' \n[DONE]", True, True),
    ("```python\ndef volume_cube(l):\n    return l ** 3\n```\nThis cubes the side.", True, True),
    ("[BEGIN]\n```python\ndef volume_cube(l):\n    return l ** 3\n```\n[DONE]", False, True),  # fence inside
    (
        "[BEGIN]\n    import math\n    def volume_cube(l):\n        return l ** 3\n[DONE]",
        False,
        True,
    ),  # indented
    ("```py\ndef volume_cube(l):\n    return l ** 3\n```", False, True),  # `py` is taken as code
    ("[BEGIN]\n 'def volume_cube(l):\r\n  return l * 3' \n[DONE]", False, False),  # wrong stays wrong
]


def test_mbpp_extraction_modes():
    sub = _subset("mbpp")
    replies = [r for r, _, _ in MBPP_TRIPS]
    for mode, column in (("opencompass", 1), ("robust", 2)):
        with code.extraction(mode):
            score = sub.score(
                [sub.extract(r) for r in replies], [VOLUME_TESTS] * len(replies), [{}] * len(replies)
            )
        got = [d["correct"] for d in score.details]
        assert got == [case[column] for case in MBPP_TRIPS], (mode, score.details)


def test_mbpp_outcome_counts(opencompass_mode):
    sub = _subset("mbpp")
    replies = [
        "[BEGIN]\n 'def volume_cube(l):\r\n  return l ** 3' \n[DONE]",  # pass
        "[BEGIN]\n 'def volume_cube(l):\r\n  return 0' \n[DONE]",  # wrong_answer
        "[BEGIN]\n 'def cube(l):\r\n  return l ** 3' \n[DONE]",  # failed (NameError)
        "[BEGIN]\n 'def volume_cube(l):\r\n  return l **' \n[DONE]",  # failed (SyntaxError)
        "[BEGIN]\n 'def volume_cube(l):\r\n  return l ** 3' \n[DONE]",  # pass
    ]
    score = sub.score(replies, [VOLUME_TESTS] * 5, [{}] * 5)
    assert list(score.metrics) == ["score", "pass", "timeout", "failed", "wrong_answer"]
    assert score.metrics == {"score": 40.0, "pass": 2, "timeout": 0, "failed": 2, "wrong_answer": 1}
    assert [d["result"] for d in score.details] == ["pass", "wrong_answer", "failed", "failed", "pass"]
    assert sub.score([], [], []).metrics["score"] == 0.0


def test_mbpp_timeout_is_counted(monkeypatch, opencompass_mode):
    monkeypatch.setattr(code, "MBPP_TIMEOUT", 1.0)
    sub = _subset("mbpp")
    score = sub.score(["[BEGIN]\n 'while True:\r\n  pass' \n[DONE]"], [VOLUME_TESTS], [{}])
    assert score.metrics == {"score": 0.0, "pass": 0, "timeout": 1, "failed": 0, "wrong_answer": 0}


def test_humaneval_scores_any_subset(opencompass_mode):
    sub = _subset("humaneval")
    rows = sub.load(FIXTURE_DATA)
    picked = [rows[2], rows[0]]  # OpenCompass insists on all 164 problems; we do not
    answers = [sub.extract(f"```python\n{r['canonical_solution']}```") for r in picked]
    score = sub.score(answers, [r["task_id"] for r in picked], picked)
    assert score.metrics == {"humaneval_pass@1": 100.0}
    wrong = sub.score(["    return None\n", answers[1]], [r["task_id"] for r in picked], picked)
    assert wrong.metrics == {"humaneval_pass@1": 50.0}
    assert wrong.details[0]["result"].startswith("failed: ")


# --------------------------------------------------------------------------- fixtures and loading errors


def test_fixtures_load():
    he = _subset("humaneval").load(FIXTURE_DATA)
    assert [r["task_id"] for r in he] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert list(he[0]) == ["task_id", "prompt", "entry_point", "canonical_solution", "test"]
    mb = _subset("mbpp").load(FIXTURE_DATA)
    assert [r["task_id"] for r in mb] == [11, 12, 13, 14]  # lines 1-10 are the train split
    assert list(mb[0]) == SPEC_BY_NAME["mbpp"]["normalized"]["row_columns"]
    assert mb[0]["test_list"] == mb[0]["test_list_2"] == "\n".join(mb[0]["test_case"])


def test_fixture_oracles_score_full_marks(opencompass_mode):
    for name in ("humaneval", "mbpp"):
        sub = _subset(name)
        rows = sub.load(FIXTURE_DATA)
        right, wrong = ORACLES[name]
        score = sub.score(
            [sub.extract(right(sub, r).strip()) for r in rows], [sub.reference_of(r) for r in rows], rows
        )
        assert score.metrics[sub.metrics[0]] == 100.0, (name, score.details)
        score = sub.score(
            [sub.extract(wrong(sub, r).strip()) for r in rows], [sub.reference_of(r) for r in rows], rows
        )
        assert score.metrics[sub.metrics[0]] == 0.0


def test_loading_errors(tmp_path):
    with pytest.raises(DataError, match="humaneval/human-eval-v2-20210705.jsonl"):
        _subset("humaneval").load(tmp_path)
    with pytest.raises(DataError, match="mbpp/mbpp.jsonl"):
        _subset("mbpp").load(tmp_path)
    (tmp_path / "humaneval").mkdir()
    (tmp_path / "humaneval" / "human-eval-v2-20210705.jsonl").write_text(
        '{"task_id": "HumanEval/0", "prompt": "x"}\n'
    )
    with pytest.raises(DataError, match=r"jsonl:1: record lacks field\(s\) entry_point"):
        _subset("humaneval").load(tmp_path)
    (tmp_path / "mbpp").mkdir()
    good = (FIXTURE_DATA / "mbpp" / "mbpp.jsonl").read_text().splitlines()
    (tmp_path / "mbpp" / "mbpp.jsonl").write_text("\n".join([*good[:11], "{not json", *good[12:]]) + "\n")
    with pytest.raises(DataError, match="mbpp.jsonl:12: malformed JSON"):
        _subset("mbpp").load(tmp_path)
    (tmp_path / "mbpp" / "mbpp.jsonl").write_text("\n".join(good[:10]) + "\n")
    with pytest.raises(DataError, match="no test rows"):
        _subset("mbpp").load(tmp_path)


# --------------------------------------------------------------------------- real data oracles (slow)


def _real_rows(name: str):
    data = real_data_or_skip()
    sub = _subset(name)
    if not all((data / f).is_file() for f in sub.files):
        pytest.skip(f"real file missing for {name}")
    return sub, sub.load(data)


def _score_oracle(sub, rows, name: str, right_flags: list[bool]):
    right, wrong = ORACLES[name]
    # the client strips replies (A.8); extraction starts from the stripped reply
    replies = [(right if ok else wrong)(sub, row).strip() for ok, row in zip(right_flags, rows, strict=True)]
    return sub.score([sub.extract(r) for r in replies], [sub.reference_of(r) for r in rows], rows)


MIX_ROWS = 45


@pytest.mark.parametrize("name", ["humaneval", "mbpp"])
def test_real_data_oracles(name, opencompass_mode):
    """Canonical solutions of every problem pass (100), and a deterministic mix scores
    exactly the share of correct replies."""
    sub, rows = _real_rows(name)
    score = _score_oracle(sub, rows, name, [True] * len(rows))
    failures = [
        (r["task_id"], d.get("result")) for r, d in zip(rows, score.details, strict=True) if not d["correct"]
    ]
    assert failures == []
    assert score.metrics[sub.metrics[0]] == 100.0
    if name == "mbpp":
        assert score.metrics == {"score": 100.0, "pass": 500, "timeout": 0, "failed": 0, "wrong_answer": 0}

    # The mix runs on the first MIX_ROWS rows only: every program costs a process start-up.
    rows = rows[:MIX_ROWS]
    flags = [i % 3 != 0 for i in range(len(rows))]
    mixed = _score_oracle(sub, rows, name, flags)
    assert [d["correct"] for d in mixed.details] == flags
    assert mixed.metrics[sub.metrics[0]] == pytest.approx(100.0 * sum(flags) / len(flags))


def test_mbpp_canonical_code_alone_needs_setup_code(opencompass_mode):
    """Task 367's asserts use `root`, `root1`, `root2` from test_setup_code, which
    OpenCompass does not run: its canonical code alone fails there (NameError), so
    OpenCompass's maximum with the canonical code as the reply is 499/500 = 99.8 (the
    oracle therefore appends the setup code). All other rows have empty test_setup_code."""
    sub, rows = _real_rows("mbpp")
    assert [r["task_id"] for r in rows if r["test_setup_code"]] == [367]
    (row,) = [r for r in rows if r["task_id"] == 367]
    score = sub.score([f"[BEGIN]\n '{row['code']}' \n[DONE]"], [row["test_list_2"]], [row])
    assert score.metrics == {"score": 0.0, "pass": 0, "timeout": 0, "failed": 1, "wrong_answer": 0}
