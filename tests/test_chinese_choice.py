"""CLUE and FewCLUE choice/classification sets (spec C.9, C.10, C.14, C.15, C.20, C.25,
C.28, C.29, C.35, C.36, C.37): prompts, loaders, extraction, scoring, oracles.

All eleven use the first-capital extractor (B.2) and accuracy (B.5). With natural Chinese
replies that state the option letter first ("答案是 B", "B. 蕴含", "选项 A 正确") OpenCompass's
extraction reaches 100 on every sub-dataset. It cannot with replies whose first uppercase
character is not the option letter: English-style replies ("The answer is B" -> "T",
"I think A" -> "I") or replies that quote text containing Latin capitals before the letter;
the tables below pin that behaviour down, and the oracles avoid such replies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from compasslite.benchmark import Benchmark, Subset, get
from compasslite.errors import DataError
from compasslite.extract import first_capital
from compasslite.prompt import render_sample
from helpers import check_worked_example
from oracles.chinese_choice import ORACLES, gold_letter, options_of

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "data"
REAL = Path(os.environ.get("COMPASSLITE_REAL_DATA", HERE.parents[1] / "shared" / "data"))
SPEC_JSON = HERE.parents[1] / "shared" / "spec" / "datasets.json"

NAMES = ("cluewsc", "ocnli", "csl", "cmnli", "eprstmt", "chid", "bustm", "afqmc", "ocnli_fc", "C3", "tnews")

# What the spec (Part C) says about each sub-dataset:
# short name -> [(abbr, evaluated file, rows, version, output column)]
SUBSETS: dict[str, list[tuple[str, str, int, str, str]]] = {
    "cluewsc": [
        ("cluewsc-dev", "FewCLUE/cluewsc/dev_few_all.json", 159, "5ab83b", "label"),
        ("cluewsc-test", "FewCLUE/cluewsc/test_public.json", 976, "5ab83b", "label"),
    ],
    "ocnli": [("ocnli", "CLUE/OCNLI/dev.json", 2950, "c4cb6c", "label")],
    "csl": [
        ("csl_dev", "FewCLUE/csl/dev_few_all.json", 160, "25149e", "label"),
        ("csl_test", "FewCLUE/csl/test_public.json", 2838, "25149e", "label"),
    ],
    "cmnli": [("cmnli", "CLUE/cmnli/cmnli_public/dev.json", 12241, "1abf97", "label")],
    "eprstmt": [
        ("eprstmt-dev", "FewCLUE/eprstmt/dev_few_all.json", 160, "9710da", "label"),
        ("eprstmt-test", "FewCLUE/eprstmt/test_public.json", 610, "9710da", "label"),
    ],
    "chid": [
        ("chid-dev", "FewCLUE/chid/dev_few_all.json", 202, "211ee7", "answer"),
        ("chid-test", "FewCLUE/chid/test_public.json", 2002, "211ee7", "answer"),
    ],
    "bustm": [
        ("bustm-dev", "FewCLUE/bustm/dev_few_all.json", 160, "5cc669", "label"),
        ("bustm-test", "FewCLUE/bustm/test_public.json", 1772, "5cc669", "label"),
    ],
    "afqmc": [("afqmc-dev", "CLUE/AFQMC/dev.json", 4316, "901306", "label")],
    "ocnli_fc": [
        ("ocnli_fc-dev", "FewCLUE/ocnli/dev_few_all.json", 160, "51e956", "label"),
        ("ocnli_fc-test", "FewCLUE/ocnli/test_public.json", 2520, "51e956", "label"),
    ],
    "C3": [("C3", "CLUE/C3/dev_0.json", 1825, "8c358f", "label")],
    "tnews": [
        ("tnews-dev", "FewCLUE/tnews/dev_few_all.json", 1098, "958876", "label_desc2"),
        ("tnews-test", "FewCLUE/tnews/test_public.json", 926, "958876", "label_desc2"),
    ],
}
ALL_SUBSETS = [
    pytest.param(name, *entry, id=entry[0]) for name, entries in SUBSETS.items() for entry in entries
]

ROW_COLUMNS = {
    "cluewsc": ("span1", "span2", "text", "label"),
    "ocnli": (
        "level", "sentence1", "sentence2", "label", "label0", "label1", "label2", "label3", "label4",
        "genre", "prem_id", "id",
    ),
    "csl": ("abst", "keywords", "label"),
    "cmnli": ("sentence1", "sentence2", "label"),
    "eprstmt": ("sentence", "label"),
    "chid": ("content", "A", "B", "C", "D", "E", "F", "G", "answer"),
    "bustm": ("id", "sentence1", "sentence2", "label"),
    "afqmc": ("sentence1", "sentence2", "label"),
    "C3": ("content", "question", "choice0", "choice1", "choice2", "choice3", "label"),
    "tnews": ("sentence", "label_desc2"),
}  # fmt: skip
ROW_COLUMNS["ocnli_fc"] = ROW_COLUMNS["ocnli"]


def subset(name: str, abbr: str) -> Subset:
    return next(s for s in get(name).subsets if s.abbr == abbr)


def _spec() -> dict[str, dict[str, Any]]:
    if not SPEC_JSON.is_file():
        return {}
    return {d["name"]: d for d in json.loads(SPEC_JSON.read_text(encoding="utf-8")) if d["name"] in NAMES}


SPEC = _spec()
needs_spec = pytest.mark.skipif(not SPEC, reason=f"{SPEC_JSON} not available")


def _worked_examples() -> list[tuple[str, dict[str, Any]]]:
    return [(n, w) for n, d in SPEC.items() for w in d["normalized"]["worked_examples"]]


def _real(relpath: str) -> Path:
    path = REAL / relpath
    if not path.is_file():
        pytest.skip(f"real data file {path} not available")
    return path


# --------------------------------------------------------------------------------------------
# Declarations


@pytest.mark.parametrize("name, abbr, relpath, count, version, output_column", ALL_SUBSETS)
def test_declaration(name, abbr, relpath, count, version, output_column):
    bench = get(name)
    assert isinstance(bench, Benchmark) and bench.name == name
    sub = subset(name, abbr)
    assert sub.version == version
    assert sub.files == (relpath,)
    assert sub.output_column == output_column
    assert sub.metrics == ("accuracy",)
    assert sub.extract is first_capital
    assert sub.ice_template is None and sub.load_ice is None
    assert sub.max_out_len is None  # the model's max_out_len
    assert len(sub.template) == 1 and sub.template[0].role == "HUMAN"
    assert bench.groups == ()


@pytest.mark.parametrize("name", NAMES)
def test_abbrs_in_spec_order(name):
    assert [s.abbr for s in get(name).subsets] == [e[0] for e in SUBSETS[name]]


@needs_spec
@pytest.mark.parametrize("name", NAMES)
def test_declaration_matches_spec_json(name):
    norm = SPEC[name]["normalized"]
    assert tuple(norm["row_columns"]) == ROW_COLUMNS[name]
    assert norm["metrics_in_summary_order"] == ["accuracy"]
    assert norm["max_out_len"] is None
    subs = {s.abbr: s for s in get(name).subsets}
    assert list(subs) == [s["abbr"] for s in norm["subsets"]]
    for entry in norm["subsets"]:
        sub = subs[entry["abbr"]]
        assert sub.version == entry["version"]
        assert sub.files == (entry["evaluated_files"],)
        assert entry["pred_postprocessor"] == {"type": "first_capital_postprocess"}
        assert entry["dataset_postprocessor"] is None and sub.reference is None
        rounds = entry["template"]["prompt_template"]["round"]
        assert [(t.role, t.text) for t in sub.template] == [(r["role"], r["prompt"]) for r in rounds]


# --------------------------------------------------------------------------------------------
# Worked examples and counts on the real data


@pytest.mark.realdata
@needs_spec
@pytest.mark.parametrize("name, example", _worked_examples(), ids=[w["abbr"] for _, w in _worked_examples()])
def test_worked_example(name, example):
    sub = subset(name, example["abbr"])
    _real(sub.files[0])
    rows = sub.load(REAL)
    row = rows[example["row_index"]]
    assert tuple(row) == ROW_COLUMNS[name]
    score = check_worked_example(sub, row, example, sub.load_ice(REAL)[:5] if sub.load_ice else [])
    assert score.details == [{"correct": True}]


@pytest.mark.realdata
@pytest.mark.parametrize("name, abbr, relpath, count, version, output_column", ALL_SUBSETS)
def test_real_row_count_and_columns(name, abbr, relpath, count, version, output_column):
    _real(relpath)
    rows = subset(name, abbr).load(REAL)
    assert len(rows) == count
    assert all(tuple(r) == ROW_COLUMNS[name] for r in rows)
    letters = {"chid": "ABCDEFG", "tnews": "ABCDEFGHIJKLMNO", "C3": "ABCD"}.get(name)
    letters = letters or ("ABC" if name in ("ocnli", "cmnli", "ocnli_fc") else "AB")
    assert {r[output_column] for r in rows} <= set(letters)


@pytest.mark.realdata
def test_real_label_balance_facts():
    # Spec C.29: AFQMC has 2978 A / 1338 B, so always answering A scores 69.0.
    _real("CLUE/AFQMC/dev.json")
    sub = subset("afqmc", "afqmc-dev")
    rows = sub.load(REAL)
    refs = [sub.reference_of(r) for r in rows]
    assert (refs.count("A"), refs.count("B")) == (2978, 1338)
    assert round(sub.score(["A"] * len(rows), refs, rows).metrics["accuracy"], 1) == 69.0
    # Spec C.36: 313 C3 questions have 3 choices, so option D is the literal [NULL].
    _real("CLUE/C3/dev_0.json")
    c3 = subset("C3", "C3").load(REAL)
    assert sum(r["choice3"] == "[NULL]" for r in c3) == 313
    # Spec C.37: the OpenCompassData tnews test file has 13 classes (no N or O).
    _real("FewCLUE/tnews/test_public.json")
    tnews = subset("tnews", "tnews-test").load(REAL)
    assert len({r["label_desc2"] for r in tnews}) == 13
    assert not {"N", "O"} & {r["label_desc2"] for r in tnews}


# --------------------------------------------------------------------------------------------
# Extraction and scoring

# Spec B.2 test vectors.
FIRST_CAPITAL_VECTORS = [
    ("A", "A"),
    ("Yes", "Y"),
    ("no, B", "B"),
    ("B. 否", "B"),
    ("答案是A", "A"),
    ("the answer is B", "B"),
    ("", ""),
]

# Realistic replies: (reply, extracted). The English-style ones show where OpenCompass's
# extraction cannot give the intended letter.
REALISTIC = [
    ("答案是 B", "B"),
    ("B. 蕴含", "B"),
    ("选项 A 正确", "A"),
    ("根据题意分析，应该选C。", "C"),
    ("我的答案：O（股票市场类别新闻）", "O"),
    ("仔细读一遍材料，可以判断答案为 G，即“孔武有力”。", "G"),
    ("答：D", "D"),
    ("Ａ", "Ａ"),  # full-width capital: uppercase too, but not equal to "A"
    ("The answer is B", "T"),
    ("I think A", "I"),
    ("Based on the passage, C", "B"),
    ("根据HJT电池的描述，选B", "H"),
    ("这两句话没有关系", ""),
    ("选项是 b", ""),
]


@needs_spec
@pytest.mark.parametrize("name", NAMES[:5])
def test_spec_json_vectors(name):
    vectors = SPEC[name].get("test_vectors") or {}
    assert [tuple(v) for v in vectors.get("first_capital_postprocess", [])] == FIRST_CAPITAL_VECTORS


@pytest.mark.parametrize("reply, expected", FIRST_CAPITAL_VECTORS + REALISTIC)
@pytest.mark.parametrize("name", NAMES)
def test_extract(name, reply, expected):
    for sub in get(name).subsets:
        assert sub.extract(reply) == expected


@pytest.mark.parametrize(
    "answers, references, accuracy, flags",
    [
        (["A"], ["A"], 100.0, [True]),
        (["B"], ["A"], 0.0, [False]),
        (["A", "B", "Y"], ["A", "C", "A"], 100 / 3, [True, False, False]),
        (["", "C", "C", "Ａ"], ["B", "C", "C", "A"], 50.0, [False, True, True, False]),
        (["O", "N"], ["O", "O"], 50.0, [True, False]),
    ],
)
@pytest.mark.parametrize("name", NAMES)
def test_accuracy(name, answers, references, accuracy, flags):
    sub = get(name).subsets[0]
    score = sub.score(answers, references, [{}] * len(answers))
    assert list(score.metrics) == ["accuracy"]
    assert score.metrics["accuracy"] == pytest.approx(accuracy)
    assert [d["correct"] for d in score.details] == flags


# --------------------------------------------------------------------------------------------
# Fixtures: the loaders on small files in the exact OpenCompassData formats

FIXTURE_ROWS: dict[str, list[dict[str, Any]]] = {
    "ocnli": [
        {"level": "easy", "sentence1": "他把伞落在了公交车上,只好淋着雨回家", "sentence2": "他回家时没有带伞",
         "label": "A", "label0": "entailment", "label1": "entailment", "label2": "entailment",
         "label3": "entailment", "label4": "entailment", "genre": "news", "prem_id": "news_100", "id": 0},
        {"level": "medium", "sentence1": "小镇上只有一家面包店,每天早上六点开门", "sentence2": "小镇上有三家面包店",
         "label": "B", "label0": "contradiction", "label1": "contradiction", "label2": "contradiction",
         "label3": "contradiction", "label4": "contradiction", "genre": "news", "prem_id": "news_101", "id": 1},
        {"level": "hard", "sentence1": "会议推迟到下周三举行", "sentence2": "会议将在下午召开",
         "label": "C", "label0": "neutral", "label1": "neutral", "label2": "neutral",
         "label3": "neutral", "label4": "neutral", "genre": "gov", "prem_id": "gov_102", "id": 2},
        # the record with label "-" (id 3) is dropped
        {"level": "easy", "sentence1": "这家工厂去年扩建了两条生产线", "sentence2": "工厂的产能比以前大了",
         "label": "A", "label0": "entailment", "label1": "entailment", "label2": "neutral",
         "label3": "entailment", "label4": "entailment", "genre": "news", "prem_id": "news_104", "id": 4},
    ],
    "cmnli": [
        {"sentence1": "我们明天一早就出发去海边", "sentence2": "我们打算去海边", "label": "A"},
        {"sentence1": "那家餐馆周一不营业", "sentence2": "那家餐馆每天都开门", "label": "B"},
        {"sentence1": "他在图书馆找到了那本旧杂志", "sentence2": "杂志是他父亲留下的", "label": "C"},
    ],
    "afqmc-dev": [
        {"sentence1": "花呗怎么提前还款", "sentence2": "花呗可以提前还吗", "label": "B"},
        {"sentence1": "借呗额度为什么降了", "sentence2": "借呗怎么开通", "label": "A"},
        {"sentence1": "余额宝收益怎么算", "sentence2": "余额宝每天的收益是怎么计算的", "label": "B"},
        {"sentence1": "花呗逾期一天有影响吗", "sentence2": "花呗账单在哪里看", "label": "A"},
    ],
    "C3": [
        {"content": "男：你明天几点去机场?女：九点的飞机，我七点就得出门。", "question": "女的几点出门?",
         "choice0": "六点", "choice1": "七点", "choice2": "八点", "choice3": "九点", "label": "B"},
        {"content": "男：你明天几点去机场?女：九点的飞机，我七点就得出门。", "question": "女的要去哪儿?",
         "choice0": "车站", "choice1": "机场", "choice2": "公司", "choice3": "[NULL]", "label": "B"},
        {"content": "女：这件衣服有点儿大，有小一号的吗?男：对不起，小号的都卖完了。", "question": "他们可能在什么地方?",
         "choice0": "商店", "choice1": "医院", "choice2": "银行", "choice3": "学校", "label": "A"},
        {"content": "男：今天的作业你写完了吗?女：还差最后一道题。", "question": "女的作业写得怎么样?",
         "choice0": "都写完了", "choice1": "还没开始", "choice2": "快写完了", "choice3": "[NULL]", "label": "C"},
    ],
    "cluewsc-dev": [
        {"span1": "小王", "span2": "他", "text": "小王把书借给了老李，因为他下周要出差。", "label": "B"},
        {"span1": "妹妹", "span2": "她", "text": "妈妈给妹妹买了一条裙子，她穿上以后特别高兴。", "label": "A"},
        {"span1": "老鼠", "span2": "它", "text": "那只猫追着老鼠跑进了厨房，它最后躲到了柜子底下。", "label": "A"},
    ],
    "cluewsc-test": [
        {"span1": "司机", "span2": "他", "text": "司机把车停在路边，他下车买了一瓶水。", "label": "A"},
        {"span1": "老师", "span2": "他", "text": "老师表扬了小明，因为他的作文写得很好。", "label": "B"},
    ],
    "csl_dev": [
        {"abst": "针对传统图像分割算法对噪声敏感的问题,提出一种基于改进模糊聚类的分割方法.实验结果表明,该方法具有较好的抗噪性能.",
         "keywords": "图像分割，模糊聚类，抗噪性能", "label": "B"},
        {"abst": "本文研究了城市道路交通流量的时空分布特征,并提出相应的信号配时优化策略.",
         "keywords": "交通流量，信号配时，蛋白质", "label": "A"},
        {"abst": "以水稻为材料,研究了干旱胁迫对叶片光合特性的影响.", "keywords": "水稻，干旱胁迫，光合特性", "label": "B"},
    ],
    "csl_test": [
        {"abst": "基于深度学习的语音识别模型在嘈杂环境下性能下降明显,本文提出一种数据增强方法.",
         "keywords": "语音识别，数据增强", "label": "B"},
        {"abst": "分析了混凝土在冻融循环条件下的损伤机理.", "keywords": "冻融循环，股票市场", "label": "A"},
    ],
    "eprstmt-dev": [
        {"sentence": "物流很快，包装也很结实，好评", "label": "A"},
        {"sentence": "用了两天就坏了，客服也不理人", "label": "B"},
        {"sentence": "音质不错，性价比很高", "label": "A"},
    ],
    "eprstmt-test": [
        {"sentence": "颜色和图片差太多了，不推荐", "label": "B"},
        {"sentence": "第二次购买了，一如既往的好", "label": "A"},
    ],
    "chid-dev": [
        {"content": "他做事总是______,从不慌张。", "A": "一帆风顺", "B": "画龙点睛", "C": "守株待兔",
         "D": "亡羊补牢", "E": "对牛弹琴", "F": "井底之蛙", "G": "胸有成竹", "answer": "G"},
        {"content": "丢了一次钱包以后,他______,买了一个带拉链的包。", "A": "胸有成竹", "B": "井底之蛙",
         "C": "对牛弹琴", "D": "亡羊补牢", "E": "守株待兔", "F": "画龙点睛", "G": "一帆风顺", "answer": "D"},
        {"content": "这句结尾真是______之笔。 全文因此生动了许多。", "A": "亡羊补牢", "B": "对牛弹琴",
         "C": "井底之蛙", "D": "胸有成竹", "E": "一帆风顺", "F": "画龙点睛", "G": "守株待兔", "answer": "F"},
    ],
    "chid-test": [
        {"content": "祝你新的一年______!", "A": "一帆风顺", "B": "画龙点睛", "C": "守株待兔",
         "D": "亡羊补牢", "E": "对牛弹琴", "F": "井底之蛙", "G": "胸有成竹", "answer": "A"},
    ],
    "bustm-dev": [
        {"id": 0, "sentence1": "今天天气怎么样", "sentence2": "今天的天气如何", "label": "B"},
        {"id": 1, "sentence1": "帮我定个闹钟", "sentence2": "播放一首歌", "label": "A"},
        {"id": 2, "sentence1": "附近有什么好吃的", "sentence2": "附近有哪些美食", "label": "B"},
    ],
    "bustm-test": [
        {"id": 50, "sentence1": "我想听相声", "sentence2": "打开手电筒", "label": "A"},
        {"id": 51, "sentence1": "明天会下雨吗", "sentence2": "明天下不下雨", "label": "B"},
    ],
    "ocnli_fc-dev": [
        {"level": "easy", "sentence1": "他每天骑自行车上班,风雨无阻", "sentence2": "他上班不开车",
         "label": "A", "label0": "entailment", "label1": "entailment", "label2": "neutral",
         "label3": "entailment", "label4": "entailment", "genre": "news", "prem_id": "news_100", "id": 0},
        {"level": "easy", "sentence1": "这座桥是去年秋天建成的", "sentence2": "这座桥已经有一百年历史了",
         "label": "B", "label0": "contradiction", "label1": "contradiction", "label2": "contradiction",
         "label3": "contradiction", "label4": "contradiction", "genre": "lit", "prem_id": "lit_101", "id": 1},
        {"level": "hard", "sentence1": "她在北京读的大学", "sentence2": "她的专业是法律",
         "label": "C", "label0": "neutral", "label1": "neutral", "label2": "neutral",
         "label3": "neutral", "label4": "neutral", "genre": "phone", "prem_id": "phone_102", "id": 2},
    ],
    "ocnli_fc-test": [
        {"level": "easy", "sentence1": "商店里的苹果都卖完了", "sentence2": "商店里还有苹果",
         "label": "B", "label0": "contradiction", "label1": "contradiction", "label2": "contradiction",
         "label3": "contradiction", "label4": "contradiction", "genre": "news", "prem_id": "news_100", "id": 0},
        {"level": "medium", "sentence1": "他昨天去医院看了牙", "sentence2": "他的牙疼了好几天",
         "label": "C", "label0": "neutral", "label1": "neutral", "label2": "neutral",
         "label3": "neutral", "label4": "neutral", "genre": "news", "prem_id": "news_101", "id": 1},
    ],
    "tnews-dev": [
        {"sentence": "今年小麦亩产再创新高", "label_desc2": "A"},
        {"sentence": "女排三比零横扫对手晋级决赛", "label_desc2": "E"},
        {"sentence": "沪指午后翻红，券商板块领涨", "label_desc2": "O"},
        {"sentence": "那一年，外婆送我的那只旧怀表", "label_desc2": "N"},
    ],
    "tnews-test": [
        {"sentence": "这家公司发布了新一代折叠屏手机", "label_desc2": "D"},
        {"sentence": "多国领导人出席气候峰会", "label_desc2": "L"},
    ],
}  # fmt: skip


@pytest.mark.parametrize("name, abbr, relpath, count, version, output_column", ALL_SUBSETS)
def test_fixture_loads(name, abbr, relpath, count, version, output_column):
    assert (FIXTURES / relpath).is_file()
    rows = subset(name, abbr).load(FIXTURES)
    assert rows == FIXTURE_ROWS[abbr]
    assert all(tuple(r) == ROW_COLUMNS[name] for r in rows)


# Exact prompts for a few fixture rows, written out by hand from the spec templates.
FIXTURE_PROMPTS = [
    (
        "ocnli", "ocnli", 2,
        "语句一：“会议推迟到下周三举行”\n语句二：“会议将在下午召开”\n请问这两句话是什么关系？\n"
        "A. 蕴含\n B. 矛盾\n C. 无关\n请从“A”，“B”，“C”中进行选择。\n答：",
    ),
    (
        "cmnli", "cmnli", 1,
        "语句一：“那家餐馆周一不营业”\n语句二：“那家餐馆每天都开门”\n请问这两句话是什么关系？\n"
        "A. 蕴含\nB. 矛盾\nC. 无关\n请从“A”，“B”，“C”中进行选择。\n答：",
    ),
    (
        "C3", "C3", 1,
        "男：你明天几点去机场?女：九点的飞机，我七点就得出门。\n问：女的要去哪儿?\nA. 车站\nB. 机场\n"
        "C. 公司\nD. [NULL]\n请从“A”，“B”，“C”，“D”中进行选择。\n答：",
    ),
    (
        "chid", "chid-test", 0,
        "祝你新的一年______!\n请选择______处所填的词\nA. 一帆风顺\nB. 画龙点睛\nC. 守株待兔\nD. 亡羊补牢\n"
        "E. 对牛弹琴\nF. 井底之蛙\nG. 胸有成竹\n请从”A“，”B“，”C“，”D“，”E“，”F“，”G“中进行选择。答：",
    ),
    (
        "csl", "csl_test", 1,
        "摘要是对论文内容不加注释和评论的简短陈述，要求扼要地说明研究工作的目的、研究方法和最终结论等。\n"
        "关键词是一篇学术论文的核心词汇，一般由一系列名词组成。关键词在全文中应有较高出现频率，且能起到帮助文献检索的作用。\n"
        "摘要：分析了混凝土在冻融循环条件下的损伤机理.\n关键词：冻融循环，股票市场\n请问上述关键词是否匹配摘要且符合要求？\n"
        "A. 否\nB. 是\n请从”A“，”B“中进行选择。\n答：",
    ),
    (
        "cluewsc", "cluewsc-dev", 0,
        "小王把书借给了老李，因为他下周要出差。\n此处，“他”是否指代“小王“？\nA. 是\nB. 否\n请从”A“，”B“中进行选择。\n答：",
    ),
    (
        "eprstmt", "eprstmt-test", 0,
        '内容： "颜色和图片差太多了，不推荐"。请对上述内容进行情绪分类。\nA. 积极\nB. 消极\n请从”A“，”B“中进行选择。\n答：',
    ),
    (
        "bustm", "bustm-dev", 1,
        "语句一：“帮我定个闹钟”\n语句二：“播放一首歌”\n请判断语句一和语句二说的是否是一个意思？\nA. 无关\nB. 相关\n"
        "请从“A”，“B”中进行选择。\n答：",
    ),
    (
        "afqmc", "afqmc-dev", 0,
        "语句一：“花呗怎么提前还款”\n语句二：“花呗可以提前还吗”\n语句一与语句二是关于蚂蚁金融产品的疑问，两者所询问的内容是否完全一致？\n"
        "A. 不完全一致\nB. 完全一致\n请从“A”，“B”中进行选择。\n答：",
    ),
    (
        "ocnli_fc", "ocnli_fc-test", 1,
        "阅读文章：他昨天去医院看了牙\n根据上文，回答如下问题：他的牙疼了好几天\nA. 对\nB. 错\nC. 可能\n"
        "请从“A”，“B”，“C”中进行选择。\n答：",
    ),
    (
        "tnews", "tnews-dev", 2,
        "沪指午后翻红，券商板块领涨\n请判断上述内容属于什么新闻？\nA. 农业新闻\nB. 旅游新闻\nC. 游戏新闻\n"
        "D. 科技类别公司新闻\nE. 体育类别新闻\nF. 初升高教育新闻\nG. 娱乐圈新闻\nH. 投资资讯\nI. 军事类别常识\n"
        "J. 车辆新闻\nK. 楼市新闻\nL. 环球不含中国类别新闻\nM. 书籍文化历史类别新闻\nN. 故事类别新闻\n"
        "O. 股票市场类别新闻\n请从“A”，“B”，“C”，“D”，“E”，“F”，“G”，“H”，“I”，“J”，“K”，“L”，“M”，“N”，“O”中进行选择。\n答：",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, abbr, index, expected", FIXTURE_PROMPTS, ids=[f"{p[1]}-{p[2]}" for p in FIXTURE_PROMPTS]
)
def test_fixture_prompt(name, abbr, index, expected):
    sub = subset(name, abbr)
    row = sub.load(FIXTURES)[index]
    flat = render_sample(sub.template, row, sub.output_column, meta_template=False)
    chat = render_sample(sub.template, row, sub.output_column, meta_template=True)
    assert flat.text == expected
    assert flat.messages == chat.messages == [{"role": "user", "content": expected}]


def test_fill_is_sequential_in_row_order():
    # A value holding the text of a later column's placeholder gets that column filled in too
    # (spec A.5): in a cmnli row sentence1 precedes sentence2.
    sub = subset("cmnli", "cmnli")
    row = {"sentence1": "甲{sentence2}", "sentence2": "乙", "label": "A"}
    assert render_sample(sub.template, row, "label", meta_template=False).text.startswith("语句一：“甲乙”")


# --------------------------------------------------------------------------------------------
# Malformed and missing data


def _write(tmp: Path, relpath: str, text: str) -> None:
    path = tmp / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


GOOD_AND_BAD = [
    # (name, abbr, a good line, a bad line, message fragment)
    ("ocnli", "ocnli", '{"sentence1": "甲", "sentence2": "乙", "label": "neutral"}',
     '{"sentence1": "甲", "sentence2": "乙", "label": "unknown"}', "label 'unknown' is not one of"),
    ("ocnli", "ocnli", '{"sentence1": "甲", "sentence2": "乙", "label": "neutral"}',
     '{"sentence1": "甲", "label": "neutral"}', "lacks field 'sentence2'"),
    ("cmnli", "cmnli", '{"sentence1": "甲", "sentence2": "乙", "label": "neutral"}',
     '{"sentence1": "甲", "sentence2": "乙"}', "lacks field 'label'"),
    ("afqmc", "afqmc-dev", '{"sentence1": "甲", "sentence2": "乙", "label": "0"}',
     '{"sentence1": "甲", "sentence2": "乙", "label": "2"}', "label '2' is not one of"),
    ("cluewsc", "cluewsc-dev",
     '{"target": {"span1_text": "甲", "span2_text": "他"}, "label": "true", "text": "甲说他来"}',
     '{"target": {"span1_text": "甲"}, "label": "true", "text": "甲说他来"}', "lacks field 'span2_text'"),
    ("csl", "csl_dev", '{"abst": "摘要", "keyword": ["甲"], "label": "1"}',
     '{"abst": "摘要", "keyword": "甲", "label": "1"}', "keyword"),
    ("eprstmt", "eprstmt-test", '{"sentence": "好", "label": "Positive"}',
     '{"sentence": "好", "label": "Neutral"}', "label 'Neutral' is not one of"),
    ("chid", "chid-dev",
     '{"candidates": ["一", "二", "三", "四", "五", "六", "七"], "content": "#idiom#", "answer": 1}',
     '{"candidates": ["一", "二", "三", "四", "五", "六", "七"], "content": "#idiom#", "answer": 7}',
     "answer"),
    ("chid", "chid-test",
     '{"candidates": ["一", "二", "三", "四", "五", "六", "七"], "content": "#idiom#", "answer": 1}',
     '{"candidates": ["一", "二"], "content": "#idiom#", "answer": 1}', "candidates"),
    ("bustm", "bustm-test", '{"id": 1, "sentence1": "甲", "sentence2": "乙", "label": "1"}',
     '{"id": 1, "sentence1": "甲", "sentence2": "乙", "label": "1"', "malformed JSON"),
    ("ocnli_fc", "ocnli_fc-dev", '{"sentence1": "甲", "sentence2": "乙", "label": "entailment"}',
     '["甲", "乙"]', "expected a JSON object"),
    ("tnews", "tnews-dev", '{"label_desc": "news_game", "sentence": "新游戏"}',
     '{"label_desc": "news_weather", "sentence": "明天下雨"}', "label_desc 'news_weather' is not one of"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, abbr, good, bad, fragment", GOOD_AND_BAD, ids=[f"{g[1]}-{g[4][:12]}" for g in GOOD_AND_BAD]
)
def test_malformed_record_names_file_and_line(tmp_path, name, abbr, good, bad, fragment):
    sub = subset(name, abbr)
    relpath = sub.files[0]
    _write(tmp_path, relpath, good + "\n" + good + "\n")
    assert len(sub.load(tmp_path)) == 2
    _write(tmp_path, relpath, good + "\n" + good + "\n" + bad + "\n")
    with pytest.raises(DataError) as info:
        sub.load(tmp_path)
    message = str(info.value)
    assert f"{relpath}:3:" in message
    assert fragment in message


def test_cluewsc_accepts_json_booleans(tmp_path):
    sub = subset("cluewsc", "cluewsc-test")
    record = {"target": {"span1_text": "甲", "span2_text": "他"}, "text": "甲说他来"}
    lines = [json.dumps({**record, "label": v}, ensure_ascii=False) for v in (True, False, "true")]
    _write(tmp_path, sub.files[0], "\n".join(lines))
    assert [r["label"] for r in sub.load(tmp_path)] == ["A", "B", "A"]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"a": 1}', "expected a JSON array"),
        (
            '[[["甲"], [{"question": "问", "choice": ["一", "二"], "answer": "三"}], "1"]]',
            "not one of the choices",
        ),
        ('[[["甲"], [{"question": "问", "choice": ["一", "二"]}], "1"]]', "lacks field 'answer'"),
        (
            '[[["甲"], [{"question": "问", "choice": ["1", "2", "3", "4", "5"], "answer": "1"}], "1"]]',
            "1 to 4",
        ),
        ('[["甲", []]]', "[paragraphs, questions, id]"),
        ('[[["甲"], [], "1"],\n  oops]', "dev_0.json:2"),
    ],
)
def test_c3_malformed(tmp_path, text, fragment):
    _write(tmp_path, "CLUE/C3/dev_0.json", text)
    with pytest.raises(DataError) as info:
        subset("C3", "C3").load(tmp_path)
    assert "CLUE/C3/dev_0.json" in str(info.value)
    assert fragment in str(info.value)


@pytest.mark.parametrize("name, abbr, relpath, count, version, output_column", ALL_SUBSETS)
def test_missing_file(tmp_path, name, abbr, relpath, count, version, output_column):
    (tmp_path / "unrelated").mkdir()
    with pytest.raises(DataError) as info:
        subset(name, abbr).load(tmp_path)
    assert relpath in str(info.value)


# --------------------------------------------------------------------------------------------
# Oracles: natural replies score 100 when right, and exactly the expected mix


def _rows_for(sub: Subset) -> tuple[Path, list[dict[str, Any]]]:
    """Real rows when the real file exists, else the fixture's."""
    base = REAL if (REAL / sub.files[0]).is_file() else FIXTURES
    return base, sub.load(base)


