"""Natural-style replies per dataset, used by the contract tests.

Each module here defines ORACLES: {short name: (correct_reply, wrong_reply)} where each
function takes (subset, row) and returns a reply a real model might write: the correct
one states the gold answer naturally ("The answer is B.", "答案是 C"), the wrong one a
different, definitely wrong answer. Modules are collected by `all_oracles()`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

ReplyFn = Callable[[Any, dict[str, Any]], str]


def all_oracles() -> dict[str, tuple[ReplyFn, ReplyFn]]:
    out: dict[str, tuple[ReplyFn, ReplyFn]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        out.update(getattr(module, "ORACLES", {}))
    return out


ExpectedFn = Callable[[str, Any, list[dict[str, Any]], list[bool]], float]


def expected_scorers() -> dict[str, ExpectedFn]:
    """Per dataset, the module's independent `expected_score(name, subset, rows, right)` (the
    first metric when `right[i]` says whether row i got the correct reply), where a module
    defines one; otherwise the contract test expects 100 x right / N."""
    out: dict[str, ExpectedFn] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        fn = getattr(module, "expected_score", None)
        if fn is not None:
            out.update(dict.fromkeys(getattr(module, "ORACLES", {}), fn))
    return out
