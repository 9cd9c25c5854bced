"""Running untrusted, model-written Python programs (humaneval, mbpp) in a sandbox.

`run_programs(programs, timeout)` runs each program in its own short-lived process
tree and returns one `Outcome` per program, in input order. Programs run in
parallel on a pool of `os.cpu_count()` threads, each of which starts one process
tree and waits for it.

What one program gets
---------------------
* A process tree of its own, started in a new session (its own process group): a
  supervisor — `/bin/sh` waiting for the runner, with the limits and uid applied by
  util-linux `prlimit`/`setpriv` on the way (or, without those tools, a small
  `python -I -S` supervisor that forks and sets them itself) — and the *runner*
  `python -I -c <runner>` that executes the program. The program's parent is the
  supervisor, never the evaluator, so `os.kill(os.getppid(), SIGKILL)` cannot reach
  the evaluator. At the end the whole process group is killed (SIGKILL), so nothing
  the program started survives it.
* Linux namespaces when the `unshare` tool allows them (root, or unprivileged user
  namespaces): a new network namespace (only a loopback interface that is down: no
  network at all, not even the evaluator's loopback servers) and a new PID namespace
  whose init is the supervisor (the program cannot signal anything outside; when the
  supervisor exits the kernel kills every process left in the namespace, so even a
  process that escaped the process group with `setsid` dies); a private `/proc` too
  when the uid is not dropped. When namespaces are not available the sandbox still
  runs, without network isolation; `isolation().notes` says what is missing.
* When the evaluator runs as root: the runner drops to a dedicated unprivileged uid
  (one per worker slot; no capabilities, no supplementary groups, no_new_privs) before
  it starts. The program then cannot delete or modify the evaluator's files (its
  temporary directory's parent included), cannot read files only root may read,
  cannot read `/proc/<pid>/environ` of other processes, and cannot signal the
  supervisor or the evaluator; without a PID namespace, processes it left behind are
  found by uid and killed. `RLIMIT_NPROC` only works for a non-root uid, so this is
  also what contains a fork bomb when running as root. The runner's interpreter must
  be executable by that uid: the evaluator's own when it is, else a system Python of
  the same minor version with the evaluator's site-packages added to `sys.path`
  (a Python installed under /root, as pyenv does, is out of reach). Without root the
  program runs as the evaluator's user: it can touch that user's files (a limitation
  of unprivileged sandboxes; run as root or in a container for hostile models).
* Resource limits on the runner and all its descendants: `RLIMIT_CPU` (timeout + 1 s,
  then SIGXCPU), `RLIMIT_AS` (address space, default 1 GiB: a memory hog gets a
  MemoryError), `RLIMIT_NPROC` (default 32 processes: a fork bomb is contained),
  `RLIMIT_FSIZE` (64 MiB per written file), no core dumps.
* A fresh temporary working directory (also `HOME` and `TMPDIR`), removed afterwards;
  the program file sits in the directory above it, which the program cannot modify
  when the uid is dropped.
* A minimal environment built from scratch (`PATH`, `HOME`, `TMPDIR`, `LANG`): no
  variable of the evaluator is inherited, so API keys are not visible.
* stdin is `/dev/null`; as in OpenCompass, Python-level `sys.stdin` raises on read and
  `sys.stdout`/`sys.stderr` are swallowed (kept, truncated, in `Outcome.output`
  together with anything written to the file descriptors).
* A wall-clock limit: inside the runner, `timeout` seconds (SIGALRM raises a
  TimeoutException in the program, as OpenCompass's `time_limit` does); outside, the
  evaluator kills the tree `timeout + grace + 1` seconds after start (OpenCompass's
  parent waits `timeout + 1`; the extra second covers interpreter start-up).

Semantics shared with OpenCompass: the program is `exec`uted with an empty globals
dict (so `__name__` is `'builtins'` and `if __name__ == '__main__':` blocks do not
run); no exception -> passed; AssertionError -> wrong_answer (OpenCompass's mbpp
counts it apart; humaneval reports it as `failed: <message>`); the time limit ->
timeout; any other exception (SystemExit included) -> failed. With
`guard="humaneval"` the runner first applies the same `reliability_guard` as
OpenAI's human-eval (destructive os/shutil/subprocess functions replaced by None),
so programs that call them fail exactly as they do in OpenCompass.

The sandbox protects the machine, not the score: a program that knows how this
runner reports results could forge a pass.
"""

from __future__ import annotations

import functools
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["passed", "wrong_answer", "failed", "timeout"]

