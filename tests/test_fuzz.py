"""Property tests (hypothesis): the config loader and the data loaders never crash.

Whatever they are given, `from_task_config` returns a RunConfig or raises ConfigError, and
a dataset's loaders return rows or raise DataError: never another exception, which the CLI
would show as a traceback. Example counts are bounded so the file runs in seconds.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from compasslite import benchmark
from compasslite.config import (
    IGNORED_MODEL_KEYS,
    IGNORED_TASK_KEYS,
    ModelConfig,
    RunConfig,
    from_task_config,
    load_file,
)
from compasslite.errors import ConfigError, DataError
from conftest import FIXTURE_DATA

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ values

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["gsm8k", "mmlu", "0.5", "[1:3]", "-1", "http://127.0.0.1:8000/v1", "local", "ENV", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)

RUN_KEYS = sorted(RunConfig.model_fields) + sorted(IGNORED_TASK_KEYS)
MODEL_KEYS = sorted(ModelConfig.model_fields) + ["api_key"] + sorted(IGNORED_MODEL_KEYS)
any_key = st.text(max_size=10) | st.integers(-3, 3) | st.none() | st.booleans()


def _mapping(keys: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[Any, Any]]:
    return st.dictionaries(st.sampled_from(keys) | any_key, values, max_size=len(keys) // 2)


models = st.lists(_mapping(MODEL_KEYS, json_values) | json_values, max_size=3)
datasets = st.lists(st.sampled_from(benchmark.SUITE) | st.text(max_size=8), max_size=4) | json_values
flat_config = st.fixed_dictionaries(
    {},
    optional={"datasets": datasets, "models": models, "limit": json_values, "work_dir": json_values},
).flatmap(lambda base: _mapping(RUN_KEYS, json_values).map(lambda extra: {**extra, **base}))
evalscope_config = st.fixed_dictionaries(
    {"eval_backend": st.sampled_from(["OpenCompass", "Native", 3, None]) | json_values},
    optional={"eval_config": flat_config | json_values, "work_dir": json_values, "limit": json_values},
).flatmap(lambda base: st.dictionaries(any_key, json_values, max_size=2).map(lambda extra: {**extra, **base}))


def _accept_or_config_error(task: Any) -> None:
    try:
        cfg = from_task_config(task)
    except ConfigError as exc:
        assert str(exc)  # a message, on one line
        assert "\n" not in str(exc)
        return
    assert isinstance(cfg, RunConfig)
    json.dumps(cfg.public_dict())  # what goes into the manifest is serialisable


@FAST
@given(task=flat_config | evalscope_config)
@example(task={"eval_backend": "OpenCompass", "eval_config": {}, 1: 2, "b": 3})  # keys of mixed types
@example(task={"datasets": ["gsm8k"], "models": [{"path": "m", 3: None}], None: 1})
def test_config_loader_returns_a_config_or_raises_config_error(task):
    _accept_or_config_error(task)


@settings(max_examples=60, deadline=None)
@given(task=json_values)
def test_config_loader_on_any_value(task):
    assume(not isinstance(task, str))  # a str is a file path: covered below
    _accept_or_config_error(task)


@settings(max_examples=80, deadline=None)
@given(
    content=st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | json_values.map(lambda v: json.dumps(v).encode())
    | (flat_config | evalscope_config).map(lambda v: json.dumps(v, default=str).encode()),
    suffix=st.sampled_from([".yaml", ".yml", ".json", ""]),
)
def test_config_files_of_any_content_are_a_config_or_a_config_error(content, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"task{suffix}"
        path.write_bytes(content)
        try:
            data = load_file(path)
        except ConfigError:
            return
        assert isinstance(data, dict)
        _accept_or_config_error(path)


@pytest.mark.parametrize(
    "path", ["x" * 5000, "a\x00b", "/", ".", "/nonexistent/dir/task.yaml", "~/nope.yaml", ""]
)
def test_config_paths_that_cannot_be_read_are_config_errors(path):
    with pytest.raises(ConfigError):
        from_task_config(path)


def test_deeply_nested_config_files_are_config_errors(tmp_path):
    for suffix in (".json", ".yaml"):
        path = tmp_path / f"deep{suffix}"
        path.write_text("[" * 100_000)
        with pytest.raises(ConfigError):
            load_file(path)


# ------------------------------------------------------------------ data files

FUZZED_DATASETS = ["gsm8k", "ARC_c", "mmlu", "ceval", "hellaswag", "piqa", "race", "nq", "winogrande"]


def _fuzzable(name: str) -> list[benchmark.Subset]:
    """The dataset's sub-datasets whose files all exist among our fixtures."""
    subs = [s for s in benchmark.get(name).subsets if all((FIXTURE_DATA / f).is_file() for f in s.files)]
    assert subs, f"no fixture files for {name}"
    return subs


