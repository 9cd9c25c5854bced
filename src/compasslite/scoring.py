"""Shared scorers (spec B.5-B.6). A scorer maps (answers, references, rows) to a Score."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .extract import general_postprocess
from .types import Score


def _pct(correct: int, total: int) -> float:
    return 100.0 * correct / total if total else 0.0


def per_sample(judge: Callable[[Any, Any], bool], metric: str = "accuracy"):
    """A scorer from a per-sample judgement: metric = 100 x correct / N."""

    def scorer(answers: list[Any], references: list[Any], rows: list[dict[str, Any]]) -> Score:
        flags = [bool(judge(a, r)) for a, r in zip(answers, references, strict=True)]
        return Score({metric: _pct(sum(flags), len(flags))}, [{"correct": f} for f in flags])

    return scorer


def same_string(answer: Any, reference: Any) -> bool:
    """B.5 AccEvaluator: the answer and reference compared as strings."""
    return str(answer) == str(reference)


accuracy = per_sample(same_string, "accuracy")


def em_match(answer: str, references: list[str]) -> bool:
    """B.6 EMEvaluator: normalised equality with any reference, or verbatim equality."""
    norm = general_postprocess(answer)
    return any(norm == general_postprocess(g) or answer == g for g in references)


exact_match = per_sample(em_match, "score")
