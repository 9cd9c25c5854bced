"""Data on demand: what is in a data dir, and fetching OpenCompass's archives into it.

`status(data_dir)` tells, per dataset short name, which of its files are present and
whether each is OpenCompass's exact file (sha256 or git blob id from `data_manifest`),
differs from it, or has no reference digest.

`download(names, data_dir)` fetches the archives OpenCompass itself publishes (the
per-dataset zips of `opencompass/utils/datasets_info.py`'s DATASETS_URL table, and the
OpenCompassData-core-20240207 release zip for the datasets that table lacks), checks them
(OpenCompass's md5 where it publishes one, zip CRCs, and the per-file sha256 table), and
unpacks them atomically: into a temporary folder inside the data dir, then each dataset
folder is renamed into place. A broken download resumes from its `.part` file (HTTP
Range). `COMPASSLITE_DATA_URL` replaces the download location: a mirror holding the same
archive file names (tests point it at a local server).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import http.client
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .benchmark import SUITE
from .errors import DataError, UnknownDatasetError, from_cli

ManifestEntry = tuple[int | None, str, str]  # (size or None, "sha256" | "gitblob", hex digest)
Manifest = Mapping[str, ManifestEntry]

ENV_BASE_URL = "COMPASSLITE_DATA_URL"
_OSS = "http://opencompass.oss-cn-shanghai.aliyuncs.com/datasets/data/"
_TMP_PREFIX = ".compasslite-tmp-"
_DOWNLOADS = ".compasslite-downloads"


@dataclass(frozen=True)
class Archive:
    filename: str
    url: str
    md5: str | None  # as OpenCompass publishes it; None: not published, checked per file only


# From OpenCompass's opencompass/utils/datasets_info.py (DATASETS_URL), and its README for the
# core release zip, whose md5 OpenCompass does not publish.
ARCHIVES: dict[str, Archive] = {
    a.filename: a
    for a in (
        Archive("mmlu.zip", _OSS + "mmlu.zip", "761310671509a239e41c4b717f7fab9c"),
        Archive("mbpp.zip", _OSS + "mbpp.zip", "777739c90f04bce44096a5bc96c8f9e5"),
        Archive("math.zip", _OSS + "math.zip", "cb5b4c8378085929e20345174e731fdf"),
        Archive("hellaswag.zip", _OSS + "hellaswag.zip", "2b700a02ffb58571c7df8d8d0619256f"),
        Archive("BBH.zip", _OSS + "BBH.zip", "60c49f9bef5148aa7e1941328e96a554"),
        Archive("gsm8k.zip", _OSS + "gsm8k.zip", "901e5dc93a2889789a469da9850cdca8"),
        Archive("humaneval.zip", _OSS + "humaneval.zip", "88b1b89dc47b7121c81da6bcd85a69c3"),
        Archive("FewCLUE.zip", _OSS + "FewCLUE.zip", "7976e2bb0e9d885ffd3c55f7c5d4021e"),
        Archive("race.zip", _OSS + "race.zip", "b758251764a264746cf45749c02363f9"),
        Archive("ARC.zip", _OSS + "ARC.zip", "d720629b69f1a51cfe78bf65b00b44f6"),
        Archive("SuperGLUE.zip", _OSS + "SuperGLUE.zip", "b60904915b0b61d1a04ea52280169936"),
        Archive("winogrande.zip", _OSS + "winogrande.zip", "9e949a75eacc26ed4fd2b9aa870b495b"),
        Archive("triviaqa.zip", _OSS + "triviaqa.zip", "e6a118d744236814926b2ec7ec66c034"),
        Archive("GAOKAO-BENCH.zip", _OSS + "GAOKAO-BENCH.zip", "ba3c71b8b9db96d2a0664b977c4f9784"),
        Archive(
            "OpenCompassData-core-20240207.zip",
            "https://github.com/open-compass/opencompass/releases/download/0.2.2.rc1/"
            "OpenCompassData-core-20240207.zip",
            None,
        ),
    )
}
CORE = "OpenCompassData-core-20240207.zip"


@dataclass(frozen=True)
class Layout:
    """Where a dataset lives in the data dir and which archives hold it (first choice first)."""

    units: tuple[str, ...]  # folders installed as a whole (renamed into place)
    files: tuple[str, ...]  # fallback file list (fnmatch patterns) when the dataset is not registered
    archives: tuple[str, ...]


def _L(unit: str, files: Iterable[str], *archives: str) -> Layout:  # noqa: N802
    return Layout((unit,), tuple(files), (*archives, CORE))


_SG, _FC = "SuperGLUE.zip", "FewCLUE.zip"
_FEW = ("dev_few_all.json", "test_public.json")

LAYOUTS: dict[str, Layout] = {
    "obqa": _L("openbookqa", ["openbookqa/Main/test.jsonl", "openbookqa/Additional/test_complete.jsonl"]),
    "AX_b": _L("SuperGLUE/AX-b", ["SuperGLUE/AX-b/AX-b.jsonl"], _SG),
    "siqa": _L("siqa", ["siqa/dev.jsonl", "siqa/dev-labels.lst"]),
    "nq": _L("nq", ["nq/nq-test.qa.csv"]),
    "mbpp": _L("mbpp", ["mbpp/mbpp.jsonl"], "mbpp.zip"),
    "winogrande": _L("winogrande", ["winogrande/dev.jsonl"], "winogrande.zip"),
    "mmlu": _L("mmlu", ["mmlu/dev/*_dev.csv", "mmlu/test/*_test.csv"], "mmlu.zip"),
    "BoolQ": _L("SuperGLUE/BoolQ", ["SuperGLUE/BoolQ/val.jsonl"], _SG),
    "cluewsc": _L("FewCLUE/cluewsc", [f"FewCLUE/cluewsc/{f}" for f in _FEW], _FC),
    "ocnli": _L("CLUE/OCNLI", ["CLUE/OCNLI/dev.json"]),
    "lambada": _L("lambada", ["lambada/test.jsonl"]),
    "CMRC": _L("CLUE/CMRC", ["CLUE/CMRC/dev.json"]),
    "ceval": _L("ceval", ["ceval/formal_ceval/dev/*_dev.csv", "ceval/formal_ceval/val/*_val.csv"]),
    "csl": _L("FewCLUE/csl", [f"FewCLUE/csl/{f}" for f in _FEW], _FC),
    "cmnli": _L("CLUE/cmnli", ["CLUE/cmnli/cmnli_public/dev.json"]),
    "bbh": _L("BBH", ["BBH/data/*.json", "BBH/lib_prompt/*.txt"], "BBH.zip"),
    "ReCoRD": _L("SuperGLUE/ReCoRD", ["SuperGLUE/ReCoRD/val.jsonl"], _SG),
    "math": _L("math", ["math/math.json"], "math.zip"),
    "humaneval": _L("humaneval", ["humaneval/human-eval-v2-20210705.jsonl"], "humaneval.zip"),
    "eprstmt": _L("FewCLUE/eprstmt", [f"FewCLUE/eprstmt/{f}" for f in _FEW], _FC),
    "WSC": _L("SuperGLUE/WSC", ["SuperGLUE/WSC/val.jsonl"], _SG),
    "storycloze": _L("xstory_cloze", ["xstory_cloze/en_train.jsonl", "xstory_cloze/en_eval.jsonl"]),
    "MultiRC": _L("SuperGLUE/MultiRC", ["SuperGLUE/MultiRC/val.jsonl"], _SG),
    "RTE": _L("SuperGLUE/RTE", ["SuperGLUE/RTE/val.jsonl"], _SG),
    "chid": _L("FewCLUE/chid", [f"FewCLUE/chid/{f}" for f in _FEW], _FC),
    "gsm8k": _L("gsm8k", ["gsm8k/test.jsonl"], "gsm8k.zip"),
    "AX_g": _L("SuperGLUE/AX-g", ["SuperGLUE/AX-g/AX-g.jsonl"], _SG),
    "bustm": _L("FewCLUE/bustm", [f"FewCLUE/bustm/{f}" for f in _FEW], _FC),
    "afqmc": _L("CLUE/AFQMC", ["CLUE/AFQMC/dev.json"]),
    "piqa": _L("piqa", ["piqa/dev.jsonl", "piqa/dev-labels.lst"]),
    "lcsts": _L("LCSTS", ["LCSTS/test.src.txt", "LCSTS/test.tgt.txt"]),
    "strategyqa": _L("strategyqa", ["strategyqa/strategyQA_train.json"]),
    "Xsum": _L("Xsum", ["Xsum/dev.jsonl"]),
    "agieval": _L("AGIEval", ["AGIEval/data/v1/*.jsonl"]),
    "ocnli_fc": _L("FewCLUE/ocnli", [f"FewCLUE/ocnli/{f}" for f in _FEW], _FC),
    "C3": _L("CLUE/C3", ["CLUE/C3/dev_0.json"]),
    "tnews": _L("FewCLUE/tnews", [f"FewCLUE/tnews/{f}" for f in _FEW], _FC),
    "race": _L("race", ["race/test/middle.jsonl", "race/test/high.jsonl"], "race.zip"),
    "triviaqa": _L("triviaqa", ["triviaqa/trivia-dev.qa.csv"], "triviaqa.zip"),
    "CB": _L("SuperGLUE/CB", ["SuperGLUE/CB/val.jsonl"], _SG),
    "WiC": _L("SuperGLUE/WiC", ["SuperGLUE/WiC/val.jsonl"], _SG),
    "hellaswag": _L("hellaswag", ["hellaswag/hellaswag.jsonl"], "hellaswag.zip"),
    "summedits": _L("summedits", ["summedits/summedits.jsonl"]),
    "GaokaoBench": _L("GAOKAO-BENCH", ["GAOKAO-BENCH/data/*/*.json"], "GAOKAO-BENCH.zip"),
    "ARC_e": _L("ARC/ARC-e", ["ARC/ARC-e/ARC-Easy-Dev.jsonl"], "ARC.zip"),
    "COPA": _L("SuperGLUE/COPA", ["SuperGLUE/COPA/val.jsonl"], _SG),
    "ARC_c": _L("ARC/ARC-c", ["ARC/ARC-c/ARC-Challenge-Dev.jsonl"], "ARC.zip"),
    "DRCD": _L("CLUE/DRCD", ["CLUE/DRCD/dev.json"]),
}
assert set(LAYOUTS) == set(SUITE)


def base_url_override() -> str | None:
    value = os.environ.get(ENV_BASE_URL, "").strip()
    return value.rstrip("/") if value else None


def archive_url(archive: Archive) -> str:
    base = base_url_override()
    return f"{base}/{archive.filename}" if base else archive.url


# ---------------------------------------------------------------------------------------
# Digests


def _cache_dir() -> Path:
    env = os.environ.get("COMPASSLITE_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("compasslite"))


class _DigestCache:
    """sha256 and git blob sha1 per (path, size, mtime), in one JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path if path is not None else _cache_dir() / "file-digests.json"
        self.entries: dict[str, list[str]] = {}
        self.dirty = False
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self.entries = {k: v for k, v in loaded.items() if isinstance(v, list) and len(v) == 2}

    def digests(self, path: Path) -> tuple[str, str]:
        path = path.resolve()
        st = path.stat()
        key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
        hit = self.entries.get(key)
        if hit is not None:
            return hit[0], hit[1]
        sha256, blob = hashlib.sha256(), hashlib.sha1()  # noqa: S324 (git's blob id)
        blob.update(f"blob {st.st_size}\0".encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha256.update(chunk)
                blob.update(chunk)
        self.entries[key] = [sha256.hexdigest(), blob.hexdigest()]
        self.dirty = True
        return sha256.hexdigest(), blob.hexdigest()

    def save(self) -> None:
        if not self.dirty:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        self.dirty = False


def _default_manifest() -> Manifest:
    from .data_manifest import REFERENCE

    return REFERENCE


def _known_paths() -> frozenset[str]:
    from .data_manifest import NO_REFERENCE, REFERENCE

    return frozenset(REFERENCE) | NO_REFERENCE


def check_file(path: Path, rel: str, manifest: Manifest, cache: _DigestCache) -> str:
    """'exact', 'differs' or 'no reference' for an existing file."""
    ref = manifest.get(rel)
    if ref is None:
        return "no reference"
    size, kind, digest = ref
    if size is not None and path.stat().st_size != size:
        return "differs"
    sha256, blob = cache.digests(path)
    actual = blob if kind == "gitblob" else sha256
    return "exact" if actual == digest.lower() else "differs"


# ---------------------------------------------------------------------------------------
# Status


@dataclass(frozen=True)
class FileStatus:
    path: str  # relative to the data dir
    state: str  # "exact" | "differs" | "no reference" | "missing"
    size: int | None = None

    @property
    def present(self) -> bool:
        return self.state != "missing"


@dataclass(frozen=True)
class DatasetStatus:
    name: str
    files: tuple[FileStatus, ...]
    registered: bool  # file list from the benchmark registry (else from LAYOUTS patterns)
    archives: tuple[str, ...] = field(default=())

    def count(self, state: str) -> int:
        return sum(1 for f in self.files if f.state == state)

    @property
    def present(self) -> int:
        return sum(1 for f in self.files if f.present)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if not f.present)

    @property
    def state(self) -> str:
        """'complete' (every file present), 'partial' or 'missing'."""
        if not self.files or self.present == 0:
            return "missing"
        return "complete" if self.present == len(self.files) else "partial"