MARKER = "compasslite-sandbox-runner"
DEFAULT_MEMORY_MB = 1024
DEFAULT_MAX_PROCS = 32
DEFAULT_OUTPUT_LIMIT = 4096
DEFAULT_GRACE = 1.0
_STARTUP_ALLOWANCE = 1.0  # interpreter start-up, outside the program's own time limit
_FILE_SIZE_LIMIT = 64 * 1024 * 1024
_RESULT_LIMIT = 60_000  # result message bytes (below a pipe's 64 KiB capacity)
_UID_BASE = 1_500_000_000  # sandbox uids: base + (evaluator pid % 10^6) * 512 + slot, below 2^31


@dataclass(frozen=True)
class Outcome:
    """How one program ended.

    status: passed | wrong_answer (AssertionError) | failed (any other error, a crash,
    a killed process) | timeout. `error` is the exception type (or what happened to the
    process), `message` the exception text, `output` what the program printed
    (truncated)."""

    status: Status
    error: str = ""
    message: str = ""
    output: str = ""
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def humaneval_result(self) -> str:
        """OpenAI human-eval's result string: `passed`, `timed out` or `failed: <e>`."""
        if self.status == "passed":
            return "passed"
        if self.status == "timeout":
            return "timed out"
        return f"failed: {self.message}"

    @property
    def mbpp_result(self) -> str:
        """OpenCompass's MBPP result key: pass, timeout, failed or wrong_answer."""
        return {"passed": "pass", "timeout": "timeout", "wrong_answer": "wrong_answer"}.get(
            self.status, "failed"
        )


@dataclass(frozen=True)
class Isolation:
    """How programs are isolated on this machine (see `isolation()`)."""

    prefix: tuple[str, ...] = ()  # command prefix, e.g. ("unshare", "--net", ...)
    network: bool = False  # own network namespace
    pid_namespace: bool = False
    drop_uid: bool = False  # runner switches to a dedicated unprivileged uid
    python: str = sys.executable  # the runner's interpreter
    tools: bool = False  # limits and uid set by util-linux prlimit/setpriv under /bin/sh (faster)
    notes: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- child code

# The supervisor: runs in the new session (PID 1 of the PID namespace when there is
# one). It forks the runner with the limits and uid applied, reaps every child until
# the runner has ended, and exits with the runner's status (128 + signal if killed).
_SUPERVISOR = r"""
import json, os, resource, sys
cfg = json.loads(sys.argv[1])
pid = os.fork()
if pid == 0:
    try:
        for name, soft, hard in cfg["limits"]:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        uid = cfg["uid"]
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            if os.getuid() != uid or os.geteuid() != uid:
                raise OSError("could not switch to the sandbox uid")
        os.execv(cfg["argv"][0], cfg["argv"])
    except BaseException as exc:
        try:
            os.write(2, ("sandbox: cannot start the runner: %r\n" % (exc,)).encode())
        finally:
            os._exit(126)
status = 0
while True:
    try:
        done, st = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    except InterruptedError:
        continue
    if done == pid:
        status = st
        break
if os.WIFSIGNALED(status):
    os._exit(128 + os.WTERMSIG(status))
os._exit(os.WEXITSTATUS(status))
"""

# The runner: executes the program like OpenCompass does (empty globals, swallowed I/O,
# SIGALRM time limit), then writes one JSON line to the result descriptor.
_RUNNER = (
    "#"
    + MARKER
    + r"""
import sys
def _compasslite_run():
    import io, json, os, signal
    write, exit_, getpid, dumps = os.write, os._exit, os.getpid, json.dumps
    fd, limit, path, guard, cap = int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
    for extra in json.loads(sys.argv[7]):
        if extra not in sys.path and os.access(extra, os.R_OK | os.X_OK):
            sys.path.append(extra)
    with open(path, encoding="utf-8") as f:
        source = f.read()
    me = getpid()

    class TimeoutException(Exception):
        pass

    class Swallow(io.StringIO):
        def __init__(self):
            super().__init__()
            self.kept = []
            self.size = 0
        def write(self, s):
            if self.size < cap:
                part = str(s)[: cap - self.size]
                self.kept.append(part)
                self.size += len(part)
            return len(s)
        def read(self, *args, **kwargs):
            raise OSError
        def readline(self, *args, **kwargs):
            raise OSError
        def readlines(self, *args, **kwargs):
            raise OSError
        def readable(self, *args, **kwargs):
            return False

    def on_alarm(signum, frame):
        raise TimeoutException("Timed out!")

    if guard == "humaneval":
        _reliability_guard()
    sink = Swallow()
    sys.stdout = sys.stderr = sys.stdin = sink
    status, error, message = "passed", "", ""
    try:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            exec(source, {})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except TimeoutException:
        status, error, message = "timeout", "TimeoutException", "Timed out!"
    except BaseException as exc:
        status = "wrong_answer" if isinstance(exc, AssertionError) else "failed"
        error = type(exc).__name__
        try:
            message = str(exc)
        except BaseException:
            message = "<unprintable exception>"
    if getpid() != me:  # a forked child of the program: only the runner reports
        exit_(1)
    out = "".join(sink.kept)
    report = {"status": status, "error": error[:200], "message": message[:cap], "output": out[:cap]}
    write(fd, (dumps(report) + "\n").encode("utf-8", "replace")[:60000])
    exit_(0)

def _reliability_guard():
    # The same disabling as OpenAI human-eval's reliability_guard (no memory limit).
    import builtins, faulthandler, os, shutil, subprocess
    faulthandler.disable()
    builtins.exit = None
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink",
                 "fchmod", "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown",
                 "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None

_compasslite_run()
"""
)


