"""The code sandbox: outcomes as OpenCompass classifies them, and containment of hostile programs."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

import pytest

from compasslite import sandbox
from compasslite.sandbox import Isolation, Outcome, run_programs

TIMEOUT = 2.0
# The evaluator kills a program's tree at timeout + grace (1 s) + start-up allowance (1 s);
# allow a little scheduling slack on a loaded 2-core machine.
DEADLINE = TIMEOUT + 2.0 + 1.5
SHORT = 1.0  # for tests where the length of the limit does not matter
SHORT_DEADLINE = SHORT + 2.0 + 1.5


def _stray_runners() -> list[int]:
    """Processes still running a sandbox runner started by this test process."""
    tag = f"{sandbox.MARKER}:{os.getpid()}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if tag in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.mark.parametrize(
    ("program", "status", "error", "message", "humaneval", "mbpp"),
    [
        ("x = 1\nassert x == 1\n", "passed", "", "", "passed", "pass"),
        ("assert 1 == 2, 'nope'\n", "wrong_answer", "AssertionError", "nope", "failed: nope", "wrong_answer"),
        ("assert False\n", "wrong_answer", "AssertionError", "", "failed: ", "wrong_answer"),
        ("raise ValueError('bad')\n", "failed", "ValueError", "bad", "failed: bad", "failed"),
        ("def f(:\n", "failed", "SyntaxError", "invalid syntax (<string>, line 1)", None, "failed"),
        ("import sys\nsys.exit(0)\n", "failed", "SystemExit", "0", "failed: 0", "failed"),
        ("input()\n", "failed", "OSError", "", "failed: ", "failed"),  # stdin raises, as in OpenCompass
        ("while True:\n    pass\n", "timeout", "TimeoutException", "Timed out!", "timed out", "timeout"),
        (
            "import time\ntime.sleep(60)\n",
            "timeout",
            "TimeoutException",
            "Timed out!",
            "timed out",
            "timeout",
        ),
        # exec with empty globals: __name__ is 'builtins', so a main block does not run
        ("if __name__ == '__main__':\n    raise SystemExit(1)\n", "passed", "", "", "passed", "pass"),
        ("import os\nos._exit(0)\n", "failed", "ProcessError", None, None, "failed"),
    ],
)
def test_outcome_classification(program, status, error, message, humaneval, mbpp):
    (out,) = run_programs([program], SHORT)
    assert (out.status, out.error) == (status, error)
    if message is not None:
        assert out.message == message
    if humaneval is not None:
        assert out.humaneval_result == humaneval
    assert out.mbpp_result == mbpp
    assert out.duration < SHORT_DEADLINE


def test_order_output_capture_and_truncation():
    programs = [f"print('sample {i}')\nassert {i} % 2 == 0\n" for i in range(6)]
    programs.append("print('x' * 100000)\nimport os\nos.write(1, b'raw')\n")
    outs = run_programs(programs, TIMEOUT, output_limit=1000)
    assert [o.status for o in outs[:6]] == ["passed", "wrong_answer"] * 3
    assert [o.output for o in outs[:6]] == [f"sample {i}\n" for i in range(6)]
    assert outs[6].status == "passed" and len(outs[6].output) <= 1000


def test_humaneval_guard_disables_destructive_functions():
    prog = "import os\nopen('f', 'w').close()\nos.remove('f')\n"
    assert run_programs([prog], TIMEOUT)[0].status == "passed"
    guarded = run_programs([prog], TIMEOUT, guard="humaneval")[0]
    assert guarded.humaneval_result == "failed: 'NoneType' object is not callable"
    with pytest.raises(ValueError):
        run_programs([prog], TIMEOUT, guard="nonsense")


def test_empty_and_isolation_report():
    assert run_programs([], TIMEOUT) == []
    iso = sandbox.isolation()
    assert isinstance(iso, Isolation)
    # what is missing is said in notes
    assert iso.network or any("network" in n for n in iso.notes)
    assert iso.drop_uid or any("user" in n for n in iso.notes)


def _listening_server():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    accepted: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    accepted.append(conn.recv(100) or b"<connected>")
                except OSError:
                    accepted.append(b"<connected>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return srv, accepted, stop, thread


def test_hostile_programs_are_contained(tmp_path, monkeypatch):
    """Hostile programs run together with honest ones: each hostile one ends as a failed
    (or timed-out) sample within its time limit, the honest ones pass, the evaluator
    survives, and nothing is left behind."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-compasslite-test-secret")
    iso = sandbox.isolation()
    sentinel = tmp_path / "keep_me.txt"
    sentinel.write_text("precious")
    srv, accepted, stop, thread = _listening_server()
    port = srv.getsockname()[1]
    me = os.getpid()
    honest = "def add(a, b):\n    return a + b\nassert add(2, 3) == 5\n"
    hostile = {
        "infinite_loop": "while True:\n    pass\n",
        "fork_bomb": "import os\nwhile True:\n    os.fork()\n",
        "fork_bomb_persistent": (
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
        ),
        "memory_hog": "hog = bytearray(8 * 1024 ** 3)\n",
        "delete_parent": (
            "import os, shutil\n"
            "parent = os.path.dirname(os.getcwd())\n"
            "errors = []\n"
            "try:\n"
            "    names = os.listdir(parent)\n"
            "except OSError as e:\n"
            "    errors.append(type(e).__name__)\n"
            "    names = ['program.py']\n"
            "for name in names:\n"
            "    try:\n"
            "        p = os.path.join(parent, name)\n"
            "        shutil.rmtree(p) if os.path.isdir(p) and p != os.getcwd() else os.remove(p)\n"
            "    except OSError as e:\n"
            "        errors.append(type(e).__name__)\n"
            f"try:\n    os.remove({str(sentinel)!r})\nexcept OSError as e:\n    errors.append(type(e).__name__)\n"
            "raise RuntimeError(errors)\n"
        ),
        "read_api_key": (
            "import os, glob\n"
            "seen = [os.environ.get('OPENAI_API_KEY')]\n"
            "for path in glob.glob('/proc/*/environ'):\n"
            "    try:\n"
            "        with open(path, 'rb') as f:\n"
            "            data = f.read()\n"
            "    except OSError:\n"
            "        continue\n"
            "    if b'OPENAI_API_KEY' in data:\n"
            "        seen.append(path)\n"
            f"try:\n    seen.append(open('/proc/{me}/environ', 'rb').read().decode(errors='replace'))\n"
            "except OSError as e:\n    seen.append(type(e).__name__)\n"
            "raise RuntimeError(repr(seen))\n"
        ),
        "network": (
            "import socket\n"
            f"s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "s.sendall(b'leaked')\n"
            "s.close()\n"
            "raise RuntimeError('connected')\n"
        ),
        "kill_parent": (
            "import os, signal, time\n"
            "os.kill(os.getppid(), signal.SIGKILL)\n"
            "time.sleep(0.5)\n"
            "raise RuntimeError('parent still alive')\n"
        ),
        "escape_session": (
            "import os, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        time.sleep(60)\n"
            "    os._exit(0)\n"
            "time.sleep(0.2)\n"
            "raise RuntimeError('daemon left behind')\n"
        ),
    }
    if iso.pid_namespace or iso.drop_uid:
        # kill(-1) reaches only the sandbox's own processes (PID namespace, or a uid of its
        # own); the program double-checks it is in one of those before trying.
        hostile["kill_everything"] = (
            "import os, signal\n"
            "if os.getpid() > 100 and os.getuid() == 0:\n"
            "    raise RuntimeError('not isolated, refusing')\n"
            "os.kill(-1, signal.SIGKILL)\n"
            "raise RuntimeError('survived')\n"
        )
    names = list(hostile)
    programs = [honest, *hostile.values(), honest]
    try:
        start = time.monotonic()
        outs = run_programs(programs, TIMEOUT)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        thread.join(2)
        srv.close()
    by_name = dict(zip(names, outs[1:-1], strict=True))

    assert outs[0].status == "passed" and outs[-1].status == "passed"
    for name, out in by_name.items():
        assert out.status in ("failed", "timeout", "wrong_answer"), (name, out)
        assert out.status != "passed", name
        assert out.duration < DEADLINE, (name, out.duration)
    assert elapsed < DEADLINE * len(programs)

    assert by_name["infinite_loop"].status == "timeout"
    assert by_name["memory_hog"].error == "MemoryError"
    assert by_name["fork_bomb"].status in ("failed", "timeout")
    assert sentinel.read_text() == "precious"
    assert "sk-compasslite-test-secret" not in by_name["read_api_key"].message
    assert "sk-compasslite-test-secret" not in by_name["read_api_key"].output
    assert "None" in by_name["read_api_key"].message  # os.environ has no key at all
    if iso.private_tmp:  # the host's files are out of sight: the sentinel does not exist there
        assert "FileNotFoundError" in by_name["delete_parent"].message, by_name["delete_parent"]
    elif iso.drop_uid:
        assert by_name["delete_parent"].message.count("PermissionError") >= 2
    if iso.network:
        assert accepted == []
        # unreachable (no route, or a loopback of its own with nothing listening), not 'connected'
        assert by_name["network"].error in ("OSError", "ConnectionRefusedError"), by_name["network"]
    # the supervisor survives (PermissionError for a dropped uid; SIGKILL to a PID namespace's
    # init is ignored) or dies alone; either way the sample fails and the evaluator lives on
    assert by_name["kill_parent"].error in ("PermissionError", "RuntimeError", "ProcessError")
    # nothing survives the run, including the daemon that left the process group
    time.sleep(0.1)
    assert _stray_runners() == []
    assert (
        os.environ["OPENAI_API_KEY"] == "sk-compasslite-test-secret"
    )  # the evaluator is alive and unchanged