def canonical_name(name: str) -> str:
    if name in SUITE:
        return name
    by_lower = {n.lower(): n for n in SUITE}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise UnknownDatasetError(f"unknown dataset {name!r}; `compasslite list` shows the 48 names")


def _expand(patterns: Sequence[str], data_dir: Path, unit_dirs: Sequence[str]) -> list[str]:
    candidates = set(_known_paths())
    for unit in unit_dirs:
        root = data_dir / unit
        if root.is_dir():
            candidates.update(p.relative_to(data_dir).as_posix() for p in root.rglob("*") if p.is_file())
    out: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            out.extend(sorted(p for p in candidates if fnmatch.fnmatchcase(p, pattern) and p not in out))
        elif pattern not in out:
            out.append(pattern)
    return out


def dataset_files(name: str, data_dir: str | os.PathLike[str] | None = None) -> tuple[tuple[str, ...], bool]:
    """(files, registered): the data files a dataset reads, relative to the data dir."""
    name = canonical_name(name)
    try:
        from .benchmark import available

        bench = available().get(name)
    except Exception:  # noqa: BLE001 (a broken benchmark module must not break `data status`)
        bench = None
    if bench is not None:
        files: list[str] = []
        for subset in bench.subsets:
            files.extend(f for f in subset.files if f not in files)
        if files:
            return tuple(files), True
    layout = LAYOUTS[name]
    return tuple(_expand(layout.files, Path(data_dir or "."), layout.units)), False


