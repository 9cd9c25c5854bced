"""How a benchmark family is declared, and the registry of all families.

One module per family under `compasslite.benchmarks` builds `Subset`s and calls
`register(Benchmark(...))`. A Subset holds everything OpenCompass's config says about
one sub-dataset: where its rows come from, its prompt template, how a reply is
reduced to an answer, what the reference is, and how answers are scored.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UnknownDatasetError
from .types import Score, Turn

# The 48 short names users type, in the order of the spec (Part C).
SUITE: tuple[str, ...] = (
    "obqa", "AX_b", "siqa", "nq", "mbpp", "winogrande", "mmlu", "BoolQ", "cluewsc", "ocnli",
    "lambada", "CMRC", "ceval", "csl", "cmnli", "bbh", "ReCoRD", "math", "humaneval", "eprstmt",
    "WSC", "storycloze", "MultiRC", "RTE", "chid", "gsm8k", "AX_g", "bustm", "afqmc", "piqa",
    "lcsts", "strategyqa", "Xsum", "agieval", "ocnli_fc", "C3", "tnews", "race", "triviaqa", "CB",
    "WiC", "hellaswag", "summedits", "GaokaoBench", "ARC_e", "COPA", "ARC_c", "DRCD",
)  # fmt: skip

Loader = Callable[[Path], list[dict[str, Any]]]
Extractor = Callable[[str], Any]
Scorer = Callable[[list[Any], list[Any], list[dict[str, Any]]], Score]


def _identity(text: str) -> Any:
    return text


@dataclass(frozen=True)
class Subset:
    """One sub-dataset (one `abbr` in every output)."""

    abbr: str
    version: str  # OpenCompass's prompt fingerprint, shown in the summary
    files: tuple[str, ...]  # evaluated data files, relative to the data dir (for status and errors)
    load: Loader  # data_dir -> test rows; dict key order is the fill order
    template: tuple[Turn, ...]
    output_column: str
    score: Scorer  # (answers, references, rows) -> Score
    metrics: tuple[str, ...]  # metric keys in summary order
    extract: Extractor = _identity  # pred_postprocessor on the stripped reply
    reference: Callable[[dict[str, Any]], Any] | None = None  # default: row[output_column]
    ice_template: tuple[Turn, ...] | None = None
    load_ice: Loader | None = None  # data_dir -> in-context example rows (all of them are used)
    max_out_len: int | None = None  # None: the model's max_out_len

    def reference_of(self, row: dict[str, Any]) -> Any:
        if self.reference is not None:
            return self.reference(row)
        return row[self.output_column]


@dataclass(frozen=True)
class Group:
    """A summary group (spec A.12): a naive or weighted average over member abbrs."""

    name: str
    members: tuple[str, ...]
    weights: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Benchmark:
    name: str  # the short name users type
    subsets: tuple[Subset, ...]
    groups: tuple[Group, ...] = field(default_factory=tuple)
    description: str = ""


_REGISTRY: dict[str, Benchmark] = {}
_BROKEN: dict[str, str] = {}  # module name -> import error
_discovered = False


def register(benchmark: Benchmark) -> Benchmark:
    if benchmark.name not in SUITE:
        raise ValueError(f"{benchmark.name!r} is not one of the 48 suite names")
    _REGISTRY[benchmark.name] = benchmark
    return benchmark


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    from . import benchmarks

    for info in pkgutil.iter_modules(benchmarks.__path__):
        try:
            importlib.import_module(f"{benchmarks.__name__}.{info.name}")
        except Exception as exc:  # noqa: BLE001 - one broken family must not hide the others
            _BROKEN[info.name] = f"{type(exc).__name__}: {exc}"
            logging.getLogger("compasslite").warning(
                "benchmark module %s failed to import: %s", info.name, exc
            )
    _discovered = True


def available() -> dict[str, Benchmark]:
    """Registered benchmarks in suite order."""
    _discover()
    return {name: _REGISTRY[name] for name in SUITE if name in _REGISTRY}


def get(name: str) -> Benchmark:
    _discover()
    if name in _REGISTRY:
        return _REGISTRY[name]
    by_lower = {n.lower(): n for n in SUITE}
    if name.lower() in by_lower and by_lower[name.lower()] in _REGISTRY:
        return _REGISTRY[by_lower[name.lower()]]
    if name in SUITE or name.lower() in by_lower:
        broken = f" (benchmark modules failed to import: {_BROKEN})" if _BROKEN else ""
        raise UnknownDatasetError(f"dataset {name!r} is part of the suite but not implemented yet{broken}")
    close = difflib.get_close_matches(name, SUITE, n=3, cutoff=0.5)
    close += [n for n in SUITE if name.lower() in n.lower() and n not in close][:3]
    hint = f"; did you mean {', '.join(close)}?" if close else "; `compasslite list` shows the 48 names"
    raise UnknownDatasetError(f"unknown dataset {name!r}{hint}")


def _by_abbr(name: str) -> Benchmark | None:
    """A benchmark narrowed to one sub-dataset, for a report name such as `ceval-law`."""
    for bench in available().values():
        for sub in bench.subsets:
            if sub.abbr == name:
                return Benchmark(name=bench.name, subsets=(sub,), description=bench.description)
    return None


def resolve(names: Sequence[str | dict[str, Any]]) -> list[Benchmark]:
    """Benchmarks for the names a user gave (short names, or sub-dataset report names such
    as `ceval-law` or `lukaemon_mmlu_anatomy`), or custom datasets (a file path, or a dict
    with `path`; see custom.py), in the given order, without duplicates.

    All unknown names are reported at once; a custom file's problem stops at once."""
    from .custom import build, looks_like_path

    out: list[Benchmark] = []
    problems: list[str] = []
    for name in names:
        if isinstance(name, dict):
            bench = build(name)
        else:
            try:
                bench = get(name)
            except UnknownDatasetError as exc:
                narrowed = _by_abbr(name)
                if narrowed is None and looks_like_path(name):
                    if not Path(name).expanduser().exists():
                        problems.append(
                            f"unknown dataset {name!r}: not a built-in name (`compasslite list` shows them) "
                            f"and no file or folder exists at {Path(name).expanduser().resolve()}"
                        )
                        continue
                    narrowed = build(name)
                if narrowed is None:
                    problems.append(str(exc))
                    continue
                bench = narrowed
        if bench not in out:
            out.append(bench)
    if problems:
        raise UnknownDatasetError("; ".join(problems))
    seen: dict[str, str] = {}
    for bench in out:
        for sub in bench.subsets:
            if sub.abbr in seen:
                raise UnknownDatasetError(
                    f"two datasets are both named {sub.abbr!r} ({seen[sub.abbr]} and {bench.description or bench.name}); "
                    "give the custom one another abbr"
                )
            seen[sub.abbr] = bench.description or bench.name
    return out