def test_gradual_memory_hog_gets_memory_error():
    prog = "blocks = []\nwhile True:\n    blocks.append(b'x' * (50 * 1024 * 1024))\n"
    out = run_programs([prog], 10.0, memory_mb=512)[0]
    assert (out.status, out.error) == ("failed", "MemoryError")


def test_network_isolation_or_documented():
    iso = sandbox.isolation()
    if not iso.network:
        pytest.skip("no network namespace on this machine: " + "; ".join(iso.notes))
    prog = "import socket\nnames = [n for _, n in socket.if_nameindex()]\nassert names == ['lo'], names\n"
    assert run_programs([prog], TIMEOUT)[0].status == "passed"


def test_kill_parent_without_namespaces_is_contained():
    """Even with no namespace and no uid change (the weakest set-up), the program's parent
    is a supervisor process, so killing it does not reach the evaluator."""
    for weakest in (
        Isolation(tools=False),
        Isolation(tools=bool(sandbox.shutil.which("prlimit") and sandbox.shutil.which("setpriv"))),
    ):
        progs = [
            "import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(0.5)\n"
            "raise RuntimeError('after kill')\n",
            "assert 2 + 2 == 4\n",
            "while True:\n    pass\n",
        ]
        outs = run_programs(progs, SHORT, isolation_override=weakest)
        assert outs[0].status == "failed"
        assert outs[1].status == "passed"
        assert outs[2].status == "timeout"
        assert _stray_runners() == []