def status(
    data_dir: str | os.PathLike[str],
    names: Sequence[str] | None = None,
    *,
    manifest: Manifest | None = None,
    cache_file: Path | None = None,
) -> list[DatasetStatus]:
    """Per dataset (suite order, or the given names), each file's state in `data_dir`."""
    root = Path(data_dir)
    manifest = _default_manifest() if manifest is None else manifest
    cache = _DigestCache(cache_file)
    wanted = [canonical_name(n) for n in names] if names else list(SUITE)
    rows: list[DatasetStatus] = []
    try:
        for name in wanted:
            files, registered = dataset_files(name, root)
            states: list[FileStatus] = []
            for rel in files:
                path = root / rel
                if path.is_file():
                    states.append(
                        FileStatus(rel, check_file(path, rel, manifest, cache), path.stat().st_size)
                    )
                else:
                    states.append(FileStatus(rel, "missing"))
            rows.append(DatasetStatus(name, tuple(states), registered, LAYOUTS[name].archives))
    finally:
        cache.save()
    return rows


# ---------------------------------------------------------------------------------------
# Download


@dataclass
class DownloadResult:
    name: str
    action: str  # "installed" | "already present"
    archive: str | None = None
    warnings: list[str] = field(default_factory=list)


ProgressFn = Callable[[str, int, "int | None"], None]  # (archive file name, bytes done, total)
LogFn = Callable[[str], None]