def _lines_of(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _mutate(value: Any, data: st.DataObject) -> Any:
    """The value with one spot, at any depth, replaced by a random value or removed."""
    if isinstance(value, dict) and value and data.draw(st.integers(0, 3)):
        key = data.draw(st.sampled_from(sorted(value)))
        out = dict(value)
        if data.draw(st.integers(0, 4)) == 0:
            del out[key]
        else:
            out[key] = _mutate(out[key], data)
        return out
    if isinstance(value, list) and value and data.draw(st.integers(0, 3)):
        i = data.draw(st.integers(0, len(value) - 1))
        out = list(value)
        if data.draw(st.integers(0, 4)) == 0:
            del out[i]
        else:
            out[i] = _mutate(out[i], data)
        return out
    return data.draw(json_values)


def _mutated_line(line: str, data: st.DataObject) -> str:
    """A real record with one spot changed: a JSON field, or one CSV/TSV cell."""
    try:
        return json.dumps(_mutate(json.loads(line), data), ensure_ascii=False)
    except json.JSONDecodeError:
        sep = "\t" if "\t" in line else ","
        cells = line.split(sep)
        i = data.draw(st.integers(0, len(cells)))
        cells[i : i + 1] = data.draw(st.lists(st.text(max_size=8), max_size=2))
        return sep.join(cells)


def _fuzzed_content(original: list[str], data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["bytes", "lines", "mutated", "mutated"]))
    if kind == "bytes":
        return data.draw(st.binary(max_size=400))
    if kind == "mutated":  # the real file, some of its records changed
        return "\n".join(
            _mutated_line(line, data) if data.draw(st.integers(0, 2)) == 0 else line for line in original
        ).encode("utf-8", "surrogatepass")
    pieces = []
    for _ in range(data.draw(st.integers(0, 6))):
        choice = data.draw(st.integers(0, 3))
        if choice == 0 and original:
            pieces.append(data.draw(st.sampled_from(original)))
        elif choice == 1:
            pieces.append(json.dumps(data.draw(json_values)))
        elif choice == 2:
            pieces.append(data.draw(st.text(max_size=60)))
        else:
            fields = data.draw(st.lists(st.text(max_size=10), max_size=8))
            pieces.append(data.draw(st.sampled_from([",", "\t", " "])).join(fields))
    sep = data.draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    return sep.join(pieces).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("name", FUZZED_DATASETS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_data_loaders_return_rows_or_raise_data_error(name, data):
    subs = _fuzzable(name)
    files = sorted({f for s in subs for f in s.files})
    target = data.draw(st.sampled_from(files), label="file")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(FIXTURE_DATA / rel, root / rel)
        (root / target).write_bytes(_fuzzed_content(_lines_of(FIXTURE_DATA / target), data))
        for sub in subs:
            for loader in (sub.load, sub.load_ice):
                if loader is None:
                    continue
                try:
                    rows = loader(root)
                except DataError as exc:
                    assert str(exc)
                    continue
                assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
