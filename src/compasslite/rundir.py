"""The run directory: manifest, per-sample JSONL records, OpenCompass-style outputs.

<work_dir>/<timestamp>/
  manifest.json            config without secrets, versions, prompt fingerprints, status
  configs/config.yaml      the resolved config (no API key)
  records/<model>.jsonl    one line per finished sample, appended at once (what resume reads)
  predictions/<model>/<abbr>.json   {"0": {origin_prompt, prediction, gold}, ...}
  results/<model>/<abbr>.json       metrics, counts and per-sample details
  summary/summary_<timestamp>.{csv,md,txt}
  logs/run.log
Files other than records are written atomically (temp file + rename), so an interrupted
or failed write never leaves a damaged file behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from .errors import RunDirError
from .types import Record

log = logging.getLogger("compasslite")

TIMESTAMP_FORMAT = "%Y%m%d_%H%M%S"


def _describe_os_error(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"cannot write {path}: the disk is full"
    if exc.errno == errno.EDQUOT:
        return f"cannot write {path}: the disk quota is exhausted"
    if exc.errno == errno.EFBIG:
        return f"cannot write {path}: the file size limit (ulimit -f) was reached"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: permission denied (is the work dir writable?)"
    return f"cannot write {path}: {exc.strerror or exc}"


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise RunDirError(_describe_os_error(exc, path)) from None


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n")


class RecordWriter:
    """Appends one JSON line per finished sample with a single write() on an O_APPEND fd:
    a killed process loses at most the line being written, which the reader skips."""

    FSYNC_INTERVAL_S = 1.0

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunDirError(_describe_os_error(exc, path)) from None
        self._last_sync = time.monotonic()
        # A torn last line from a killed run must not glue onto the next record.
        try:
            if path.stat().st_size:
                with open(path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        self._write(b"\n")
        except OSError as exc:
            os.close(self._fd)
            raise RunDirError(_describe_os_error(exc, path)) from None

    def _write(self, data: bytes) -> None:
        # A write cut short (disk full, file size limit) is continued rather than left as a
        # torn line for the next record to glue onto; with no room left os.write raises.
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def append(self, record: Record) -> None:
        line = orjson.dumps(record.__dict__) + b"\n"  # a flat dataclass: cheaper than asdict()
        try:
            self._write(line)
            now = time.monotonic()
            if now - self._last_sync > self.FSYNC_INTERVAL_S:
                os.fsync(self._fd)
                self._last_sync = now
        except OSError as exc:
            raise RunDirError(_describe_os_error(exc, self.path)) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self._fd)
        os.close(self._fd)


# The fields a record line must have, with their types: a line that does not fit (torn by a
# kill, or edited by hand) is skipped with a warning, and its sample is asked again.
_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "abbr": (str,), "index": (int,), "fingerprint": (str,), "prediction": (str, type(None)),
    "error": (str, type(None)), "finish_reason": (str, type(None)), "attempts": (int,),
    "latency_s": (int, float), "usage": (dict, type(None)), "reasoning": (str, type(None)),
    "error_kind": (str, type(None)),
}  # fmt: skip


_RECORD_FIELDS = {*_RECORD_TYPES, "origin_prompt"}


def _record_problem(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"not a JSON object but {type(obj).__name__}"
    for name in ("abbr", "index", "fingerprint", "origin_prompt", "prediction"):
        if name not in obj:
            return f"no {name!r} field"
    for name, value in obj.items():
        if name == "origin_prompt":
            if not isinstance(value, (str, list)):
                return "'origin_prompt' is neither text nor a list of turns"
            continue
        types = _RECORD_TYPES.get(name)
        if types is None:
            continue  # a field of another version: ignored
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"field {name!r} is a {type(value).__name__}"
    return None


def _valid_lines(path: Path) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Each well-formed record line of a records file, parsed, with its bytes. A line that is
    torn or malformed is skipped (a warning names file:line, except for a torn last line,
    which a kill leaves normally)."""
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
                problem = _record_problem(obj)
            except orjson.JSONDecodeError:
                problem = "not valid JSON"
            if problem is not None:
                torn = not line.endswith(b"\n")  # the last line, cut off by a kill: expected
                if not torn or problem != "not valid JSON":
                    log.warning("%s:%d: record skipped (%s); its sample will be asked again", path, lineno, problem)
                continue
            yield obj, line


def slim_record(rec: Record) -> Record:
    """What a run keeps in memory of a finished sample: for which prompt (fingerprint),
    whether it was answered and why not, but none of its texts (prompt, reply, reasoning),
    which stay in records/ and are read back one sub-dataset at a time for scoring."""
    return dataclasses.replace(
        rec,
        abbr=sys.intern(rec.abbr),
        origin_prompt="",
        prediction=None if rec.prediction is None else "",
        usage=None,
        reasoning=None,
        error=None if rec.error is None else sys.intern(rec.error),  # failures often repeat
    )