def _offline_message(archive: Archive, url: str, reason: str, names: Sequence[str], data_dir: Path) -> str:
    units = sorted({u for n in names for u in LAYOUTS[n].units})
    example = dataset_files(names[0], data_dir)[0][:1]
    target = f"{data_dir / example[0]}" if example else str(data_dir / units[0])
    return (
        f"cannot download {archive.filename} (for {', '.join(names)}) from {url}: {reason}.\n"
        f"To install by hand (e.g. on an offline machine): fetch that file where there is internet access, unzip it, "
        f"and copy the folder(s) {', '.join(units)} from its data/ folder (or its top level) into "
        f"{data_dir}, so that {target} exists; or {_point_at_layout()}, or set {ENV_BASE_URL} to a "
        "mirror holding the same archive "
        f"names. `compasslite data status --data-dir DIR` shows what is present."
    )


def _point_at_layout() -> str:
    if from_cli():
        return "pass --data-dir pointing at a folder that already has the OpenCompassData layout"
    return "set data_dir to a folder that already has the OpenCompassData layout"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _fetch(
    url: str,
    part: Path,
    *,
    retries: int,
    timeout: float,
    progress: ProgressFn | None,
    label: str,
) -> None:
    """Download url into `part`, resuming from its current size (HTTP Range)."""
    last: BaseException | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(0.5 * 2**attempt, 8.0))
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": "compasslite", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=timeout
            ) as resp:
                if resp.status == 206:
                    mode, done = "ab", have
                    crange = resp.headers.get("Content-Range", "")
                    if not crange.startswith(f"bytes {have}-"):
                        mode, done = "wb", 0  # the server sent another range: start over
                        part.unlink(missing_ok=True)
                        raise ConnectionError(f"unexpected Content-Range {crange!r}")
                    total = int(crange.rsplit("/", 1)[1]) if crange.rsplit("/", 1)[-1].isdigit() else None
                else:
                    mode, done = "wb", 0  # 200: the whole file (a server without Range support)
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                with part.open(mode) as fh:
                    while True:
                        try:
                            chunk = resp.read(1 << 16)
                        except http.client.IncompleteRead as exc:
                            fh.write(exc.partial)
                            raise
                        if not chunk:
                            break
                        fh.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(label, done, total)
                if total is not None and part.stat().st_size != total:
                    raise ConnectionError(f"connection closed after {part.stat().st_size} of {total} bytes")
                return
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to fetch: the .part is complete
                return
            if 400 <= exc.code < 500:
                raise _HardError(exc) from exc
            last = exc
        except urllib.error.URLError as exc:
            last = exc
            if isinstance(exc.reason, (ConnectionRefusedError, socket.gaierror)):
                raise _HardError(exc) from exc  # offline, or no such host: retrying will not help
        except (OSError, http.client.HTTPException, ValueError) as exc:
            last = exc
    assert last is not None
    raise _HardError(last)