def test_oracles_cover_every_dataset():
    assert set(ORACLES) == set(NAMES)


@pytest.mark.parametrize("name, abbr, relpath, count, version, output_column", ALL_SUBSETS)
def test_oracle_scores(name, abbr, relpath, count, version, output_column):
    sub = subset(name, abbr)
    base, rows = _rows_for(sub)
    right, wrong = ORACLES[name]
    references = [sub.reference_of(r) for r in rows]
    assert references == [r[output_column] for r in rows]

    correct_replies = [right(sub, r) for r in rows]
    # Natural Chinese replies reach the maximum of 100 with OpenCompass's first-capital extraction.
    score = sub.score([sub.extract(x) for x in correct_replies], references, rows)
    assert score.metrics == {"accuracy": 100.0}
    assert all(d["correct"] for d in score.details)

    mixed = [right(sub, r) if i % 3 else wrong(sub, r) for i, r in enumerate(rows)]
    answers = [sub.extract(x) for x in mixed]
    expected = 100.0 * sum(1 for i in range(len(rows)) if i % 3) / len(rows)
    score = sub.score(answers, references, rows)
    assert score.metrics["accuracy"] == pytest.approx(expected)
    assert [d["correct"] for d in score.details] == [bool(i % 3) for i in range(len(rows))]
    # The wrong replies name a real option of the row, never the gold one.
    for i, (reply, row) in enumerate(zip(mixed, rows, strict=True)):
        if i % 3 == 0:
            letter = sub.extract(reply)
            assert letter in options_of(name, row) and letter != gold_letter(sub, row)
    if base == REAL:
        assert len(rows) == count