# --------------------------------------------------------------------------- isolation

_isolation: Isolation | None = None
_isolation_lock = threading.Lock()


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _unshare_prefixes(root: bool, drop_uid: bool) -> list[tuple[tuple[str, ...], bool, bool]]:
    """Candidate `unshare` prefixes, strongest first: (prefix, network, pid namespace).

    A private /proc (`--mount-proc`, which costs a mount namespace) is only needed when
    the program keeps the evaluator's uid: a dropped uid cannot read other processes'
    /proc entries anyway."""
    tool = shutil.which("unshare")
    if not tool:
        return []
    user = () if root else ("--map-root-user",)
    pid = (tool, *user, "--net", "--pid", "--fork")
    out = [] if drop_uid else [((*pid, "--mount-proc"), True, True)]
    return [*out, (pid, True, True), ((tool, *user, "--net"), True, False)]


def _world_executable(path: str) -> bool:
    """Whether any user can run the file: every directory on its real path is searchable
    by others and the file is executable by others."""
    real = os.path.realpath(path)
    try:
        if not os.stat(real).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(real)
        while True:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            if parent == os.path.dirname(parent):
                return True
            parent = os.path.dirname(parent)
    except OSError:
        return False


def _candidate_pythons() -> list[str]:
    """Interpreters for a runner with a dropped uid: the evaluator's own if any user can
    run it, then system interpreters of the same version (a Python installed under /root,
    as pyenv does, is out of reach of an unprivileged uid; the evaluator's site-packages
    are then added to the runner's sys.path)."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    system_path = "/usr/local/bin:/usr/bin:/bin"
    found = [
        sys.executable,
        getattr(sys, "_base_executable", "") or "",
        shutil.which(version, path=system_path) or "",
        shutil.which("python3", path=system_path) or "",
    ]
    unique = list(dict.fromkeys(p for p in found if p))
    return [p for p in unique if _world_executable(p)] + [p for p in unique if not _world_executable(p)]


def isolation() -> Isolation:
    """The strongest isolation that works here, found once per process by running a
    trivial program through each candidate set-up."""
    global _isolation
    with _isolation_lock:
        if _isolation is None:
            _isolation = _probe()
        return _isolation


def _probe() -> Isolation:
    root = _is_root()
    tools = bool(shutil.which("prlimit") and shutil.which("setpriv") and os.path.exists("/bin/sh"))
    check = f"import os, sys\nassert sys.version_info[:2] == {tuple(sys.version_info[:2])!r}\n"
    candidates: list[Isolation] = []
    for drop in (True, False) if root else (False,):
        probe_check = check + ("assert os.getuid() != 0 and os.geteuid() != 0\n" if drop else "")
        for prefix, net, pid in [*_unshare_prefixes(root, drop), ((), False, False)]:
            for python in _candidate_pythons() if drop else [sys.executable]:
                for use_tools in (True, False) if tools else (False,):
                    candidates.append((Isolation(prefix, net, pid, drop, python, use_tools), probe_check))
    chosen = Isolation(tools=False)
    slot = _acquire_slot()
    try:
        for cand, program in candidates:
            if _run_one(program, 5.0, None, cand, slot=slot).status == "passed":
                chosen = cand
                break
    finally:
        _release_slot(slot)
    notes: list[str] = []
    if not chosen.network:
        notes.append(
            "no network namespace (the unshare tool is missing or namespaces are not permitted): "
            "programs can use the network"
        )
    if not chosen.pid_namespace:
        notes.append("no PID namespace: a program can see other processes")
    elif not chosen.drop_uid and "--mount-proc" not in chosen.prefix:
        notes.append("no private /proc: a program can read /proc of the evaluator's user")
    if not chosen.drop_uid:
        notes.append(
            "programs run as the evaluator's user: they can modify that user's files"
            + ("" if root else " (run as root to use a dedicated unprivileged uid)")
        )
    if chosen.python != sys.executable:
        notes.append(f"programs run with {chosen.python}, which the sandbox uid can execute")
    return Isolation(
        chosen.prefix,
        chosen.network,
        chosen.pid_namespace,
        chosen.drop_uid,
        chosen.python,
        chosen.tools,
        tuple(notes),
    )


# --------------------------------------------------------------------------- slots / uids

_slot_lock = threading.Lock()
_slots_in_use: set[int] = set()


def _acquire_slot() -> int:
    with _slot_lock:
        slot = 0
        while slot in _slots_in_use:
            slot += 1
        _slots_in_use.add(slot)
        return slot


def _release_slot(slot: int) -> None:
    with _slot_lock:
        _slots_in_use.discard(slot)


def _slot_uid(slot: int) -> int:
    # Distinct per evaluator process and worker slot, so RLIMIT_NPROC budgets and
    # cleanup never mix two concurrently running programs.
    return _UID_BASE + (os.getpid() % 1_000_000) * 512 + (slot % 512)


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _kill_uid(uid: int) -> None:
    """Kill every process of a sandbox uid (processes that left the process group)."""
    if uid <= 0:
        return
    for _ in range(50):
        pids = _pids_of_uid(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


# --------------------------------------------------------------------------- running


_PRLIMIT = {
    "RLIMIT_CPU": "cpu",
    "RLIMIT_AS": "as",
    "RLIMIT_NPROC": "nproc",
    "RLIMIT_FSIZE": "fsize",
    "RLIMIT_CORE": "core",
}


@functools.lru_cache(maxsize=8)
def _which(tool: str) -> str:
    return shutil.which(tool) or tool


def _site_paths() -> list[str]:
    """The evaluator's site-packages, for a runner that uses another interpreter."""
    import site

    try:
        return [p for p in site.getsitepackages() if os.path.isdir(p)]
    except AttributeError:
        return []