class _HardError(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(_describe(cause))
        self.cause = cause


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 (OpenCompass publishes md5)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _zip_prefix(names: Sequence[str], wanted: Sequence[str]) -> str | None:
    """The folder inside the zip that plays the data dir ('' or e.g. 'data/'), if it holds `wanted`."""
    members = set(names)
    first = wanted[0]
    for member in names:
        if member == first or member.endswith("/" + first):
            prefix = member[: len(member) - len(first)]
            if all(prefix + w in members for w in wanted):
                return prefix
    return None


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and "\\" not in name


def download(
    names: Sequence[str],
    data_dir: str | os.PathLike[str],
    yes: bool = False,
    *,
    force: bool = False,
    manifest: Manifest | None = None,
    progress: ProgressFn | None = None,
    log: LogFn | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    cache_file: Path | None = None,
) -> list[DownloadResult]:
    """Fetch, verify and install the named datasets into `data_dir`.

    Datasets whose files are all present are left alone (unless `force`). A dataset folder
    that exists but is incomplete (or any, with `force`) is replaced only when `yes` is
    true; otherwise a DataError lists what would be replaced. Each dataset folder appears
    in the data dir complete or not at all.
    """
    root = Path(data_dir).expanduser()
    manifest = _default_manifest() if manifest is None else manifest
    say = log or (lambda msg: None)
    wanted: list[str] = []
    for n in names:
        c = canonical_name(n)
        if c not in wanted:
            wanted.append(c)
    if not wanted:
        raise DataError("no dataset named: give one or more of the 48 short names")

    results: dict[str, DownloadResult] = {}
    todo: list[str] = []
    replace: list[str] = []
    for row in status(root, wanted, manifest=manifest, cache_file=cache_file):
        if row.state == "complete" and not force:
            results[row.name] = DownloadResult(row.name, "already present")
            continue
        todo.append(row.name)
        replace.extend(u for u in LAYOUTS[row.name].units if (root / u).exists())
    if replace and not yes:
        raise DataError(
            f"these folders in {root} exist but are incomplete and would be replaced: "
            f"{', '.join(replace)}; pass --yes (yes=True) to replace them, or complete them by hand"
        )
    if not todo:
        return [results[n] for n in wanted]

    root.mkdir(parents=True, exist_ok=True)
    downloads = root / _DOWNLOADS
    # datasets waiting for their next candidate archive
    pending: dict[str, int] = {n: 0 for n in todo}
    cache = _DigestCache(cache_file)
    try:
        while pending:
            # the archive that the most pending datasets want next
            choice: dict[str, list[str]] = {}
            for n, idx in pending.items():
                choice.setdefault(LAYOUTS[n].archives[idx], []).append(n)
            fname = max(choice, key=lambda f: len(choice[f]))
            group = choice[fname]
            archive = ARCHIVES[fname]
            url = archive_url(archive)
            downloads.mkdir(exist_ok=True)
            path = downloads / fname
            part = downloads / (fname + ".part")
            if not path.exists():
                say(f"downloading {fname} from {url}")
                try:
                    _fetch(url, part, retries=retries, timeout=timeout, progress=progress, label=fname)
                except _HardError as exc:
                    gone = isinstance(exc.cause, urllib.error.HTTPError) and exc.cause.code in (403, 404, 410)
                    if gone and all(pending[n] + 1 < len(LAYOUTS[n].archives) for n in group):
                        for n in group:  # the server no longer has it: try the next archive
                            pending[n] += 1
                        say(f"{url} is not available ({exc}); trying the next archive")
                        continue
                    raise DataError(_offline_message(archive, url, str(exc), group, root)) from exc.cause
                os.replace(part, path)
            installed, missing = _install_from(archive, path, group, root, manifest, cache, say)
            for n, warnings in installed.items():
                results[n] = DownloadResult(n, "installed", fname, warnings)
                pending.pop(n)
            for n in missing:
                pending[n] += 1
                if pending[n] >= len(LAYOUTS[n].archives):
                    raise DataError(
                        f"none of the archives {', '.join(LAYOUTS[n].archives)} holds the files of {n}; "
                        f"place them by hand under {root} (`compasslite data status` lists them)"
                    )
                say(f"{fname} does not hold {n}; trying {LAYOUTS[n].archives[pending[n]]}")
            # an archive no dataset still needs is removed
            if not any(LAYOUTS[n].archives[i] == fname for n, i in pending.items()):
                path.unlink(missing_ok=True)
    finally:
        cache.save()
        with contextlib.suppress(OSError):
            downloads.rmdir()  # only when empty (no .part left to resume)
    return [results[n] for n in wanted]


def _install_from(
    archive: Archive,
    path: Path,
    group: Sequence[str],
    root: Path,
    manifest: Manifest,
    cache: _DigestCache,
    say: LogFn,
) -> tuple[dict[str, list[str]], list[str]]:
    """Verify `path` and install the datasets of `group` it holds. Returns (installed, not held)."""

    def corrupt(why: str) -> DataError:
        path.unlink(missing_ok=True)  # a damaged download is not kept: the next try starts afresh
        return DataError(
            f"{archive.filename} is damaged ({why}); nothing was installed. Run the command again to re-download it."
        )

    md5_ok = False
    if archive.md5 is not None:
        actual = _md5(path)
        if actual != archive.md5:
            raise corrupt(f"md5 {actual}, OpenCompass publishes {archive.md5}")
        md5_ok = True
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise corrupt(f"not a readable zip: {exc}") from exc
    with zf:
        bad = zf.testzip()
        if bad is not None:
            raise corrupt(f"CRC error in {bad}")
        members = [m for m in zf.namelist() if not m.endswith("/")]
        unsafe = [m for m in members if not _safe_member(m)]
        if unsafe:
            raise corrupt(f"unsafe member path {unsafe[0]!r}")
        held: dict[str, str] = {}
        missing: list[str] = []
        for name in group:
            files = dataset_files(name, root)[0]
            prefix = _zip_prefix(members, files) if files else None
            if prefix is None:
                missing.append(name)
            else:
                held[name] = prefix
        if not held:
            return {}, missing
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=root))
        try:
            warnings: dict[str, list[str]] = {n: [] for n in held}
            for name, prefix in held.items():
                for unit in LAYOUTS[name].units:
                    for member in members:
                        if not member.startswith(f"{prefix}{unit}/"):
                            continue
                        rel = member[len(prefix) :]
                        dest = tmp / "new" / rel
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        with zf.open(member) as src, dest.open("wb") as out:
                            shutil.copyfileobj(src, out, 1 << 20)
                        state = check_file(dest, rel, manifest, cache)
                        if state == "differs":
                            if not md5_ok:
                                raise corrupt(f"{rel} does not match OpenCompass's sha256")
                            warnings[name].append(f"{rel} differs from the reference digest")
            # every dataset verified: move each folder into place
            for name in held:
                for unit in LAYOUTS[name].units:
                    src_dir, dst = tmp / "new" / unit, root / unit
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    if dst.exists():
                        os.replace(dst, tmp / f"old-{unit.replace('/', '_')}")
                    os.replace(src_dir, dst)
                say(f"installed {name} from {archive.filename}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return warnings, missing


def cleanup_partial(data_dir: str | os.PathLike[str]) -> None:
    """Remove leftovers of interrupted unpacking (temporary folders) from a data dir."""
    root = Path(data_dir)
    if root.is_dir():
        for p in root.glob(_TMP_PREFIX + "*"):
            shutil.rmtree(p, ignore_errors=True)
