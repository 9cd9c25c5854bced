"""ceval: C-Eval, 52 subjects, val split, 5-shot from dev (spec C.13, A.12 groups)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Group, Subset, register
from ..data import read_csv, require
from ..extract import first_capital
from ..scoring import accuracy
from ..types import Turn

# (subject, Chinese name used in the prompt, category, OpenCompass version) in config order.
SUBJECTS: tuple[tuple[str, str, str, str], ...] = (
    ("computer_network", "计算机网络", "STEM", "db9ce2"),
    ("operating_system", "操作系统", "STEM", "1c2571"),
    ("computer_architecture", "计算机组成", "STEM", "a74dad"),
    ("college_programming", "大学编程", "STEM", "4ca32a"),
    ("college_physics", "大学物理", "STEM", "963fa8"),
    ("college_chemistry", "大学化学", "STEM", "e78857"),
    ("advanced_mathematics", "高等数学", "STEM", "ce03e2"),
    ("probability_and_statistics", "概率统计", "STEM", "65e812"),
    ("discrete_mathematics", "离散数学", "STEM", "e894ae"),
    ("electrical_engineer", "注册电气工程师", "STEM", "ae42b9"),
    ("metrology_engineer", "注册计量师", "STEM", "ee34ea"),
    ("high_school_mathematics", "高中数学", "STEM", "1dc5bf"),
    ("high_school_physics", "高中物理", "STEM", "adf25f"),
    ("high_school_chemistry", "高中化学", "STEM", "2ed27f"),
    ("high_school_biology", "高中生物", "STEM", "8e2b9a"),
    ("middle_school_mathematics", "初中数学", "STEM", "bee8d5"),
    ("middle_school_biology", "初中生物", "STEM", "86817c"),
    ("middle_school_physics", "初中物理", "STEM", "8accf6"),
    ("middle_school_chemistry", "初中化学", "STEM", "167a15"),
    ("veterinary_medicine", "兽医学", "STEM", "b4e08d"),
    ("college_economics", "大学经济学", "Social Science", "f3f4e6"),
    ("business_administration", "工商管理", "Social Science", "c1614e"),
    ("marxism", "马克思主义基本原理", "Social Science", "cf874c"),
    ("mao_zedong_thought", "毛泽东思想和中国特色社会主义理论体系概论", "Social Science", "51c7a4"),
    ("education_science", "教育学", "Social Science", "591fee"),
    ("teacher_qualification", "教师资格", "Social Science", "4e4ced"),
    ("high_school_politics", "高中政治", "Social Science", "5c0de2"),
    ("high_school_geography", "高中地理", "Social Science", "865461"),
    ("middle_school_politics", "初中政治", "Social Science", "5be3e7"),
    ("middle_school_geography", "初中地理", "Social Science", "8a63be"),
    ("modern_chinese_history", "近代史纲要", "Humanities", "fc01af"),
    ("ideological_and_moral_cultivation", "思想道德修养与法律基础", "Humanities", "a2aa4a"),
    ("logic", "逻辑学", "Humanities", "f5b022"),
    ("law", "法学", "Humanities", "a110a1"),
    ("chinese_language_and_literature", "中国语言文学", "Humanities", "0f8b68"),
    ("art_studies", "艺术学", "Humanities", "2a1300"),
    ("professional_tour_guide", "导游资格", "Humanities", "4e673e"),
    ("legal_professional", "法律职业资格", "Humanities", "ce8787"),
    ("high_school_chinese", "高中语文", "Humanities", "315705"),
    ("high_school_history", "高中历史", "Humanities", "7eb30a"),
    ("middle_school_history", "初中历史", "Humanities", "48ab4a"),
    ("civil_servant", "公务员", "Other", "87d061"),
    ("sports_science", "体育学", "Other", "70f27b"),
    ("plant_protection", "植物保护", "Other", "8941f9"),
    ("basic_medicine", "基础医学", "Other", "c409d6"),
    ("clinical_medicine", "临床医学", "Other", "49e82d"),
    ("urban_and_rural_planner", "注册城乡规划师", "Other", "95b885"),
    ("accountant", "注册会计师", "Other", "002837"),
    ("fire_engineer", "注册消防工程师", "Other", "bc23f5"),
    ("environmental_impact_assessment_engineer", "环境影响评价工程师", "Other", "c64e2d"),
    ("tax_accountant", "税务师", "Other", "3a5e3c"),
    ("physician", "医师资格", "Other", "6e277d"),
)

HARD = (
    "advanced_mathematics", "discrete_mathematics", "probability_and_statistics", "college_chemistry",
    "college_physics", "high_school_mathematics", "high_school_chemistry", "high_school_physics",
)  # fmt: skip

COLUMNS = ("id", "question", "A", "B", "C", "D", "answer", "explanation")


def abbr(subject: str) -> str:
    return f"ceval-{subject}"


def _reader(relpath: str):
    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, relpath, "ceval")
        records = read_csv(path, header=False, min_fields=6)
        header, body = records[0], records[1:]
        rows = []
        for rec in body:
            fields = dict(zip(header, rec, strict=False))
            # Missing answer/explanation columns default to the empty string.
            rows.append({c: fields.get(c, "") for c in COLUMNS})
        return rows

    return load


def _subset(subject: str, zh_name: str, version: str) -> Subset:
    val = f"ceval/formal_ceval/val/{subject}_val.csv"
    dev = f"ceval/formal_ceval/dev/{subject}_dev.csv"
    human = Turn.human(
        f"以下是中国关于{zh_name}考试的单项选择题，请选出其中的正确答案。"
        "\n{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n答案: "
    )
    # Only an ice template exists; it also serves as the prompt: its BOT turn `{answer}`
    # is blanked for the test item and so adds nothing.
    turns = (human, Turn.bot("{answer}"))
    return Subset(
        abbr=abbr(subject),
        version=version,
        files=(val, dev),
        load=_reader(val),
        load_ice=_reader(dev),
        ice_template=turns,
        template=turns,
        output_column="answer",
        extract=first_capital,
        score=accuracy,
        metrics=("accuracy",),
    )


def _members(category: str) -> tuple[str, ...]:
    return tuple(abbr(s) for s, _, c, _ in SUBJECTS if c == category)


register(
    Benchmark(
        name="ceval",
        description="C-Eval, 52 subjects, val split, 5-shot",
        subsets=tuple(_subset(s, zh, v) for s, zh, _, v in SUBJECTS),
        groups=(
            Group("ceval-stem", _members("STEM")),
            Group("ceval-social-science", _members("Social Science")),
            Group("ceval-humanities", _members("Humanities")),
            Group("ceval-other", _members("Other")),
            Group("ceval-hard", tuple(map(abbr, HARD))),
            Group(
                "ceval",
                _members("STEM") + _members("Social Science") + _members("Humanities") + _members("Other"),
            ),
        ),
    )
)