def test_workdir_is_fresh_and_removed():
    prog = (
        "import os, tempfile\n"
        "assert os.listdir('.') == [], os.listdir('.')\n"
        "open('scratch.txt', 'w').write('x')\n"
        "assert tempfile.gettempdir() == os.getcwd()\n"
        "raise RuntimeError(os.getcwd())\n"
    )
    outs = run_programs([prog, prog], TIMEOUT)
    dirs = [o.message for o in outs]
    assert all(o.error == "RuntimeError" for o in outs), outs
    assert dirs[0] != dirs[1]
    assert not any(os.path.exists(d) for d in dirs)
    assert not any(os.path.exists(os.path.dirname(d)) for d in dirs)


def test_outcome_mapping():
    assert Outcome("passed").humaneval_result == "passed"
    assert Outcome("timeout").humaneval_result == "timed out"
    assert Outcome("failed", "NameError", "name 'x' is not defined").humaneval_result == (
        "failed: name 'x' is not defined"
    )
    assert [Outcome(s).mbpp_result for s in ("passed", "timeout", "failed", "wrong_answer")] == [
        "pass",
        "timeout",
        "failed",
        "wrong_answer",
    ]
    assert sys.platform.startswith("linux")


def _weaker_setups() -> list:
    """Set-ups without namespaces that still drop the uid (root only), for both launchers."""
    iso = sandbox.isolation()
    if not iso.drop_uid:
        return []
    tools = bool(sandbox.shutil.which("prlimit") and sandbox.shutil.which("setpriv"))
    python = sandbox._candidate_pythons()[0]  # on the host file system (bwrap's may sit under /root)
    out = [pytest.param(Isolation(drop_uid=True, python=python, tools=False), id="python-supervisor")]
    if tools:
        out.append(pytest.param(Isolation(drop_uid=True, python=python, tools=True), id="util-linux"))
    return out


