"""Running untrusted, model-written Python programs (humaneval, mbpp) in a sandbox.

`run_programs(programs, timeout)` runs each program in its own short-lived process
tree and returns one `Outcome` per program, in input order. Programs run in
parallel on a pool of `default_workers()` (CPUs + 1) threads, each of which starts one process
tree and waits for it. `isolation()` finds, once per process, the strongest set-up
the machine allows; `isolation().describe()` is what a run's manifest records and
`isolation().notes` says what is missing on a weaker machine.

Mechanisms, strongest first
---------------------------
``bwrap`` (bubblewrap, used when installed and permitted)
    A new mount, PID, network, IPC and UTS namespace (and a user namespace when not
    root). The file system is built from nothing: `/usr` (and the `/bin`, `/lib*`
    links), `/etc/ld.so.cache`, `/etc/localtime`, the interpreter's installation and
    the evaluator's site-packages, all read-only; a private `/proc` (only the
    sandbox's own processes); a minimal `/dev`; and private, size-capped tmpfs
    `/tmp` and `/dev/shm` (the program's working directory is inside `/tmp`). The run
    directory, the config file, the evaluator's home and working directory, caches
    and every other host file are simply absent. `--die-with-parent` kills the tree
    when the evaluator dies, even by SIGKILL.
``unshare`` (util-linux, the fallback)
    `setpriv --pdeathsig KILL unshare --mount --pid --fork --mount-proc --kill-child
    --net --ipc --uts`: the same namespaces and private `/proc`; inside, a shell (PID 1)
    mounts size-capped tmpfs over `/tmp` and `/dev/shm` and empty read-only tmpfs over
    the evaluator's home, `/root`, working directory, run directory, cache directory
    and the directories of files named on its command line (the config file), then
    starts the program. The rest of the host file system stays visible (read-only for
    a dropped uid where permissions say so).
``none``
    No namespaces (no `unshare`, or the kernel refuses them): only the process-tree,
    uid and rlimit protections below; a temporary directory on the host, removed
    afterwards. `notes` lists everything that is missing.

In every mechanism
------------------
* The program's parent is a supervisor (bwrap's PID 1, the shell, or a small
  `python -I -S` supervisor), never the evaluator, so `os.kill(os.getppid(), SIGKILL)`
  cannot reach the evaluator. At the end the whole tree is killed.
* When the evaluator runs as root the runner drops to a dedicated unprivileged uid
  (one per worker slot; no capabilities, no supplementary groups, no_new_privs), via
  util-linux `prlimit`/`setpriv` (or the python supervisor without them).
* Resource limits on the runner and all its descendants: `RLIMIT_CPU` (timeout + 1 s),
  `RLIMIT_AS` (default 1 GiB per process: a memory hog gets a MemoryError),
  `RLIMIT_NPROC` (32 processes), `RLIMIT_FSIZE` (64 MiB per file), no core dumps.
* One memory limit for the whole process tree when a cgroup memory controller can be
  used: cgroup v2 (a child of the evaluator's cgroup with the memory controller, e.g.
  a delegated subtree) or, on hybrid machines, the cgroup v1 memory hierarchy; each
  worker slot gets a cgroup with `memory.max` (v1: `memory.limit_in_bytes`) of the same
  1 GiB, `pids.max` where available, and everything left in it is killed after each
  program. Otherwise the documented fallback: the per-process `RLIMIT_AS` times at most
  `RLIMIT_NPROC` processes (`memory_limit: per-process` in the manifest).
* A minimal environment built from scratch (`PATH`, `HOME`, `TMPDIR`, `LANG`); the
  program text arrives on an inherited, already unlinked file, so nothing of it stays
  on disk.
* stdin is `/dev/null`; as in OpenCompass, Python-level `sys.stdin` raises on read and
  `sys.stdout`/`sys.stderr` are swallowed (kept, truncated, in `Outcome.output`).
* A wall-clock limit: inside the runner, `timeout` seconds (SIGALRM raises a
  TimeoutException in the program, as OpenCompass's `time_limit` does); outside, the
  evaluator kills the tree `timeout + grace + 1` seconds after start.
* Everything the program prints or raises passes through the secret redactor of the
  surrounding `scoring(redact=...)` block (the runner sets it) before it is returned.

Semantics shared with OpenCompass: the program is `exec`uted with an empty globals
dict (so `__name__` is `'builtins'` and `if __name__ == '__main__':` blocks do not
run); no exception -> passed; AssertionError -> wrong_answer (OpenCompass's mbpp
counts it apart; humaneval reports it as `failed: <message>`); the time limit ->
timeout; any other exception (SystemExit included) -> failed. With
`guard="humaneval"` the runner first applies the same `reliability_guard` as
OpenAI's human-eval (destructive os/shutil/subprocess functions replaced by None),
so programs that call them fail exactly as they do in OpenCompass.

The sandbox protects the machine and the secrets, not the score: a program that knows
how this runner reports results could forge a pass (as in OpenCompass).
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import functools
import json
import os
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "wrong_answer", "failed", "timeout"]

MARKER = "compasslite-sandbox-runner"
DEFAULT_MEMORY_MB = 1024
DEFAULT_MAX_PROCS = 32
DEFAULT_OUTPUT_LIMIT = 4096
DEFAULT_GRACE = 1.0
TMPFS_MB = 64  # private /tmp and /dev/shm, each
_STARTUP_ALLOWANCE = 1.0  # interpreter start-up, outside the program's own time limit
_FILE_SIZE_LIMIT = 64 * 1024 * 1024
_RESULT_LIMIT = 60_000  # result message bytes (below a pipe's 64 KiB capacity)
_UID_BASE = 1_500_000_000  # sandbox uids: base + (evaluator pid % 10^6) * 512 + slot, below 2^31
_CGROUP_PREFIX = "compasslite-sandbox-"
_TEMP_PREFIX = "compasslite-sandbox-"  # + evaluator pid + "-": host temp dirs of the weakest set-ups


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


Mechanism = Literal["bwrap", "unshare", "none"]


@dataclass(frozen=True)
class Isolation:
    """How programs are isolated on this machine (see `isolation()`).

    `mechanism` "bwrap" and "unshare" give the full set-up described in the module
    docstring; "none" with a non-empty `prefix` is a partial `unshare` (network and
    perhaps PID namespace only, no mount namespace)."""

    prefix: tuple[str, ...] = ()  # partial set-ups: command prefix, e.g. ("unshare", "--net")
    network: bool = False  # own network namespace
    pid_namespace: bool = False
    drop_uid: bool = False  # runner switches to a dedicated unprivileged uid
    python: str = sys.executable  # the runner's interpreter
    tools: bool = False  # limits and uid set by util-linux prlimit/setpriv (faster)
    notes: tuple[str, ...] = field(default_factory=tuple)
    mechanism: Mechanism = "none"
    cgroup: str = ""  # base cgroup directory of this evaluator ("" = per-process limits only)
    cgroup_version: int = 0
    parent_death: bool = False  # every process of a program dies when the evaluator dies

    @property
    def private_proc(self) -> bool:
        return self.mechanism in ("bwrap", "unshare")

    @property
    def private_tmp(self) -> bool:
        return self.mechanism in ("bwrap", "unshare")

    @property
    def memory_limit(self) -> str:
        return "cgroup" if self.cgroup else "per-process"

    def describe(self) -> dict[str, Any]:
        """What a run's manifest records about the sandbox."""
        return {
            "mechanism": self.mechanism if self.mechanism != "none" or not self.prefix else "unshare-partial",
            "pid_namespace": self.pid_namespace,
            "private_proc": self.private_proc,
            "network": "none" if self.network else "host",
            "private_tmp": self.private_tmp,
            "host_files": {"bwrap": "absent", "unshare": "hidden"}.get(self.mechanism, "visible"),
            "dropped_uid": self.drop_uid,
            "parent_death": self.parent_death,
            "memory_limit": self.memory_limit,
            "cgroup_version": self.cgroup_version or None,
            "memory_mb": DEFAULT_MEMORY_MB,
            "max_procs": DEFAULT_MAX_PROCS,
            "tmpfs_mb": TMPFS_MB if self.private_tmp else None,
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- scoring context


@dataclass(frozen=True)
class ScoringContext:
    """Set by the runner around scoring: how to redact secrets from what programs print
    or raise, and host directories the `unshare` fallback should hide (the run dir)."""

    redact: Callable[[str], str] | None = None
    hidden: tuple[str, ...] = ()
    # Runs the programs somewhere else (ray_runner.run_programs: on a Ray cluster's workers,
    # each in its own machine's sandbox); None runs them here.
    executor: Callable[..., list[Outcome]] | None = None


_SCORING: ContextVar[ScoringContext | None] = ContextVar("sandbox_scoring", default=None)


@contextlib.contextmanager
def scoring(
    redact: Callable[[str], str] | None = None,
    hidden: Iterable[str] = (),
    executor: Callable[..., list[Outcome]] | None = None,
) -> Iterator[None]:
    """Programs run inside the block have their messages and output redacted by `redact`,
    (with the `unshare` mechanism) cannot see the `hidden` directories, and run through
    `executor` when one is given."""
    token = _SCORING.set(ScoringContext(redact, tuple(str(p) for p in hidden), executor))
    try:
        yield
    finally:
        _SCORING.reset(token)


# --------------------------------------------------------------------------- child code

# The supervisor (when util-linux prlimit/setpriv are missing): runs in the new session. It forks the runner with the limits and uid applied, reaps every child until
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
# SIGALRM time limit), then writes one line to the result descriptor: the repr of a dict of
# strings (read back with ast.literal_eval). The runner imports neither json nor site
# (`-I -S`): together they cost more than the interpreter's own start-up.
_RUNNER = (
    "#"
    + MARKER
    + r"""
import sys
def _compasslite_run():
    import io, os, signal
    write, exit_, getpid = os.write, os._exit, os.getpid
    fd, limit, source_fd, guard, cap = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    for extra in sys.argv[7].split("\n") if sys.argv[7] else ():
        if extra not in sys.path and os.access(extra, os.R_OK | os.X_OK):
            sys.path.append(extra)
    with open(source_fd, encoding="utf-8", closefd=True) as f:
        source = f.read()
    work = os.environ["HOME"]  # a fresh directory: inside the private /tmp, or made by the evaluator
    os.makedirs(work, mode=0o700, exist_ok=True)
    os.chdir(work)
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
    write(fd, (repr(report) + "\n").encode("utf-8", "replace")[:60000])
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


def _partial_unshare_prefixes(root: bool) -> list[tuple[tuple[str, ...], bool, bool]]:
    """Weaker `unshare` prefixes without a mount namespace, for kernels that refuse one:
    (prefix, network, pid namespace)."""
    tool = shutil.which("unshare")
    if not tool:
        return []
    user = () if root else ("--map-root-user",)
    return [((tool, *user, "--net", "--pid", "--fork"), True, True), ((tool, *user, "--net"), True, False)]


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
    """Interpreters for a runner with a dropped uid on the host file system: the
    evaluator's own if any user can run it, then system interpreters of the same version
    (a Python installed under /root, as pyenv does, is out of reach of an unprivileged
    uid; the evaluator's site-packages are then added to the runner's sys.path)."""
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


def _bwrap_python() -> str:
    """The interpreter bwrap runs: the real file (not a venv's symlink), with the evaluator's
    site-packages added to sys.path. An interpreter installed under a home directory (pyenv
    under /root) would bring part of that home into the sandbox, so a system interpreter of
    the same version is preferred then."""
    own = os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)
    homes = {os.path.realpath(os.path.expanduser("~")), "/root", "/home"}
    if not any(_is_within(own, h) for h in homes if h != "/"):
        return own
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    system = shutil.which(version, path="/usr/bin:/usr/local/bin:/bin")
    return os.path.realpath(system) if system else own


# What every probe program checks: the right interpreter, the dropped uid; in the full
# mechanisms a private /proc (no pid of the host) and a writable private /tmp.
_PROBE = """import os, sys
assert sys.version_info[:2] == {version!r}
if {drop!r}:
    assert os.getuid() != 0 and os.geteuid() != 0
if {private!r}:
    pids = [p for p in os.listdir('/proc') if p.isdigit()]
    assert len(pids) < 8, pids
    open('/tmp/probe', 'w').close()
"""


MECHANISM_ENV = "COMPASSLITE_SANDBOX"  # bwrap | unshare | none: use at most this mechanism


def _probe() -> Isolation:
    root = _is_root()
    ceiling = os.environ.get(MECHANISM_ENV, "").strip().lower()
    allowed = {"bwrap": ("bwrap", "unshare", "none"), "unshare": ("unshare", "none"), "none": ("none",)}.get(
        ceiling, ("bwrap", "unshare", "none")
    )
    tools = bool(shutil.which("prlimit") and shutil.which("setpriv") and os.path.exists("/bin/sh"))
    version = tuple(sys.version_info[:2])
    bwrap = shutil.which("bwrap") if "bwrap" in allowed else None
    unshare = shutil.which("unshare") if "unshare" in allowed else None
    candidates: list[Isolation] = []
    for drop in (True, False) if root else (False,):
        if bwrap:
            for use_tools in (True, False) if tools else (False,):
                candidates.append(Isolation((), True, True, drop, _bwrap_python(), use_tools, mechanism="bwrap"))
        if unshare and shutil.which("setpriv") and os.path.exists("/bin/sh"):
            for python in _candidate_pythons() if drop else [sys.executable]:
                for use_tools in (True, False) if tools else (False,):
                    candidates.append(Isolation((), True, True, drop, python, use_tools, mechanism="unshare"))
        partial = _partial_unshare_prefixes(root) if unshare else []
        for prefix, net, pid in [*partial, ((), False, False)]:
            for python in _candidate_pythons() if drop else [sys.executable]:
                for use_tools in (True, False) if tools else (False,):
                    candidates.append(Isolation(prefix, net, pid, drop, python, use_tools))
    chosen = Isolation(tools=False)
    slot = _acquire_slot()
    try:
        for cand in candidates:
            program = _PROBE.format(version=version, drop=cand.drop_uid, private=cand.private_proc)
            if _run_one(program, 5.0, None, cand, slot=slot).status == "passed":
                chosen = cand
                break
    finally:
        _release_slot(slot)
    cgroup, cgroup_version = _cgroup_base()
    _remove_stale_tempdirs()
    parent_death = chosen.mechanism in ("bwrap", "unshare")
    notes: list[str] = []
    if ceiling in allowed and ceiling != "bwrap":
        notes.append(f"{MECHANISM_ENV}={ceiling} limits the sandbox to the {ceiling!r} mechanism")
    elif chosen.mechanism != "bwrap":
        notes.append(
            "bubblewrap is not "
            + ("permitted here" if shutil.which("bwrap") else "installed (apt-get install bubblewrap)")
        )
    if chosen.mechanism == "unshare":
        notes.append(
            "util-linux unshare hides only the evaluator's home, /root, working directory, run directory, "
            "cache and config file directory; other host files stay readable as permissions allow"
        )
    if not chosen.network:
        notes.append(
            "no network namespace (the unshare tool is missing or namespaces are not permitted): "
            "programs can use the network"
        )
    if not chosen.pid_namespace:
        notes.append("no PID namespace: a program can see other processes")
    if not chosen.private_proc:
        notes.append(
            "no private /proc: a program can list the evaluator's processes and read their command lines"
            + ("" if chosen.drop_uid else " and environments")
        )
        notes.append(
            "the evaluator's files (run directory, config file, home, working directory) are readable "
            "as far as file permissions allow"
        )
        notes.append(
            "no private /tmp or /dev/shm: a program can fill them (RLIMIT_FSIZE caps each file at 64 MiB)"
        )
    if not parent_death:
        notes.append("processes a program starts may outlive an evaluator killed with SIGKILL")
    if not cgroup:
        notes.append(
            "no usable cgroup memory controller (a cgroup v2 subtree with the memory controller, or the "
            f"v1 memory hierarchy): memory is limited per process (RLIMIT_AS {DEFAULT_MEMORY_MB} MiB each, "
            f"at most RLIMIT_NPROC {DEFAULT_MAX_PROCS} processes)"
        )
    if not chosen.drop_uid:
        notes.append(
            "programs run as the evaluator's user"
            + {"bwrap": "", "unshare": ": they can modify that user's files outside the hidden directories"}.get(
                chosen.mechanism, ": they can modify that user's files"
            )
            + ("" if root else " (run as root to use a dedicated unprivileged uid)")
        )
    if chosen.python != sys.executable and chosen.mechanism != "bwrap":
        notes.append(f"programs run with {chosen.python}, which the sandbox uid can execute")
    return Isolation(
        chosen.prefix,
        chosen.network,
        chosen.pid_namespace,
        chosen.drop_uid,
        chosen.python,
        chosen.tools,
        tuple(notes),
        chosen.mechanism,
        cgroup,
        cgroup_version,
        parent_death,
    )


def _remove_stale_tempdirs() -> None:
    """Host temporary directories of evaluators that were killed (without a private /tmp)."""
    top = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(top) if n.startswith(_TEMP_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(_TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                if os.stat(os.path.join(top, name)).st_uid == os.geteuid():
                    _rmtree(os.path.join(top, name))


# --------------------------------------------------------------------------- cgroups
#
# One cgroup per evaluator process (compasslite-sandbox-<pid>, a child of the evaluator's
# own cgroup) with one child per worker slot; a program's launcher joins its slot's cgroup
# (`echo 0 > cgroup.procs`) before anything of the program starts, so every process of the
# program is in it. Removed at exit; those of evaluators that died are removed by the next.


def _mounts() -> list[tuple[str, str, set[str]]]:
    out = []
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 4:
                    out.append((parts[1], parts[2], set(parts[3].split(","))))
    except OSError:
        pass
    return out


def _own_cgroups() -> dict[str, str]:
    """Controller (or "" for v2) -> this process's cgroup path."""
    out: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(",") if controllers else [""]:
                    out[c] = path
    except (OSError, ValueError):
        pass
    return out


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w", encoding="ascii") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_cgroup_tree(path: str) -> None:
    """Kill whatever is left in a sandbox cgroup tree and remove it (best effort)."""
    try:
        children = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for child in children:
        _remove_cgroup_tree(child)
    _cgroup_kill(path)
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


def _remove_stale_cgroups(parent: str) -> None:
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(_CGROUP_PREFIX)]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(_CGROUP_PREFIX) :]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            _remove_cgroup_tree(entry.path)


def _cgroup_base() -> tuple[str, int]:
    """(this evaluator's base cgroup directory, cgroup version), or ("", 0)."""
    own = _own_cgroups()
    mounts = _mounts()
    name = f"{_CGROUP_PREFIX}{os.getpid()}"
    v2 = [m for m, fstype, _ in mounts if fstype == "cgroup2"]
    if v2 and "" in own:
        parent = os.path.normpath(v2[0] + "/" + own[""])
        base = os.path.join(parent, name)
        _remove_stale_cgroups(parent)
        with contextlib.suppress(OSError):
            os.mkdir(base)
            if "memory" in _read(os.path.join(base, "cgroup.controllers")).split():
                wanted = [c for c in ("memory", "pids") if c in _read(os.path.join(base, "cgroup.controllers")).split()]
                if _write(os.path.join(base, "cgroup.subtree_control"), " ".join("+" + c for c in wanted)):
                    atexit.register(_remove_cgroup_tree, base)
                    return base, 2
            os.rmdir(base)
    v1 = [m for m, fstype, opts in mounts if fstype == "cgroup" and "memory" in opts]
    if v1 and "memory" in own:
        parent = os.path.normpath(v1[0] + "/" + own["memory"])
        base = os.path.join(parent, name)
        _remove_stale_cgroups(parent)
        with contextlib.suppress(OSError):
            os.mkdir(base)
            if os.path.exists(os.path.join(base, "memory.limit_in_bytes")):
                atexit.register(_remove_cgroup_tree, base)
                return base, 1
            os.rmdir(base)
    return "", 0


_slot_cgroups: dict[tuple[str, int], int] = {}  # (base, slot) -> memory limit set
_slot_cgroup_lock = threading.Lock()


def _slot_cgroup(iso: Isolation, slot: int, memory_mb: int, max_procs: int) -> str:
    """The slot's cgroup with the given limits ("" if it cannot be set up)."""
    if not iso.cgroup:
        return ""
    path = os.path.join(iso.cgroup, f"slot{slot}")
    limit = memory_mb * 1024 * 1024
    with _slot_cgroup_lock:
        if _slot_cgroups.get((iso.cgroup, slot)) == limit and os.path.isdir(path):
            return path
        with contextlib.suppress(FileExistsError):
            try:
                os.mkdir(path)
            except OSError:
                return ""
        if iso.cgroup_version == 2:
            ok = _write(os.path.join(path, "memory.max"), str(limit))
            _write(os.path.join(path, "memory.swap.max"), "0")
            _write(os.path.join(path, "pids.max"), str(max_procs + 8))  # + the launchers
        else:
            # memsw (memory + swap) must stay >= the memory limit: raise it first if lowering.
            memsw = os.path.join(path, "memory.memsw.limit_in_bytes")
            ok = _write(os.path.join(path, "memory.limit_in_bytes"), str(limit))
            if os.path.exists(memsw):
                _write(memsw, str(limit))
            if not ok:  # lowering below the current memsw limit: memsw first
                _write(memsw, str(limit))
                ok = _write(os.path.join(path, "memory.limit_in_bytes"), str(limit))
        if not ok:
            return ""
        _slot_cgroups[(iso.cgroup, slot)] = limit
        return path


def _oom_kills(cgroup: str, version: int) -> int:
    text = _read(os.path.join(cgroup, "memory.events" if version == 2 else "memory.oom_control"))
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0


def _cgroup_kill(cgroup: str) -> None:
    """Kill every process left in a cgroup."""
    if _write(os.path.join(cgroup, "cgroup.kill"), "1"):
        return
    for _ in range(50):
        pids = [int(p) for p in _read(os.path.join(cgroup, "cgroup.procs")).split() if p.isdigit()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


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


# --------------------------------------------------------------------------- commands


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


def _site_paths(outside_homes: bool = False) -> list[str]:
    """The evaluator's site-packages, for a runner that uses another interpreter; with
    `outside_homes`, none under a home directory (bwrap would bring it into the sandbox)."""
    import site

    try:
        paths = [p for p in site.getsitepackages() if os.path.isdir(p)]
    except AttributeError:
        return []
    if outside_homes:
        homes = [os.path.realpath(os.path.expanduser("~")), "/root", "/home"]
        paths = [p for p in paths if not any(_is_within(os.path.realpath(p), h) for h in homes if h != "/")]
    return paths


def _env(workdir: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}


def _inner_command(iso: Isolation, runner: list[str], limits: list[tuple[str, int, int]], uid: int | None) -> list[str]:
    """Limits and uid applied, then the runner: util-linux tools, else the supervisor."""
    if iso.tools:
        lim = [f"--{_PRLIMIT[name]}={soft}:{hard}" for name, soft, hard in limits]
        drop: list[str] = []
        if uid is not None:
            drop = [_which("setpriv"), f"--reuid={uid}", f"--regid={uid}",
                    "--clear-groups", "--no-new-privs", "--bounding-set=-all", "--"]  # fmt: skip
        return [_which("prlimit"), *lim, "--", *drop, *runner]
    cfg = json.dumps({"limits": limits, "uid": uid, "argv": runner})
    return [iso.python, "-I", "-S", "-c", _SUPERVISOR, cfg]


@functools.lru_cache(maxsize=4)
def _bwrap_filesystem(python: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """bwrap arguments building the sandbox's read-only file system: /usr and its links,
    the interpreter's installation and the given directories, nothing else of the host."""
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(name):
            args += ["--ro-bind", name, name]
    prefixes = {os.path.dirname(os.path.dirname(python))}
    if python == os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable):
        prefixes |= {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    binds = sorted({*prefixes, *(os.path.realpath(p) for p in extra)})
    covered: list[str] = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"]
    made: set[str] = set()
    for path in binds:
        if any(path == c or path.startswith(c + "/") for c in covered) or not os.path.isdir(path):
            continue
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            parent = "/" + "/".join(parts[:i])
            if parent not in made and not any(parent == c or parent.startswith(c + "/") for c in covered):
                args += ["--perms", "0755", "--dir", parent]  # searchable by the dropped uid
                made.add(parent)
        args += ["--ro-bind", path, path]
        covered.append(path)
    return tuple(args)


def _bwrap_command(iso: Isolation, inner: list[str], extra: list[str]) -> list[str]:
    if _is_root():
        # No user namespace as root: it would map the sandbox uid to root outside.
        ns = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        if not iso.drop_uid:  # bwrap keeps root's capabilities; setpriv needs them to drop the uid
            ns += ["--cap-drop", "ALL"]
    else:
        ns = ["--unshare-all"]
    size = str(TMPFS_MB * 1024 * 1024)
    return [
        _which("bwrap"), *ns, "--die-with-parent", "--new-session",
        *_bwrap_filesystem(iso.python, tuple(extra)),
        "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
        "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
        "--chdir", "/tmp", "--", *inner,
    ]  # fmt: skip


# PID 1 of the `unshare` fallback: hide the host directories, give /tmp and /dev/shm
# private size-capped tmpfs, then start the program and wait for it (PID 1's exit
# kills every process left in the namespace).
_UNSHARE_SETUP = r"""
size=$1; shift
while [ "$1" != "--" ]; do
  mount -t tmpfs -o ro,size=4k,mode=0755,nosuid,nodev tmpfs "$1" || { echo "sandbox: cannot start: hide $1" >&2; exit 125; }
  shift
done
shift
for d in /tmp /dev/shm; do
  [ -d "$d" ] || continue
  mount -t tmpfs -o "size=$size,mode=1777,nosuid,nodev" tmpfs "$d" || { echo "sandbox: cannot start: tmpfs $d" >&2; exit 125; }
done
"$@" &
wait $!
"""


def _is_within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _hidden_dirs(python: str, extra: Iterable[str]) -> list[str]:
    """Host directories the `unshare` fallback covers: the evaluator's home and working
    directory, /root, its cache, the directories of files named on its command line (a
    config file), and the scoring context's (the run directory). A directory holding
    the runner's interpreter stays visible, as does anything under /tmp (covered anyway)."""
    found = [os.getcwd(), os.path.expanduser("~"), "/root", *extra]
    with contextlib.suppress(Exception):
        import platformdirs

        found.append(platformdirs.user_cache_dir("compasslite"))
    for arg in sys.argv[1:]:
        with contextlib.suppress(OSError, ValueError):
            if len(arg) < 4096 and os.path.isfile(arg):
                found.append(os.path.dirname(os.path.abspath(arg)))
    keep = [python, os.path.realpath(python), "/usr", "/bin", "/lib", "/lib64", "/etc", "/dev", "/proc", "/sys"]
    dirs: list[str] = []
    for path in sorted({os.path.realpath(p) for p in found if p}, key=len):
        if not os.path.isdir(path) or path == "/" or _is_within(path, "/tmp") or _is_within(path, "/dev"):
            continue
        if any(_is_within(k, path) for k in keep) or any(_is_within(path, d) for d in dirs):
            continue
        dirs.append(path)
    return dirs


def _unshare_command(iso: Isolation, inner: list[str], hidden: list[str]) -> list[str]:
    user = () if _is_root() else ("--map-root-user",)
    return [
        _which("setpriv"), "--pdeathsig", "KILL", "--",
        _which("unshare"), *user, "--mount", "--pid", "--fork", "--mount-proc", "--kill-child",
        "--net", "--ipc", "--uts", "--",
        "/bin/sh", "-c", _UNSHARE_SETUP, "sh", f"{TMPFS_MB}m", *hidden, "--", *inner,
    ]  # fmt: skip


# Joins the slot's cgroup before anything of the program exists, then becomes the launcher.
_JOIN_CGROUP = 'echo 0 > "$0" || { echo "sandbox: cannot start: cgroup $0" >&2; exit 125; }; exec "$@"'


# --------------------------------------------------------------------------- running


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
    hidden: Sequence[str] = (),
) -> Outcome:
    uid = _slot_uid(slot) if iso.drop_uid else None
    private = iso.mechanism in ("bwrap", "unshare")
    base = None if private else tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-")
    read_fd = write_fd = -1
    out = source = None
    start = time.monotonic()
    cgroup = ""
    oom_before = 0
    try:
        # The program reaches the runner as an inherited descriptor of an unlinked file.
        source = tempfile.TemporaryFile()
        source.write(program.encode("utf-8", "surrogatepass"))
        source.flush()
        source.seek(0)
        if base is None:
            workdir = f"/tmp/compasslite-sandbox-{secrets.token_hex(6)}/work"  # inside the private /tmp
        else:
            os.chmod(base, 0o711)
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
        extra_paths = [] if iso.python == sys.executable else _site_paths(iso.mechanism == "bwrap")
        runner = [
            iso.python, "-I", "-S", "-c", _RUNNER,
            f"{MARKER}:{os.getpid()}", str(write_fd), repr(float(timeout)), str(source.fileno()),
            guard or "-", str(output_limit), "\n".join(extra_paths),
        ]  # fmt: skip
        inner = _inner_command(iso, runner, limits, uid)
        if iso.mechanism == "bwrap":
            cmd = _bwrap_command(iso, inner, extra_paths)
        elif iso.mechanism == "unshare":
            cmd = _unshare_command(iso, inner, _hidden_dirs(iso.python, hidden))
        elif iso.tools:
            cmd = [*iso.prefix, "/bin/sh", "-c", '"$@" & wait $!', "sh", *inner]
        else:
            cmd = [*iso.prefix, *inner]
        cgroup = _slot_cgroup(iso, slot, memory_mb, max_procs)
        if cgroup:
            oom_before = _oom_kills(cgroup, iso.cgroup_version)
            cmd = ["/bin/sh", "-c", _JOIN_CGROUP, os.path.join(cgroup, "cgroup.procs"), *cmd]
        out = tempfile.TemporaryFile()
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir if base is not None else "/",
            env=_env(workdir),
            start_new_session=True,
            pass_fds=(write_fd, source.fileno()),
        )
        os.close(write_fd)
        write_fd = -1
        source.close()
        source = None
        ended = _wait(proc, start + timeout + grace + _STARTUP_ALLOWANCE)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        returncode = proc.wait()
        if cgroup:
            _cgroup_kill(cgroup)
        if uid is not None and not iso.pid_namespace:
            _kill_uid(uid)
        duration = time.monotonic() - start
        oom = bool(cgroup) and _oom_kills(cgroup, iso.cgroup_version) > oom_before
        raw = _read_nonblocking(read_fd, _RESULT_LIMIT)
        out.seek(0)
        printed = out.read(output_limit).decode("utf-8", "replace")
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        for f in (out, source):
            if f is not None:
                f.close()
        if base is not None:
            _rmtree(base)

    report = None
    if raw:
        try:
            report = ast.literal_eval(raw.split(b"\n", 1)[0].decode("utf-8", "replace"))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            report = None
    if isinstance(report, dict) and report.get("status") in ("passed", "wrong_answer", "failed", "timeout"):
        output = (str(report.get("output", "")) + printed)[:output_limit]
        return Outcome(
            report["status"], str(report.get("error", "")), str(report.get("message", "")), output, duration
        )
    if not ended:
        return Outcome("timeout", "TimeoutException", "Timed out!", printed, duration)
    if oom:
        what = f"the program's processes exceeded the sandbox memory limit ({memory_mb} MiB in all) and were killed"
        return Outcome("failed", "MemoryError", what, printed, duration)
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


_LAUNCH_FAILURES = ("unshare:", "prlimit:", "setpriv:", "bwrap:", "sandbox: cannot start")


def _run_with_retry(*args, **kwargs) -> Outcome:
    """One retry when the sandbox itself failed to start (e.g. a namespace limit was hit
    for a moment), so that a launcher hiccup is not scored as the program's failure."""
    outcome = _run_one(*args, **kwargs)
    if outcome.error == "ProcessError" and outcome.output.startswith(_LAUNCH_FAILURES):
        time.sleep(0.05)
        outcome = _run_one(*args, **kwargs)
    return outcome


def _redacted(outcome: Outcome, redact: Callable[[str], str] | None) -> Outcome:
    if redact is None:
        return outcome
    return Outcome(
        outcome.status, redact(outcome.error), redact(outcome.message), redact(outcome.output), outcome.duration
    )


def default_workers() -> int:
    """Programs run at once: one more than the CPUs. Part of each program's wall time is the
    kernel setting up its namespaces and cgroup, when it uses no CPU (164 HumanEval programs on
    2 CPUs: 47 programs/s with 2 at once, 59 with 3, 60 with 4). OpenCompass runs 4 at once
    whatever the machine; its time limits are wall-clock, as ours."""
    return (os.cpu_count() or 1) + 1


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
    workers: parallel programs (default: default_workers()).
    Inside `scoring(redact=...)`, messages and output are redacted.
    """
    if guard not in (None, "humaneval"):
        raise ValueError(f"unknown guard {guard!r}")
    iso = isolation_override or isolation()
    context = _SCORING.get() or ScoringContext()  # read here: the pool's threads do not inherit context variables
    if context.executor is not None and isolation_override is None:
        outcomes = context.executor(
            programs, timeout, guard=guard, memory_mb=memory_mb, max_procs=max_procs, grace=grace,
            output_limit=output_limit,
        )  # fmt: skip
        return [_redacted(o, context.redact) for o in outcomes]
    n = max(1, min(len(programs), workers or default_workers()))

    def job(program: str) -> Outcome:
        slot = _acquire_slot()
        try:
            outcome = _run_with_retry(
                program, timeout, guard, iso, slot, memory_mb, max_procs, grace, output_limit, context.hidden
            )
        finally:
            _release_slot(slot)
        return _redacted(outcome, context.redact)

    if not programs:
        return []
    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="sandbox")
    try:
        return list(pool.map(job, programs))
    finally:
        # On Ctrl-C the programs not yet started are dropped rather than run first (a `with`
        # block would wait for every queued one); those running end within their time limit.
        pool.shutdown(wait=True, cancel_futures=True)