def _env(workdir: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}


def _rmtree(path: str) -> None:
    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


def _read_nonblocking(fd: int, limit: int) -> bytes:
    os.set_blocking(fd, False)
    chunks, size = [], 0
    while size < limit:
        try:
            chunk = os.read(fd, min(65536, limit - size))
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _wait(proc: subprocess.Popen, deadline: float) -> bool:
    """Wait until the process ends or the deadline passes; True if it ended.

    Does not reap the process, so its pid (our process group id) stays reserved
    until after the group has been killed."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready, _, _ = select.select([pidfd], [], [], remaining)
            if ready:
                return True
    finally:
        os.close(pidfd)


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _run_one(
    program: str,
    timeout: float,
    guard: str | None,
    iso: Isolation,
    slot: int,
    memory_mb: int = DEFAULT_MEMORY_MB,
    max_procs: int = DEFAULT_MAX_PROCS,
    grace: float = DEFAULT_GRACE,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> Outcome:
    uid = _slot_uid(slot) if iso.drop_uid else None
    base = tempfile.mkdtemp(prefix="compasslite-sandbox-")
    read_fd = write_fd = -1
    out = None
    start = time.monotonic()
    try:
        os.chmod(base, 0o711)
        program_path = os.path.join(base, "program.py")
        with open(program_path, "w", encoding="utf-8") as f:
            f.write(program)
        os.chmod(program_path, 0o644)
        workdir = os.path.join(base, "work")
        os.mkdir(workdir, 0o700)
        if uid is not None:
            os.chown(workdir, uid, uid)
            if not iso.pid_namespace:
                _kill_uid(uid)  # leftovers of an earlier evaluator with the same pid
        cpu = int(timeout) + 1
        limits = [
            ("RLIMIT_CPU", cpu, cpu + 1),
            ("RLIMIT_AS", memory_mb * 1024 * 1024, memory_mb * 1024 * 1024),
            ("RLIMIT_NPROC", max_procs, max_procs),
            ("RLIMIT_FSIZE", _FILE_SIZE_LIMIT, _FILE_SIZE_LIMIT),
            ("RLIMIT_CORE", 0, 0),
        ]
        read_fd, write_fd = os.pipe()
        extra_paths = [] if iso.python == sys.executable else _site_paths()
        runner = [
            iso.python, "-I", "-c", _RUNNER,
            f"{MARKER}:{os.getpid()}", str(write_fd), repr(float(timeout)), program_path,
            guard or "-", str(output_limit), json.dumps(extra_paths),
        ]  # fmt: skip
        if iso.tools:
            lim = [f"--{_PRLIMIT[name]}={soft}:{hard}" for name, soft, hard in limits]
            drop = []
            if uid is not None:
                drop = [_which("setpriv"), f"--reuid={uid}", f"--regid={uid}",
                        "--clear-groups", "--no-new-privs", "--bounding-set=-all", "--"]  # fmt: skip
            chain = [_which("prlimit"), *lim, "--", *drop, *runner]
            cmd = [*iso.prefix, "/bin/sh", "-c", '"$@" & wait $!', "sh", *chain]
        else:
            cfg = json.dumps({"limits": limits, "uid": uid, "argv": runner})
            cmd = [*iso.prefix, sys.executable, "-I", "-S", "-c", _SUPERVISOR, cfg]
        out = tempfile.TemporaryFile()
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=_env(workdir),
            start_new_session=True,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        write_fd = -1
        ended = _wait(proc, start + timeout + grace + _STARTUP_ALLOWANCE)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        returncode = proc.wait()
        if uid is not None and not iso.pid_namespace:
            _kill_uid(uid)
        duration = time.monotonic() - start
        raw = _read_nonblocking(read_fd, _RESULT_LIMIT)
        out.seek(0)
        printed = out.read(output_limit).decode("utf-8", "replace")
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        if out is not None:
            out.close()
        _rmtree(base)

    report = None
    if raw:
        try:
            report = json.loads(raw.split(b"\n", 1)[0].decode("utf-8", "replace"))
        except ValueError:
            report = None
    if isinstance(report, dict) and report.get("status") in ("passed", "wrong_answer", "failed", "timeout"):
        output = (str(report.get("output", "")) + printed)[:output_limit]
        return Outcome(
            report["status"], str(report.get("error", "")), str(report.get("message", "")), output, duration
        )
    if not ended:
        return Outcome("timeout", "TimeoutException", "Timed out!", printed, duration)
    if returncode < 0:
        what = f"the sandbox supervisor was killed ({_signal_name(-returncode)})"
    elif returncode > 128:
        sig = returncode - 128
        if sig == signal.SIGXCPU:
            return Outcome("timeout", "TimeoutException", "CPU time limit exceeded", printed, duration)
        what = f"the program was killed ({_signal_name(sig)})"
    else:
        what = f"the program ended without a result (exit code {returncode})"
    return Outcome("failed", "ProcessError", what, printed, duration)


_LAUNCH_FAILURES = ("unshare:", "prlimit:", "setpriv:", "sandbox: cannot start")


def _run_with_retry(*args, **kwargs) -> Outcome:
    """One retry when the sandbox itself failed to start (e.g. a namespace limit was hit
    for a moment), so that a launcher hiccup is not scored as the program's failure."""
    outcome = _run_one(*args, **kwargs)
    if outcome.error == "ProcessError" and outcome.output.startswith(_LAUNCH_FAILURES):
        time.sleep(0.05)
        outcome = _run_one(*args, **kwargs)
    return outcome


