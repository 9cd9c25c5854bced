"""mmlu: 57 subjects, 5-shot from the dev split (spec C.7, A.12 groups)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..benchmark import Benchmark, Group, Subset, register
from ..data import read_csv, require
from ..extract import first_option
from ..scoring import accuracy
from ..types import Turn

# (subject, OpenCompass version fingerprint, test rows) in OpenCompass's config order.
SUBJECTS: tuple[tuple[str, str, int], ...] = (
    ("college_biology", "caec7d", 144),
    ("college_chemistry", "520aa6", 100),
    ("college_computer_science", "99c216", 100),
    ("college_mathematics", "678751", 100),
    ("college_physics", "4f382c", 102),
    ("electrical_engineering", "770ce3", 145),
    ("astronomy", "d3ee01", 152),
    ("anatomy", "72183b", 135),
    ("abstract_algebra", "2db373", 100),
    ("machine_learning", "0283bb", 112),
    ("clinical_knowledge", "cb3218", 265),
    ("global_facts", "ab07b6", 100),
    ("management", "80876d", 103),
    ("nutrition", "4543bd", 306),
    ("marketing", "7394e3", 234),
    ("professional_accounting", "444b7f", 282),
    ("high_school_geography", "0780e6", 198),
    ("international_law", "cf3179", 121),
    ("moral_scenarios", "f6dbe2", 895),
    ("computer_security", "ce7550", 100),
    ("high_school_microeconomics", "04d21a", 238),
    ("professional_law", "5f7e6c", 1534),
    ("medical_genetics", "881ef5", 100),
    ("professional_psychology", "221a16", 612),
    ("jurisprudence", "001f24", 108),
    ("world_religions", "232c09", 171),
    ("philosophy", "08042b", 311),
    ("virology", "12e270", 166),
    ("high_school_chemistry", "ae8820", 203),
    ("public_relations", "e7d39b", 110),
    ("high_school_macroeconomics", "a01685", 390),
    ("human_sexuality", "42407c", 131),
    ("elementary_mathematics", "269926", 378),
    ("high_school_physics", "93278f", 151),
    ("high_school_computer_science", "9965a5", 100),
    ("high_school_european_history", "eefc90", 165),
    ("business_ethics", "1dec08", 100),
    ("moral_disputes", "a2173e", 346),
    ("high_school_statistics", "8f3f3a", 216),
    ("miscellaneous", "935647", 783),
    ("formal_logic", "cfcb0c", 126),
    ("high_school_government_and_politics", "3c52f9", 193),
    ("prehistory", "bbb197", 324),
    ("security_studies", "9b1743", 245),
    ("high_school_biology", "37b125", 310),
    ("logical_fallacies", "9cebb0", 163),
    ("high_school_world_history", "048e7e", 237),
    ("professional_medicine", "857144", 272),
    ("high_school_mathematics", "ed4dc0", 270),
    ("college_medicine", "38709e", 173),
    ("high_school_us_history", "8932df", 204),
    ("sociology", "c266a2", 201),
    ("econometrics", "d1134d", 114),
    ("high_school_psychology", "7db114", 545),
    ("human_aging", "82a410", 223),
    ("us_foreign_policy", "528cfe", 100),
    ("conceptual_physics", "63588e", 235),
)

HUMANITIES = (
    "formal_logic", "high_school_european_history", "high_school_us_history",
    "high_school_world_history", "international_law", "jurisprudence", "logical_fallacies",
    "moral_disputes", "moral_scenarios", "philosophy", "prehistory", "professional_law",
    "world_religions",
)  # fmt: skip
STEM = (
    "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
    "college_computer_science", "college_mathematics", "college_physics", "computer_security",
    "conceptual_physics", "electrical_engineering", "elementary_mathematics", "high_school_biology",
    "high_school_chemistry", "high_school_computer_science", "high_school_mathematics",
    "high_school_physics", "high_school_statistics", "machine_learning",
)  # fmt: skip
SOCIAL_SCIENCE = (
    "econometrics", "high_school_geography", "high_school_government_and_politics",
    "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology",
    "human_sexuality", "professional_psychology", "public_relations", "security_studies",
    "sociology", "us_foreign_policy",
)  # fmt: skip
OTHER = (
    "business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging",
    "management", "marketing", "medical_genetics", "miscellaneous", "nutrition",
    "professional_accounting", "professional_medicine", "virology",
)  # fmt: skip

COLUMNS = ("input", "A", "B", "C", "D", "target")


def abbr(subject: str) -> str:
    return f"lukaemon_mmlu_{subject}"


def _hint(subject: str) -> str:
    name = subject.replace("_", " ")
    return (
        f"There is a single choice question about {name}. Answer the question by replying A, B, C or D."
        "\nQuestion: {input}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer: "
    )


def _reader(relpath: str):
    def load(data_dir: Path) -> list[dict[str, Any]]:
        path = require(data_dir, relpath, "mmlu")
        return [
            dict(zip(COLUMNS, rec[:6], strict=True)) for rec in read_csv(path, header=False, min_fields=6)
        ]

    return load


def _extract(reply: str) -> str:
    return first_option(reply, "ABCD")


def _subset(subject: str, version: str) -> Subset:
    test = f"mmlu/test/{subject}_test.csv"
    hint = _hint(subject)
    return Subset(
        abbr=abbr(subject),
        version=version,
        files=(test, f"mmlu/dev/{subject}_dev.csv"),
        load=_reader(test),
        load_ice=_reader(f"mmlu/dev/{subject}_dev.csv"),
        ice_template=(Turn.human(hint), Turn.bot("{target}\n")),
        template=(Turn.human(hint),),
        output_column="target",
        extract=_extract,
        score=accuracy,
        metrics=("accuracy",),
    )


_ALL = tuple(s for s, _, _ in SUBJECTS)
_ROWS = {s: n for s, _, n in SUBJECTS}

register(
    Benchmark(
        name="mmlu",
        description="MMLU, 57 subjects, 5-shot",
        subsets=tuple(_subset(s, v) for s, v, _ in SUBJECTS),
        groups=(
            Group("mmlu-humanities", tuple(map(abbr, HUMANITIES))),
            Group("mmlu-stem", tuple(map(abbr, STEM))),
            Group("mmlu-social-science", tuple(map(abbr, SOCIAL_SCIENCE))),
            Group("mmlu-other", tuple(map(abbr, OTHER))),
            Group("mmlu", tuple(map(abbr, HUMANITIES + STEM + SOCIAL_SCIENCE + OTHER))),
            Group("mmlu-weighted", tuple(map(abbr, _ALL)), tuple(float(_ROWS[s]) for s in _ALL)),
        ),
    )
)
