"""Reading OpenCompass-layout data files with precise error messages.

Every reader names the file (and line, for line-based formats) when something is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import FRONTEND, DataError, MissingDataError, from_cli


def default_data_dir() -> Path:
    """`./data` if it exists, else $COMPASS_DATA_CACHE, else the user cache dir
    (`~/.cache/compasslite/data` on Linux), where downloads go when nothing else is set."""
    local = Path("data")
    if local.is_dir():
        return local
    env = os.environ.get("COMPASS_DATA_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("compasslite")) / "data"


def require(data_dir: Path, relpath: str, dataset: str | None = None) -> Path:
    """The path of a data file, or a DataError that says where it was expected."""
    path = Path(data_dir) / relpath
    if not path.is_file():
        where = f" for {dataset}" if dataset else ""
        if not Path(data_dir).is_dir():
            raise MissingDataError(
                f"data folder {Path(data_dir).resolve()} does not exist (needed{where}: {relpath}); "
                f"{download_hint(data_dir, dataset)}, or {point_data_dir_hint()}"
            )
        raise MissingDataError(
            f"missing data file{where}: {path.resolve()} (expected at <data-dir>/{relpath}, as in "
            f"OpenCompass's data release); {download_hint(data_dir, dataset)}, or copy the file there"
        )
    return path


def download_hint(data_dir: str | os.PathLike[str], dataset: str | None) -> str:
    """How to fetch `dataset` into the data dir the user's own command reads, so that the same
    command works once it is pasted and run: `--data-dir` names that folder explicitly."""
    command = f"compasslite data download {dataset or '<name>'} --data-dir {shlex.quote(str(data_dir))}"
    if FRONTEND.get() == "cli-run":
        return f"fetch it with `{command}` (where the machine is online), or rerun with --yes to fetch it"
    if from_cli():
        return f"fetch it with `{command}` (where the machine is online)"
    return f"fetch it with `{command}` in a shell, or set download=True in the task config to fetch it"


def point_data_dir_hint() -> str:
    """Where the user says which data folder to read: a flag on the command line, a key in Python."""
    if from_cli():
        return "pass --data-dir pointing at an OpenCompass data/ folder"
    return "set data_dir (a task config key) to an OpenCompass data/ folder"


def read_text(path: Path, errors: str = "strict") -> str:
    try:
        return path.read_text(encoding="utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def iter_jsonl(path: Path, errors: str = "strict") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a malformed line is a DataError at file:line."""
    text = read_text(path, errors)
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}:{lineno}: malformed JSON line ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def read_jsonl(path: Path, errors: str = "strict") -> list[dict[str, Any]]:
    rows = [obj for _, obj in iter_jsonl(path, errors)]
    if not rows:
        raise DataError(f"{path}: the file has no records")
    return rows


def read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None


def iter_csv(path: Path, *, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line number, record) for each non-blank CSV record, read as OpenCompass reads it:
    the file opened in Python's text mode (CR LF and lone CR become LF) and parsed by the
    csv module, so a quoted field keeps its line breaks. A malformed record is a DataError
    at file:line."""
    text = read_text(path).replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for rec in reader:
            if rec:
                yield reader.line_num, rec
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None


def read_csv(path: Path, *, header: bool, min_fields: int = 0) -> list[list[str]]:
    """CSV records (see iter_csv). Without `header` every record is data."""
    records: list[list[str]] = []
    for line, rec in iter_csv(path):
        if min_fields and len(rec) < min_fields:
            raise DataError(f"{path}:{line}: expected at least {min_fields} fields, found {len(rec)}")
        records.append(rec)
    if header:
        records = records[1:]
    if not records:
        raise DataError(f"{path}: the file has no records")
    return records


def missing_fields(path: Path, lineno: int | str, obj: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Raise a DataError naming the fields a record lacks."""
    absent = [f for f in fields if f not in obj]
    if absent:
        raise DataError(f"{path}:{lineno}: record lacks field(s) {', '.join(absent)}")


def iter_json_records(path: Path, key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, object) for each record of a JSON file shaped `{key: [ {...}, ... ]}`
    (BBH's "examples", GaokaoBench's "example"); errors name `file:key[i]`."""
    doc = read_json(path)
    records = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(records, list):
        raise DataError(f'{path}: expected a JSON object with an "{key}" list')
    if not records:
        raise DataError(f"{path}: the file has no records")
    for i, obj in enumerate(records):
        where = f"{key}[{i}]"
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{where}: expected a JSON object, got {type(obj).__name__}")
        yield where, obj
