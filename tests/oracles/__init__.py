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
