"""Open-answer QA and reading comprehension: nq, triviaqa, lambada (spec C.4, C.39, C.11, B.7,
B.8) and ReCoRD, CMRC, DRCD (spec C.17, C.12, C.48, B.16, B.6).

triviaqa and ReCoRD have no real data file here: their worked examples (illustrative records)
and end-to-end checks run on the fixtures, whose first line is the spec's record verbatim.

Maximum scores with natural correct replies: 100 everywhere except lambada, where two real
labels cannot be matched by a reply that states the word: `Hightowers'money` (the scorer cuts
the reply's first word at the apostrophe, but the label only loses it: "Hightowers" vs
"Hightowersmoney") and `\\n\\nrecorder` (the label normalises to "" because it is cut at its
first newline, so only a reply whose first word normalises to "" matches).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from compasslite.benchmark import Subset, get
from compasslite.benchmarks import qa, reading
from compasslite.errors import DataError
from compasslite.prompt import render_sample
from oracles.qa_math import ORACLES

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "data"
REAL = Path(os.environ.get("COMPASSLITE_REAL_DATA", HERE.parents[1] / "shared" / "data"))
SPEC_JSON = HERE.parents[1] / "shared" / "spec" / "datasets.json"

NAMES = ("nq", "triviaqa", "lambada", "ReCoRD", "CMRC", "DRCD")

# name -> (abbr, evaluated file, rows in the full file, version, output column, metrics,
#          max_out_len, extractor, row columns)
DECL: dict[str, tuple[Any, ...]] = {
    "nq": ("nq", "nq/nq-test.qa.csv", 3610, "c788f6", "answer", ("score",), None, None, ("question", "answer")),
    "triviaqa": (
        "triviaqa", "triviaqa/trivia-dev.qa.csv", 8837, "2121ce", "answer", ("score",), 50, None,
        ("question", "answer"),
    ),
    "lambada": ("lambada", "lambada/test.jsonl", 5153, "217e11", "label", ("accuracy",), 5, None, ("prompt", "label")),
    "ReCoRD": (
        "ReCoRD", "SuperGLUE/ReCoRD/val.jsonl", 10000, "30dea0", "answers", ("score",), None,
        reading.record_postprocess, ("text", "question", "answers"),
    ),
    "CMRC": (
        "CMRC_dev", "CLUE/CMRC/dev.json", 3219, "1bd3c8", "answers", ("score",), None, reading.cmrc_postprocess,
        ("context", "question", "answers"),
    ),
    "DRCD": (
        "DRCD_dev", "CLUE/DRCD/dev.json", 3524, "1bd3c8", "answers", ("score",), None, reading.drcd_postprocess,
        ("context", "question", "answers"),
    ),
}  # fmt: skip
REAL_FILES = ("nq", "lambada", "CMRC", "DRCD")  # the others have no real file here
PREDPOST = {
    "ReCoRD": {"type": "ReCoRD"},
    "CMRC": {"type": "cmrc_postprocess"},
    "DRCD": {"type": "drcd_postprocess"},
}

OPEN_QA_PROMPT = (
    "Answer these questions, your answer should be as simple as possible, start your answer with the prompt "
    "'The answer is '.\nQ: {question}?"
)


def sub_of(name: str) -> Subset:
    (sub,) = get(name).subsets
    return sub


def _spec() -> dict[str, dict[str, Any]]:
    if not SPEC_JSON.is_file():
        return {}
    return {d["name"]: d for d in json.loads(SPEC_JSON.read_text(encoding="utf-8")) if d["name"] in NAMES}


SPEC = _spec()
needs_spec = pytest.mark.skipif(not SPEC, reason=f"{SPEC_JSON} not available")


def _real(relpath: str) -> Path:
    path = REAL / relpath
    if not path.is_file():
        pytest.skip(f"real data file {path} not available")
    return path


_ROWS: dict[tuple[str, Path], list[dict[str, Any]]] = {}


def rows_of(name: str, data_dir: Path) -> list[dict[str, Any]]:
    """Loaded rows, cached across tests (the real files take a moment to parse)."""
    key = (name, data_dir)
    if key not in _ROWS:
        _ROWS[key] = sub_of(name).load(data_dir)
    return _ROWS[key]


# --------------------------------------------------------------------------------------------
# Declarations


@pytest.mark.parametrize("name", NAMES)
def test_declaration(name):
    abbr, relpath, _, version, output_column, metrics, max_out_len, extract, _ = DECL[name]
    bench = get(name)
    sub = sub_of(name)
    assert (sub.abbr, sub.version, sub.files, sub.output_column) == (abbr, version, (relpath,), output_column)
    assert sub.metrics == metrics
    assert sub.max_out_len == max_out_len
    assert sub.ice_template is None and sub.load_ice is None and sub.reference is None
    if extract is None:  # nq, triviaqa, lambada: the scorer gets the raw (stripped) reply
        assert sub.extract("  The answer is X.\nmore") == "  The answer is X.\nmore"
    else:
        assert sub.extract is extract
    assert bench.groups == ()


def test_templates():
    for name in ("nq", "triviaqa"):
        assert [(t.role, t.text) for t in sub_of(name).template] == [("HUMAN", OPEN_QA_PROMPT), ("BOT", "A:")]
    assert [(t.role, t.text) for t in sub_of("lambada").template] == [
        ("HUMAN", "Please complete the following sentence:\n{prompt}")
    ]
    assert [(t.role, t.text) for t in sub_of("ReCoRD").template] == [
        (
            "HUMAN",
            "Passage: {text}\nResult: {question}\nQuestion: What entity does ____ refer to in the result? "
            "Give me the entity name:",
        )
    ]
    clue = "根据文章回答问题。你的答案应该尽可能简练，请以 ‘答案是’ 开头的句式作答。\n文章：{context}\n问：{question}\n答："
    for name in ("CMRC", "DRCD"):
        assert [(t.role, t.text) for t in sub_of(name).template] == [("HUMAN", clue)]
    assert "\u2018答案是\u2019" in clue  # curly single quotes


@needs_spec
@pytest.mark.parametrize("name", NAMES)
def test_declaration_matches_spec_json(name):
    norm = SPEC[name]["normalized"]
    sub = sub_of(name)
    assert tuple(norm["row_columns"]) == DECL[name][8]
    assert norm["output_column"] == sub.output_column
    assert norm["max_out_len"] == sub.max_out_len
    assert norm["metrics_in_summary_order"] == list(sub.metrics)
    (entry,) = norm["subsets"]
    assert (entry["abbr"], entry["version"], entry["evaluated_files"]) == (
        sub.abbr,
        sub.version,
        sub.files[0],
    )
    assert entry["count"] == DECL[name][2]
    assert entry["pred_postprocessor"] == PREDPOST.get(name)
    assert entry["dataset_postprocessor"] is None
    rounds = entry["template"]["prompt_template"]["round"]
    assert [(t.role, t.text) for t in sub.template] == [(r["role"], r["prompt"]) for r in rounds]


# --------------------------------------------------------------------------------------------
# Worked examples


def _examples() -> list[tuple[str, dict[str, Any]]]:
    return [(n, w) for n, d in SPEC.items() for w in d["normalized"]["worked_examples"]]


@pytest.mark.realdata
@needs_spec
@pytest.mark.parametrize("name, example", _examples(), ids=[w["abbr"] for _, w in _examples()])
def test_worked_example(name, example):
    sub = sub_of(name)
    if example["illustrative_record"]:
        # not a record of the real file: our fixture's first line is that record, verbatim
        data_dir = FIXTURES
        (raw,) = example["raw_record"]
        first_line = (FIXTURES / raw["file"]).read_bytes().split(b"\n")[0].decode("utf-8")
        assert raw["position"] == 0 and first_line == raw["text"]
    else:
        data_dir = REAL
        _real(sub.files[0])
    row = rows_of(name, data_dir)[example["row_index"]]
    assert tuple(row) == DECL[name][8]
    flat = render_sample(sub.template, row, sub.output_column, meta_template=False, max_seq_len=4096)
    chat = render_sample(sub.template, row, sub.output_column, meta_template=True, max_seq_len=4096)
    assert flat.text == example["rendered_prompt_no_meta_template"]
    assert chat.messages == example["chat_messages_with_meta_template"]
    if name in ("nq", "triviaqa"):  # the final BOT turn `A:` is only in the flat prompt
        assert flat.text == chat.messages[0]["content"] + "\nA:"
    answer = sub.extract(example["reply"])
    assert answer == example["extracted_by_config_postprocessor"]
    reference = sub.reference_of(row)
    expected_reference = example["reference_after_dataset_postprocessor"]
    if name in ("CMRC", "DRCD"):  # OpenCompass de-duplicates with a set: the order is arbitrary
        assert sorted(reference) == sorted(expected_reference)
    else:
        assert reference == expected_reference
    score = sub.score([answer], [reference], [row])
    assert score.metrics == example["per_sample_result"]
    assert score.details[0]["correct"] is True


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL_FILES)
def test_real_row_counts(name):
    _real(DECL[name][1])
    rows = rows_of(name, REAL)
    assert len(rows) == DECL[name][2]
    assert all(tuple(r) == DECL[name][8] for r in rows)


@pytest.mark.realdata
def test_real_data_facts():
    _real("CLUE/DRCD/dev.json")
    # Spec C.48: 774 DRCD questions have two distinct answer strings.
    assert sum(len(r["answers"]) == 2 for r in rows_of("DRCD", REAL)) == 774
    assert max(len(r["answers"]) for r in rows_of("DRCD", REAL)) == 2
    _real("nq/nq-test.qa.csv")
    nq = rows_of("nq", REAL)
    assert nq[0] == {
        "question": "when was the last time anyone was on the moon",
        "answer": ["14 December 1972 UTC", "December 1972"],
    }
    assert all(isinstance(r["answer"], list) and r["answer"] for r in nq)


# --------------------------------------------------------------------------------------------
# Scorers and extractors: spec vectors, then realistic replies

NQ_VECTORS = [  # spec B.7 (reply, references, correct)
    ("The answer is Barack Obama.", ["Barack Obama"], True),
    ("Obama", ["Barack Obama"], False),
    ("The answer is the United States of America", ["United States"], True),
    ("Paris\nFrance", ["France"], False),
]
NQ_REALISTIC = [
    ("The answer is December 1972.", ["14 December 1972 UTC", "December 1972"], True),
    ("the answer is 2017", ["2017"], True),
    ("THE ANSWER IS JAMES I.", ["James I"], True),  # case-insensitive
    ("I believe the answer is Rihanna, as the song is about her.", ["Rihanna"], True),
    ("The answer is Bob Russell and Bobby Scott.", ["Bobby Scott", "Bob Russell"], True),
    ("The answer is: South Carolina", ["South Carolina"], True),
    ("The answer is someone.", ["one"], True),  # substring, not word match
    ("The answer is 1972, in December.", ["December 1972"], False),  # cut at the comma
    ("Sure!\nThe answer is Paris.", ["Paris"], False),  # first line only
    ("The answer is U.S.", ["United States"], False),
    ("The answer is Washington, D.C.", ["Washington, D.C."], True),
    ("The answer is the Beatles", ["The Beatles"], True),
    ("Answer: Paris", ["Paris"], True),  # no "answer is": the whole line counts
    ("The answer is Paris. The answer is London.", ["London"], True),  # the last "answer is"
    ("The answer is Pär Lagerkvist", ["Pär Lagerkvist"], True),
    ("The answer is B-.", ["A+", "AB+"], True),  # "A+" normalises to "": matches everything
    ("I don't know.", ["A+"], True),
    ("The answer is Canada: a country", ["Canada"], True),  # nq does not split on `a:`
]
TRIVIAQA_REALISTIC = [
    ("The answer is Mars.", ["Mars", "The Red Planet", "Planet Mars"], True),
    ("A: Mars", ["Mars"], True),
    ("Answer: Herman Melville", ["Herman Melville"], True),
    ("Q: Which planet? A: Mars", ["Mars"], True),
    ("The answer is Canada: a country", ["Canada"], False),  # any `a:` cuts: "canad" | " a country"
    ("mars", ["Mars"], True),
    ("The answer is Au (gold).", ["Au"], True),
    ("I think it's Melville\nThe answer is Herman Melville.", ["Herman Melville"], False),
    ("The answer is Schrödinger's cat.", ["Schrödinger's cat"], True),
    ("The answer is the Dandy", ["The Dandy", "Dandy"], True),
    ("The answer is Beano.", ["The Dandy", "Dandy"], False),
    ("The answer is Berlin, Germany.", ["Berlin, Germany"], True),
    ("The answer is Paris\nA: Berlin", ["Berlin"], False),
]
LAMBADA_VECTORS = [  # spec B.8 (reply, label, correct)
    ("dog.", "dog", True),
    (" Dog!", "dog", False),
    ("the dog", "dog", False),
    ("dog's", "dog", True),
]
LAMBADA_REALISTIC = [
    ("Ernie,", "Ernie", True),
    ("Ernie said", "Ernie", True),
    ("Ernie", "ernie", False),  # case-sensitive
    ("signs of life", "signs", True),
    ('"Nadia', '"Nadia', False),  # the reply is cut at its first character
    ("Nadia", '"Nadia', True),
    ("Hightowers'money", "Hightowers'money", False),
    ("recorder", "\n\nrecorder", False),  # the label normalises to ""
    ("well-known", "well", True),
    ("well-known", "well-known", False),
    ("dog\\cat", "dog", False),  # the backslash is not a cut point
    ("dog\ncat", "dog", True),
    ("", "dog", False),
    ("a", "the", True),  # both normalise to ""
]
EM_VECTORS = [  # spec B.6 (extracted answer, references, correct)
    ("Barack Obama.", ["Obama", "Barack Obama"], True),
    ("the NASA", ["NASA"], True),
    ("北京。", ["北京"], True),
    ("1998年", ["1998 年"], False),
]
CMRC_POSTPROCESS_VECTORS = [  # spec json (reply, extracted)
    ("答案是北京", "北京"),
    ("根据文章，答案是：1998年。答案是…", "：1998年。"),
    ("北京", "北京"),
]
RECORD_POSTPROCESS_VECTORS = [
    ("Answer: Barack Obama\nmore", "Barack Obama"),
    ("  Paris ", "Paris"),
    ("The entity is Answer: NASA", "The entity is NASA"),
]
CMRC_REALISTIC = [  # (reply, references, correct) through the extractor
    ("答案是8条线。", ["8线", "8条线"], True),
    ("答案是：8条线。", ["8条线"], True),
    ("根据文章，答案是8条线。", ["8条线"], True),
    ("答案是8条线，其中正线2条。", ["8条线"], False),  # `，` is deleted, not a cut point
    ("答案是8条线. 其中正线2条", ["8条线"], True),  # the ASCII `.` cuts
    ("8条线", ["8条线"], True),
    ("嘉兴南站有8条线。", ["8条线"], False),
    ("答案是 1999年", ["1999年", " 1999年"], True),
    ("答案是1998年", ["1998 年"], False),
    ("答案是北京。答案是上海。", ["北京"], True),  # between the first and second 答案是
    ("答案是“北京”。", ["北京"], True),
    ("The answer is 北京", ["北京"], False),
    ("答案是：歐洲。", ["歐洲"], True),
    ("答案是描繪眾多恆星的溫度相對於亮度的圖。", ["描繪眾多恆星的溫度相對於亮度的圖"], True),
]
RECORD_REALISTIC = [
    ("Mayor Ann Lee", ["Ann Lee", "Mayor Ann Lee"], True),
    ("Answer: Ann Lee", ["Ann Lee", "Mayor Ann Lee"], True),
    ("Answer: Ann Lee\nShe cut the ribbon.", ["Ann Lee"], True),
    ("The entity is Ann Lee.", ["Ann Lee"], False),
    ("ann lee", ["Ann Lee"], False),  # case-sensitive
    ("Ann Lee.", ["Ann Lee"], True),
    ("The Ann Lee", ["Ann Lee"], True),
    ("Answer:Ann Lee", ["Ann Lee"], False),  # only "Answer: " with its space is removed
    ("Northfield", ["Northfield United", "Northfield", "Northfield"], True),
]


@needs_spec
def test_spec_json_vectors_are_in_the_tables():
    tv = {n: SPEC[n].get("test_vectors") or {} for n in NAMES}
    assert [(p, r, s == 100.0) for p, r, s in tv["nq"]["NQEvaluator.score"]] == NQ_VECTORS
    assert [(p, r, s == 100.0) for p, r, s in tv["lambada"]["LambadaEvaluator.score"]] == LAMBADA_VECTORS
    for name in ("CMRC", "ReCoRD"):
        assert [(p, r, s == 100.0) for p, r, s in tv[name]["EMEvaluator.score"]] == EM_VECTORS
    assert [tuple(v) for v in tv["CMRC"]["cmrc_postprocess"]] == CMRC_POSTPROCESS_VECTORS
    assert [tuple(v) for v in tv["ReCoRD"]["ReCoRD_postprocess"]] == RECORD_POSTPROCESS_VECTORS


def _one(name: str, answer: Any, reference: Any) -> bool:
    sub = sub_of(name)
    score = sub.score([answer], [reference], [{}])
    (value,) = score.metrics.values()
    assert value in (0.0, 100.0)
    assert score.details[0]["correct"] is (value == 100.0)
    return value == 100.0


@pytest.mark.parametrize("reply, references, correct", NQ_VECTORS + NQ_REALISTIC)
def test_nq_scorer(reply, references, correct):
    assert _one("nq", sub_of("nq").extract(reply), references) is correct


@pytest.mark.parametrize("reply, references, correct", NQ_VECTORS + TRIVIAQA_REALISTIC)
def test_triviaqa_scorer(reply, references, correct):
    assert _one("triviaqa", sub_of("triviaqa").extract(reply), references) is correct


@pytest.mark.parametrize(
    "reply, nq, triviaqa",
    [
        ("The answer is Mars.", "mars", "mars"),
        ("Q: x A: The answer is Mars, I think", "mars", "mars"),
        ("the answer: Nile", "answer nile", "nile"),
        ("Answer is: the Nile.", "nile", "nile"),
        ("Canada: a big country", "canada big country", "big country"),
        ("  THE ANSWER IS   Mount   Everest !  ", "mount everest", "mount everest"),
    ],
)
def test_reply_normalisation(reply, nq, triviaqa):
    assert qa.nq_normalize_reply(reply) == nq
    assert qa.triviaqa_normalize_reply(reply) == triviaqa


@pytest.mark.parametrize("reply, label, correct", LAMBADA_VECTORS + LAMBADA_REALISTIC)
def test_lambada_scorer(reply, label, correct):
    assert _one("lambada", sub_of("lambada").extract(reply), label) is correct


@pytest.mark.parametrize("answer, references, correct", EM_VECTORS)
@pytest.mark.parametrize("name", ("ReCoRD", "CMRC", "DRCD"))
def test_em_vectors(name, answer, references, correct):
    assert _one(name, answer, references) is correct


@pytest.mark.parametrize("reply, extracted", CMRC_POSTPROCESS_VECTORS)
@pytest.mark.parametrize("name", ("CMRC", "DRCD"))
def test_cmrc_postprocess(name, reply, extracted):
    assert sub_of(name).extract(reply) == extracted


@pytest.mark.parametrize("reply, extracted", RECORD_POSTPROCESS_VECTORS)
def test_record_postprocess(reply, extracted):
    assert sub_of("ReCoRD").extract(reply) == extracted


@pytest.mark.parametrize("reply, references, correct", CMRC_REALISTIC)
@pytest.mark.parametrize("name", ("CMRC", "DRCD"))
def test_clue_mrc_replies(name, reply, references, correct):
    sub = sub_of(name)
    assert _one(name, sub.extract(reply), references) is correct


@pytest.mark.parametrize("reply, references, correct", RECORD_REALISTIC)
def test_record_replies(reply, references, correct):
    assert _one("ReCoRD", sub_of("ReCoRD").extract(reply), references) is correct


def test_pooled_scores_and_details():
    nq = sub_of("nq").score(
        ["The answer is Paris.", "The answer is Rome.", "Paris", "The answer is the Seine"],
        [["Paris"], ["Paris"], ["paris"], ["Seine", "River Seine"]],
        [{}] * 4,
    )
    assert nq.metrics == {"score": 75.0}
    assert nq.details == [
        {"pred": "paris", "answer": ["paris"], "correct": True},
        {"pred": "rome", "answer": ["paris"], "correct": False},
        {"pred": "paris", "answer": ["paris"], "correct": True},
        {"pred": "seine", "answer": ["seine", "river seine"], "correct": True},
    ]
    lam = sub_of("lambada").score(["dog.", "cat", "Dog"], ["dog", "dog", "dog"], [{}] * 3)
    assert lam.metrics["accuracy"] == pytest.approx(100 / 3)
    em = sub_of("CMRC").score(
        ["北京", "上海", "广州", "深圳"], [["北京"], ["北京"], ["广州"], ["北京"]], [{}] * 4
    )
    assert em.metrics == {"score": 50.0}


# --------------------------------------------------------------------------------------------
# Fixtures: the loaders on small files in the exact OpenCompassData formats

FIXTURE_EXPECTED: dict[str, list[dict[str, Any]]] = {
    "nq": [
        {"question": "who was the first president of the united states", "answer": ["George Washington"]},
        {"question": "what is the capital city of australia", "answer": ["Canberra"]},
        {"question": "when did the berlin wall fall", "answer": ["9 November 1989", "November 1989", "1989"]},
        {"question": "who sang don't stop believin'", "answer": ["Journey"]},
        {"question": "how many bones are in the adult human body", "answer": ["206"]},
        {"question": 'what\'s the name of the "red planet" in the solar system', "answer": ["Mars"]},
    ],
    "triviaqa": [
        {"question": "Which planet is known as the Red Planet?", "answer": ["Mars", "The Red Planet", "Planet Mars"]},
        {"question": "Who wrote the novel 'Moby-Dick'?", "answer": ["Herman Melville", "Melville", "HERMAN MELVILLE"]},
        {"question": "What is the chemical symbol for gold?", "answer": ["Au", "AU", "au"]},
        {"question": "In which city is the Brandenburg Gate?", "answer": ["Berlin", "Berlin, Germany", "Berlin (Germany)"]},
        {"question": "Which boy's comic featured Desperate Dan?", "answer": ["The Dandy", "Dandy", "Dandy comic"]},
        {"question": "How many sides does a hexagon have", "answer": ["6", "six", "Six"]},
        {"question": 'What nickname was given to "The Iron Lady"?',
         "answer": ["Margaret Thatcher", "Maggie Thatcher", "Thatcher"]},
        {"question": "Which thought experiment puts a cat in a sealed box?",
         "answer": ["Schrödinger's cat", "Schrodinger's cat"]},
    ],
    "lambada": [
        {"prompt": "The old sailor tied the rope around the post and sat down to mend his", "label": "nets"},
        {"prompt": "She had never seen snow before, so when the first flakes fell she ran outside to catch them "
                   "on her", "label": "tongue"},
        {"prompt": "“Where is Maria?” asked the teacher. Nobody knew, until the door opened and in walked",
         "label": "Maria"},
        {"prompt": "He opened the fridge, took out the milk and poured himself a glass of", "label": "milk"},
        {"prompt": "The children built a sandcastle, but the tide came in and washed away the", "label": "sandcastle"},
    ],
    "ReCoRD": [
        {"text": "The harbour town of Eastport opened its new lighthouse on Sunday.\n\nMayor Ann Lee cut the "
                 "ribbon\n\nThe lighthouse cost $2 million",
         "question": "____ said the lighthouse would bring visitors back to the town.",
         "answers": ["Ann Lee", "Mayor Ann Lee"]},
        {"text": "(CNN) -- Northfield United beat Riverside Rovers 3-1 at Kingsway Park on Saturday to reach the "
                 "cup final.\n\nNorthfield United will face Lakeside in the final\n\nStriker Tom Hale scored "
                 "twice for Northfield",
         "question": "____'s manager praised the young side after the win.",
         "answers": ["Northfield United", "Northfield", "Northfield"]},  # duplicates kept
        {"text": "(CNN) -- Northfield United beat Riverside Rovers 3-1 at Kingsway Park on Saturday to reach the "
                 "cup final.\n\nNorthfield United will face Lakeside in the final\n\nStriker Tom Hale scored "
                 "twice for Northfield",
         "question": "The final against ____ will be played next month.",
         "answers": ["Lakeside"]},
        # the invalid byte 0xE9 after "Caf" is dropped (the file is read with errors ignored)
        {"text": "Police in Dover closed the Caf Rouge on Friday after a fire in its kitchen.\n\nNo one was "
                 "hurt, said Dover police",
         "question": "A spokesman for ____ police said the fire started at 6am.",
         "answers": ["Dover", "Dover"]},
    ],
    "CMRC": [
        {"context": "西湖位于浙江省杭州市西部，是中国著名的淡水湖泊。湖面面积约6.39平方千米，湖中有孤山、白堤、苏堤等景点。"
                    "2011年，西湖被列入世界遗产名录。",
         "question": "西湖位于哪个城市？", "answers": ["杭州市", "浙江省杭州市"]},
        {"context": "西湖位于浙江省杭州市西部，是中国著名的淡水湖泊。湖面面积约6.39平方千米，湖中有孤山、白堤、苏堤等景点。"
                    "2011年，西湖被列入世界遗产名录。",
         "question": "西湖在哪一年被列入世界遗产名录？", "answers": ["2011年", "2011"]},
        {"context": "长江是亚洲第一长河，全长约6300千米，发源于青藏高原的唐古拉山脉。长江干流流经青海、西藏、四川等11个"
                    "省级行政区，最终在上海注入东海。",
         "question": "长江全长约多少千米？", "answers": ["6300千米", "约6300千米"]},
        {"context": "长江是亚洲第一长河，全长约6300千米，发源于青藏高原的唐古拉山脉。长江干流流经青海、西藏、四川等11个"
                    "省级行政区，最终在上海注入东海。",
         "question": "长江在哪里注入东海？", "answers": ["上海"]},
    ],
    "DRCD": [
        {"context": "臺北101是位於臺灣臺北市信義區的摩天大樓，樓高508公尺，地上101層。大樓於2004年12月31日正式啟用，"
                    "曾是世界最高的建築物。",
         "question": "臺北101樓高多少公尺？", "answers": ["508公尺"]},
        {"context": "臺北101是位於臺灣臺北市信義區的摩天大樓，樓高508公尺，地上101層。大樓於2004年12月31日正式啟用，"
                    "曾是世界最高的建築物。",
         "question": "臺北101於何時正式啟用？", "answers": ["2004年12月31日"]},
        {"context": "日月潭位於南投縣魚池鄉，是臺灣最大的天然淡水湖泊。湖的東部形如日輪，西部形如月鉤，因而得名。",
         "question": "日月潭位於哪個縣？", "answers": ["南投縣", "南投縣魚池鄉"]},
        {"context": "日月潭位於南投縣魚池鄉，是臺灣最大的天然淡水湖泊。湖的東部形如日輪，西部形如月鉤，因而得名。",
         "question": "臺灣最大的天然淡水湖泊是什麼？", "answers": ["日月潭"]},
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_fixture_loads(name):
    rows = sub_of(name).load(FIXTURES)
    assert rows == FIXTURE_EXPECTED[name]
    assert all(tuple(r) == DECL[name][8] for r in rows)


def test_record_fixture_really_holds_an_invalid_byte():
    raw = (FIXTURES / "SuperGLUE/ReCoRD/val.jsonl").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_fixture_prompts():
    nq = sub_of("nq")
    row = sub_of("nq").load(FIXTURES)[5]
    flat = render_sample(nq.template, row, nq.output_column, meta_template=False)
    assert flat.text == OPEN_QA_PROMPT.replace("{question}", row["question"]) + "\nA:"
    tq = sub_of("triviaqa")
    row = tq.load(FIXTURES)[1]
    chat = render_sample(tq.template, row, tq.output_column, meta_template=True)
    assert chat.messages == [
        {"role": "user", "content": OPEN_QA_PROMPT.replace("{question}", "Who wrote the novel 'Moby-Dick'?")}
    ]
    assert chat.messages[0]["content"].endswith("'Moby-Dick'??")
    cmrc = sub_of("CMRC")
    row = cmrc.load(FIXTURES)[3]
    flat = render_sample(cmrc.template, row, cmrc.output_column, meta_template=False)
    assert flat.text.endswith("最终在上海注入东海。\n问：长江在哪里注入东海？\n答：")


@pytest.mark.parametrize("name", ("nq", "triviaqa"))
def test_unused_split_files_are_not_required(name):
    # OpenCompass also opens nq-dev.qa.csv / trivia-test.qa.csv; the fixtures do not have them
    other = {"nq": "nq/nq-dev.qa.csv", "triviaqa": "triviaqa/trivia-test.qa.csv"}[name]
    assert not (FIXTURES / other).exists()
    assert len(sub_of(name).load(FIXTURES)) == len(FIXTURE_EXPECTED[name])


# --------------------------------------------------------------------------------------------
# Loader errors


def _put(tmp_path: Path, relpath: str, content: str | bytes) -> Path:
    path = tmp_path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "content, message",
    [
        ("q1\t['a']\nq2\t['b']\textra\n", r"nq-test\.qa\.csv:2: expected 2 tab-separated fields .*found 3"),
        ("q1\t['a']\njust a question\n", r"nq-test\.qa\.csv:2: expected 2 tab-separated fields .*found 1"),
        ("q1\t['a'\n", r"nq-test\.qa\.csv:1: the answers field is not a Python list literal"),
        ("q1\t__import__('os')\n", r"nq-test\.qa\.csv:1: the answers field is not a Python list literal"),
        ("q1\t'a'\n", r"nq-test\.qa\.csv:1: the answers field must be a list of strings"),
        ("q1\t[1, 2]\n", r"nq-test\.qa\.csv:1: the answers field must be a list of strings"),
        ("", r"nq-test\.qa\.csv: the file has no records"),
    ],
)
def test_nq_loader_errors(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        sub_of("nq").load(_put(tmp_path, "nq/nq-test.qa.csv", content))


def test_qa_tsv_quoting_and_line_ends(tmp_path):
    content = 'q "one"\t[\'a\']\r\n"q\ttwo"\t"[""it\'s""]"\r\n'
    rows = sub_of("triviaqa").load(_put(tmp_path, "triviaqa/trivia-dev.qa.csv", content))
    assert rows == [{"question": 'q "one"', "answer": ["a"]}, {"question": "q\ttwo", "answer": ["it's"]}]


@pytest.mark.parametrize(
    "name, relpath",
    [(n, DECL[n][1]) for n in NAMES],
)
def test_missing_file(tmp_path, name, relpath):
    with pytest.raises(DataError, match=relpath.replace(".", r"\.")):
        sub_of(name).load(tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"prompt": "a", "label": "b"}\n{"prompt": "c"}\n', r"test\.jsonl:2: record lacks field\(s\) label"),
        ('{"prompt": "a", "label": "b"}\n{"prompt": \n', r"test\.jsonl:2: malformed JSON line"),
    ],
)
def test_lambada_loader_errors(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        sub_of("lambada").load(_put(tmp_path, "lambada/test.jsonl", content))


_GOOD_RECORD = json.dumps(
    {"passage": {"text": "A @highlight B"}, "qas": [{"query": "@placeholder x", "answers": [{"text": "B"}]}]}
)


@pytest.mark.parametrize(
    "content, message",
    [
        (
            _GOOD_RECORD + '\n{"passage": {"text": "t"}}\n',
            r"val\.jsonl:2: record is not in the SuperGLUE ReCoRD format",
        ),
        (
            _GOOD_RECORD + '\n{"passage": "t", "qas": []}\n',
            r"val\.jsonl:2: record is not in the SuperGLUE ReCoRD",
        ),
        (
            '{"passage": {"text": "t"}, "qas": [{"query": "q", "answers": [{"start": 0}]}]}\n',
            r"val\.jsonl:1: ",
        ),
        (_GOOD_RECORD + "\n{oops\n", r"val\.jsonl:2: malformed JSON line"),
        ('{"passage": {"text": "t"}, "qas": []}\n', r"val\.jsonl: the file has no questions"),
    ],
)
def test_record_loader_errors(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        sub_of("ReCoRD").load(_put(tmp_path, "SuperGLUE/ReCoRD/val.jsonl", content))


def test_record_loader_drops_invalid_bytes(tmp_path):
    content = _GOOD_RECORD.replace("A @highlight B", "A\xff @highlight B").encode("latin-1")
    rows = sub_of("ReCoRD").load(_put(tmp_path, "SuperGLUE/ReCoRD/val.jsonl", content))
    assert rows == [{"text": "A  B", "question": "____ x", "answers": ["B"]}]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"version": "1", "data": [{"paragraphs": [{"context": "c", "qas": [{"question": "q"}]}]}]}',
         r"dev\.json: data\[0\]\.paragraphs\[0\] is not in the SQuAD format"),
        ('{"version": "1", "data": [{"paragraphs": [{"qas": []}]}]}', r"data\[0\]\.paragraphs\[0\] is not in the SQuAD"),
        ('{"version": "1", "data": [{"title": "t"}]}', r"dev\.json: data\[0\] has no 'paragraphs' list"),
        ('{"version": "1"}', r"top-level 'data' list"),
        ('[1, 2]', r"top-level 'data' list"),
        ('{"data": {}}', r"'data' must be a list"),
        ('{"data": [{"paragraphs": [{"context": "c", "qas": []}]}]}', r"dev\.json: the file has no questions"),
        ('{"data": [', r"dev\.json:1: malformed JSON"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("name", ("CMRC", "DRCD"))
def test_squad_loader_errors(tmp_path, name, content, message):
    with pytest.raises(DataError, match=message):
        sub_of(name).load(_put(tmp_path, DECL[name][1], content))


# --------------------------------------------------------------------------------------------
# Oracles: correct replies reach the maximum; a deterministic mix scores exactly as expected

# nq rows with a gold answer that normalises to "" (e.g. "A+", "---", ".java"): any reply
# matches them, so the "wrong" replies are counted correct there (spec B.7).
NQ_MATCH_EVERYTHING = {196, 290, 363, 954, 1150, 1819, 2720, 3262}
# lambada rows no reply stating the word can match (see the module docstring).
LAMBADA_UNREACHABLE = {3804, 4462}


def _oracle_case(name: str) -> tuple[Path, set[int], set[int]]:
    """(data dir, rows where the correct reply cannot score, rows where any reply scores)."""
    if name in ("triviaqa", "ReCoRD"):
        return FIXTURES, set(), set()
    _real(DECL[name][1])
    return (
        REAL,
        (LAMBADA_UNREACHABLE if name == "lambada" else set()),
        (NQ_MATCH_EVERYTHING if name == "nq" else set()),
    )


@pytest.mark.realdata
@pytest.mark.parametrize("name", NAMES)
def test_oracles(name):
    data_dir, unreachable, always = _oracle_case(name)
    sub = sub_of(name)
    rows = rows_of(name, data_dir)
    refs = [sub.reference_of(r) for r in rows]
    right, wrong = ORACLES[name]
    n = len(rows)

    score = sub.score([sub.extract(right(sub, r)) for r in rows], refs, rows)
    (value,) = score.metrics.values()
    assert value == pytest.approx(100 * (n - len(unreachable)) / n)
    assert {i for i, d in enumerate(score.details) if not d["correct"]} == unreachable

    score = sub.score([sub.extract(wrong(sub, r)) for r in rows], refs, rows)
    assert {i for i, d in enumerate(score.details) if d["correct"]} == always

    mixed = [(right if i % 3 else wrong)(sub, r) for i, r in enumerate(rows)]
    score = sub.score([sub.extract(x) for x in mixed], refs, rows)
    expected = {i for i in range(n) if (i % 3 and i not in unreachable) or (i % 3 == 0 and i in always)}
    (value,) = score.metrics.values()
    assert value == pytest.approx(100 * len(expected) / n)
    assert {i for i, d in enumerate(score.details) if d["correct"]} == expected


@pytest.mark.realdata
def test_documented_exceptions_are_what_the_data_says():
    _real("nq/nq-test.qa.csv")
    nq = rows_of("nq", REAL)
    assert {
        i for i, r in enumerate(nq) if "" in map(qa.normalize_reference, r["answer"])
    } == NQ_MATCH_EVERYTHING
    assert [nq[i]["answer"] for i in (290, 3262)] == [["---"], [".java"]]
    _real("lambada/test.jsonl")
    lam = rows_of("lambada", REAL)
    assert [lam[i]["label"] for i in sorted(LAMBADA_UNREACHABLE)] == ["Hightowers'money", "\n\nrecorder"]