def read_records(path: Path, slim: bool = False) -> dict[tuple[str, int], Record]:
    """The latest record per (abbr, index); `slim` keeps no texts (see slim_record). A line
    that is torn or malformed is skipped (see _valid_lines); its sample counts as not asked
    and is asked again on resume."""
    out: dict[tuple[str, int], Record] = {}
    if not path.is_file():
        return out
    for obj, _ in _valid_lines(path):
        rec = Record(**{k: v for k, v in obj.items() if k in _RECORD_FIELDS})
        if slim:
            rec = slim_record(rec)
        key = (rec.abbr, rec.index)
        previous = out.get(key)
        # An answer is never replaced by a later error for the same prompt.
        if previous is not None and previous.answered and not rec.answered:
            if previous.fingerprint == rec.fingerprint:
                continue
        out[key] = rec
    return out


SPLIT_BUFFER_BYTES = 8 * 2**20


def split_records(path: Path, into: Path) -> dict[str, Path]:
    """One pass over a records file: the well-formed lines of each sub-dataset, in their
    order, into a file of their own in `into` (abbr -> path). read_records on such a file
    gives exactly the records of that sub-dataset that read_records on the whole file gives,
    so a run's outputs can be written one sub-dataset at a time in bounded memory. Warnings
    about skipped lines name the original file and line."""
    parts: dict[str, Path] = {}
    if not path.is_file():
        return parts
    into.mkdir(parents=True, exist_ok=True)
    pending: dict[str, list[bytes]] = {}
    buffered = 0

    def flush() -> None:
        for abbr, lines in pending.items():
            with open(parts[abbr], "ab") as f:
                f.writelines(lines)
        pending.clear()

    try:
        for obj, line in _valid_lines(path):
            abbr = obj["abbr"]
            if abbr not in parts:
                parts[abbr] = into / f"{len(parts)}.jsonl"  # abbrs may hold any character
            pending.setdefault(abbr, []).append(line if line.endswith(b"\n") else line + b"\n")
            buffered += len(line)
            if buffered > SPLIT_BUFFER_BYTES:
                flush()
                buffered = 0
        flush()
    except OSError as exc:
        raise RunDirError(_describe_os_error(exc, into)) from None
    return parts


class RunDir:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._lock_fd: int | None = None

    # ---------------------------------------------------------------- make
    @classmethod
    def create(cls, work_dir: str | Path) -> RunDir:
        work = Path(work_dir)
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(_describe_os_error(exc, work)) from None
        stamp = time.strftime(TIMESTAMP_FORMAT)
        for n in range(1000):
            name = stamp if n == 0 else f"{stamp}_{n}"
            try:
                (work / name).mkdir()  # exclusive: two runs never share a directory
            except FileExistsError:
                continue
            except OSError as exc:
                raise RunDirError(_describe_os_error(exc, work / name)) from None
            return cls(work / name)
        raise RunDirError(f"could not create a run directory in {work}")

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        root = Path(path)
        if not (root / "manifest.json").is_file():
            raise RunDirError(f"{root} is not a compasslite run directory (no manifest.json)")
        return cls(root)

    @classmethod
    def find(cls, work_dir: str | Path, reuse: str | bool) -> RunDir | None:
        """EvalScope's `reuse`: 'latest' (or True) or a timestamp folder name.

        'latest' with no earlier run starts a new one, as OpenCompass does (None)."""
        work = Path(work_dir)
        if reuse is True or reuse == "latest":
            runs = (
                sorted(p for p in work.glob("*") if (p / "manifest.json").is_file()) if work.is_dir() else []
            )
            if not runs:
                logging.getLogger("compasslite").warning(
                    "reuse='latest': no earlier run in %s, starting a new one", work
                )
                return None
            return cls(runs[-1])
        return cls.open(work / str(reuse))

    @property
    def timestamp(self) -> str:
        return self.root.name

    # ---------------------------------------------------------------- lock
    def lock(self) -> None:
        path = self.root / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirError(
                f"{self.root} is in use by another compasslite process; wait for it or resume later"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # --------------------------------------------------------------- paths
    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def records_path(self, model: str, repeat: int = 0) -> Path:
        """records/<model>.jsonl; with --repeats, repeat r > 0 in records/<model>.repeat<r>.jsonl."""
        suffix = f".repeat{repeat}" if repeat else ""
        return self.root / "records" / f"{model}{suffix}.jsonl"

    def predictions_path(self, model: str, abbr: str) -> Path:
        return self.root / "predictions" / model / f"{abbr}.json"

    def results_path(self, model: str, abbr: str) -> Path:
        return self.root / "results" / model / f"{abbr}.json"

    def summary_path(self, ext: str) -> Path:
        return self.root / "summary" / f"summary_{self.timestamp}.{ext}"

    @property
    def log_path(self) -> Path:
        return self.root / "logs" / "run.log"

    def read_manifest(self) -> dict[str, Any]:
        try:
            return orjson.loads(self.manifest_path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise RunDirError(f"cannot read {self.manifest_path}: {exc}") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.manifest_path, manifest)

    def iter_record_files(self) -> Iterator[Path]:
        yield from sorted((self.root / "records").glob("*.jsonl"))