@pytest.mark.parametrize("setup", _weaker_setups())
def test_containment_without_namespaces(setup, tmp_path):
    """Without PID namespace the dedicated uid still contains a fork bomb (RLIMIT_NPROC),
    and processes that left the process group are found by uid and killed."""
    sentinel = tmp_path / "keep.txt"
    sentinel.write_text("x")
    progs = {
        "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "escape_session": (
            "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n"
            "    os._exit(0)\ntime.sleep(0.2)\nraise RuntimeError('left a daemon')\n"
        ),
        "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
        "kill_everything": (
            "import os, signal\nif os.getuid() == 0:\n    raise RuntimeError('refusing as root')\n"
            "os.kill(-1, signal.SIGKILL)\nraise RuntimeError('survived')\n"
        ),
        "delete": f"import os\nos.remove({str(sentinel)!r})\n",
        "honest": "assert sum(range(4)) == 6\n",
        "privileges": (
            "status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
            "assert status['CapEff'].strip() == '0000000000000000', status['CapEff']\n"
            "assert status['NoNewPrivs'].strip() == '1' or " + repr(not setup.tools) + "\n"
            "import os\nassert os.getuid() != 0 and os.getgroups() == []\n"
        ),
    }
    outs = dict(zip(progs, run_programs(list(progs.values()), SHORT, isolation_override=setup), strict=True))
    assert outs["honest"].status == "passed"
    assert outs["privileges"].status == "passed", outs["privileges"]
    for name in ("fork_bomb", "escape_session", "kill_parent", "kill_everything", "delete"):
        assert outs[name].status in ("failed", "timeout"), (name, outs[name])
        assert outs[name].duration < SHORT_DEADLINE, name
    assert outs["kill_parent"].error == "PermissionError"  # the supervisor is root
    assert outs["delete"].error == "PermissionError"
    assert sentinel.exists()
    time.sleep(0.1)
    assert _stray_runners() == []


def test_scoring_context_redacts_what_programs_print_and_raise():
    prog = "print('token sk-abc123 here')\nraise RuntimeError('found sk-abc123')\n"
    with sandbox.scoring(redact=lambda text: text.replace("sk-abc123", "***")):
        (out,) = run_programs([prog], TIMEOUT)
    assert (out.error, out.message, out.output) == ("RuntimeError", "found ***", "token *** here\n")
    (plain,) = run_programs([prog], TIMEOUT)  # outside the block: nothing to redact with
    assert plain.message == "found sk-abc123"


def test_isolation_is_described_for_the_manifest():
    described = sandbox.isolation().describe()
    assert described["mechanism"] in ("bwrap", "unshare", "unshare-partial", "none")
    assert described["memory_limit"] in ("cgroup", "per-process")
    assert described["network"] in ("none", "host")
    assert isinstance(described["notes"], list)
    if described["memory_limit"] == "per-process":  # the fallback is named
        assert any("RLIMIT_AS" in note for note in described["notes"])
    if not described["private_proc"]:
        assert any("/proc" in note for note in described["notes"])