def run_program(program: str, timeout: float, **kwargs) -> Outcome:
    """Run one program; see run_programs."""
    return run_programs([program], timeout, **kwargs)[0]


def run_programs(
    programs: Sequence[str],
    timeout: float,
    *,
    guard: str | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    max_procs: int = DEFAULT_MAX_PROCS,
    workers: int | None = None,
    grace: float = DEFAULT_GRACE,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    isolation_override: Isolation | None = None,
) -> list[Outcome]:
    """Run each program in the sandbox; one Outcome per program, in input order.

    timeout: the program's own time limit in seconds (OpenCompass: humaneval 3.0,
    mbpp 9.0); the process tree is killed at timeout + grace + 1 s regardless.
    guard: None, or "humaneval" to apply human-eval's reliability_guard first.
    workers: parallel programs (default os.cpu_count()).
    """
    if guard not in (None, "humaneval"):
        raise ValueError(f"unknown guard {guard!r}")
    iso = isolation_override or isolation()
    n = max(1, min(len(programs), workers or os.cpu_count() or 1))

    def job(program: str) -> Outcome:
        slot = _acquire_slot()
        try:
            return _run_with_retry(
                program, timeout, guard, iso, slot, memory_mb, max_procs, grace, output_limit
            )
        finally:
            _release_slot(slot)

    if not programs:
        return []
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="sandbox") as pool:
        return list(pool.map(job, programs))
