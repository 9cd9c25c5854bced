"""Hostile model-written programs against the real sandbox, as root and as an unprivileged user.

Each program tries what an attacker would: read the API key from other processes'
`/proc/*/cmdline` and `/proc/*/environ`, read the run directory, the config file, `/root`
and the evaluator's working directory, fill `/tmp` and `/dev/shm`, hold 6 x 600 MB against
the 1 GiB limit, outlive an evaluator killed with SIGKILL, reach the network. Then a real
`compasslite run` on humaneval whose every reply is such a program, with the key given as a
flag, in the environment, in the API base URL and in the config file: the key must occur
in no file of the work dir and caches, and not on the console.

"As an unprivileged user" runs the evaluator as uid 65534 (`setpriv`), with a Python that
uid can execute; without one (or when not root) those cases skip, saying why.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compasslite import sandbox
from conftest import FIXTURE_DATA
from test_sandbox import _listening_server

SECRET = "sk-hostile-test-7f3a9c2e51d04b8b"
SRC = Path(sandbox.__file__).resolve().parent.parent  # the directory holding `compasslite`
NOBODY = 65534
USERS = ["evaluator", "unprivileged"]


# --------------------------------------------------------------------------- helpers


def _site_dirs() -> list[str]:
    import site

    return [p for p in site.getsitepackages() if os.path.isdir(p)]


def _unprivileged_python() -> list[str] | str:
    """argv prefix running Python as uid 65534 with compasslite importable, or why not."""
    if os.geteuid() != 0:
        return "not root: the tests already run as an unprivileged user"
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return "util-linux setpriv is not installed"
    pythons = [p for p in sandbox._candidate_pythons() if sandbox._world_executable(p)]
    if not pythons:
        return "no Python of this version is executable by an unprivileged uid (e.g. pyenv under /root)"
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", pythons[0]]
    check = subprocess.run(
        [*prefix, "-c", "import compasslite.cli, compasslite.sandbox, aiohttp, pydantic"],
        env=_env_for(Path("/tmp")), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if check.returncode != 0:
        return f"uid {NOBODY} cannot import compasslite with {pythons[0]}: {check.stderr.strip()[-300:]}"
    return prefix


def _env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        **extra,
    }
    # compasslite and its dependencies by path: the unprivileged uid runs a system interpreter
    # (a venv's interpreter finds them anyway)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *_site_dirs(), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _ceiling(mechanism: str) -> dict[str, str]:
    """Environment limiting the sandbox to a weaker mechanism (the fallbacks get tested too)."""
    return {} if mechanism == "auto" else {sandbox.MECHANISM_ENV: mechanism}


def _evaluator(user: str) -> list[str]:
    if user == "evaluator":
        return [sys.executable]
    prefix = _unprivileged_python()
    if isinstance(prefix, str):
        pytest.skip(prefix)
    return prefix


@pytest.fixture
def world_tmp() -> Iterator[Path]:
    """A temporary directory any uid can use (the unprivileged evaluator writes here), outside
    /tmp so that the private /tmp alone does not hide it: the run dir, config and cwd here must
    be hidden by the sandbox itself."""
    parent = "/var/tmp" if os.access("/var/tmp", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="compasslite-hostile-", dir=parent))
    path.chmod(0o777)
    (path / "tmp").mkdir(mode=0o777)
    (path / "tmp").chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _decoy(env_secret: str) -> subprocess.Popen:
    """A process holding the secret in its command line and environment, as the evaluator
    does with `--api-key sk-...` or OPENAI_API_KEY."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "--api-key", env_secret],
        env={"OPENAI_API_KEY": env_secret, "PATH": "/usr/bin:/bin"},
    )


# A hostile program that reports everything it can find: secrets in any /proc/*/cmdline or
# environ and in any file under the given directories, the pids it can see, the files it read.
_SCAN = r'''
import glob, os, re
SECRET_RE = re.compile(r"sk-[A-Za-z0-9_-]{8,}|://[^/@\s:]+:[^/@\s]+@")
secrets_found, files, pids = [], [], set()
def scan(path, data):
    for m in SECRET_RE.findall(data.decode("latin-1")):
        secrets_found.append(path + " " + m)
for path in glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ"):
    pids.add(path.split("/")[2])
    try:
        with open(path, "rb") as f:
            scan(path, f.read())
    except OSError:
        pass
for top in TOPS:
    if os.path.isfile(top):
        walk = [(os.path.dirname(top), [], [os.path.basename(top)])]
    else:
        walk = os.walk(top)
    for root, dirs, names in walk:
        for name in names:
            p = os.path.join(root, name)
            try:
                with open(p, "rb") as f:
                    scan(p, f.read(1 << 20))
                files.append(p)
            except OSError:
                pass
raise RuntimeError("secrets=%r pids=%d files=%r" % (secrets_found, len(pids), files[:20]))
'''


def scan_program(tops: list[str]) -> str:
    return f"TOPS = {tops!r}\n" + _SCAN


def _run_as(
    user: str, programs: list[str], timeout: float, workdir: Path, hidden: list[str], mechanism: str = "auto"
) -> dict:
    """Run programs through the real sandbox in an evaluator of the given user (and at most
    the given mechanism); returns {"isolation": describe(), "outcomes": [Outcome fields...]}."""
    driver = textwrap.dedent(
        """
        import dataclasses, json, sys
        from compasslite import sandbox
        job = json.load(sys.stdin)
        with sandbox.scoring(hidden=job["hidden"]):
            outs = sandbox.run_programs(job["programs"], job["timeout"])
        print(json.dumps({"isolation": sandbox.isolation().describe(),
                          "outcomes": [dataclasses.asdict(o) for o in outs]}))
        """
    )
    if user == "evaluator" and mechanism == "auto":
        with sandbox.scoring(hidden=hidden):
            outs = sandbox.run_programs(programs, timeout)
        return {"isolation": sandbox.isolation().describe(), "outcomes": [dataclasses.asdict(o) for o in outs]}
    proc = subprocess.run(
        [*_evaluator(user), "-c", driver],
        input=json.dumps({"programs": programs, "timeout": timeout, "hidden": hidden}),
        capture_output=True, text=True, cwd=workdir, timeout=300,
        env=_env_for(workdir, **_ceiling(mechanism)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------- the suite


@pytest.mark.parametrize("mechanism", ["auto", "unshare"])
@pytest.mark.parametrize("user", USERS)
def test_hostile_programs_see_nothing_of_the_host(user, mechanism, world_tmp, monkeypatch):
    """Secrets in other processes, the run dir, the config file, /root, the evaluator's cwd,
    /tmp and /dev/shm filling, the network: each program reports what it reached."""
    _evaluator(user)  # skips early when the unprivileged user is unavailable
    run_dir = world_tmp / "outputs" / "20260101_000000"
    (run_dir / "configs").mkdir(parents=True)
    (run_dir / "configs" / "config.yaml").write_text(f"models:\n- api_key: {SECRET}\n")
    (run_dir / "records").mkdir()
    (run_dir / "records" / "m.jsonl").write_text(f'{{"note": "{SECRET}"}}\n')
    config = world_tmp / "task.yaml"
    config.write_text(f"api_key: {SECRET}\n")
    cwd_file = world_tmp / "cwd-secret.txt"
    cwd_file.write_text(SECRET)
    for p in [world_tmp / "outputs", run_dir, run_dir / "configs", run_dir / "records"]:
        p.chmod(0o755)
    for p in [config, cwd_file, run_dir / "configs" / "config.yaml", run_dir / "records" / "m.jsonl"]:
        p.chmod(0o644)  # readable by anyone: only the sandbox stands between them and the program
    monkeypatch.chdir(world_tmp)
    srv, accepted, stop, _ = _listening_server()
    port = srv.getsockname()[1]
    decoy = _decoy(SECRET)
    marker = f"hostile-fill-{os.getpid()}-{user}"
    programs = {
        "scan": scan_program([str(run_dir), str(config), "/root", str(world_tmp)]),
        "fill": (
            "import os\n"
            "written = {}\n"
            "for top in ('/tmp', '/dev/shm'):\n"
            "    total = 0\n"
            "    try:\n"
            "        for i in range(200):\n"
            f"            with open(os.path.join(top, '{marker}-%d' % i), 'wb') as f:\n"
            "                for _ in range(16):\n"
            "                    f.write(b'x' * (1 << 20))\n"
            "                    total += 1 << 20\n"
            "    except OSError as exc:\n"
            "        written[top] = (total, type(exc).__name__)\n"
            "    else:\n"
            "        written[top] = (total, 'no error')\n"
            "raise RuntimeError(repr(written))\n"
        ),
        "network": (
            "import socket\nresults = []\n"
            f"for addr in (('127.0.0.1', {port}), ('1.1.1.1', 80)):\n"
            "    try:\n"
            "        socket.create_connection(addr, timeout=2).close()\n"
            "        results.append('connected')\n"
            "    except OSError as exc:\n"
            "        results.append(type(exc).__name__)\n"
            "raise RuntimeError(repr(results))\n"
        ),
        "honest": "assert sum(range(5)) == 10\n",
    }
    try:
        report = _run_as(user, list(programs.values()), 10.0, world_tmp, [str(run_dir)], mechanism)
    finally:
        decoy.kill()
        decoy.wait()
        stop.set()
        srv.close()
    iso = report["isolation"]
    outs = dict(zip(programs, report["outcomes"], strict=True))
    assert outs["honest"]["status"] == "passed", outs["honest"]
    for name in ("scan", "fill", "network"):
        assert outs[name]["error"] == "RuntimeError", (name, outs[name])
    assert SECRET not in json.dumps(report)

    scan = outs["scan"]["message"]
    if not iso["private_proc"]:
        pytest.skip("this machine gives programs no private /proc: " + "; ".join(iso["notes"]))
    assert scan.startswith("secrets=[] "), scan
    pids = int(scan.split("pids=")[1].split()[0])
    assert pids <= 4, scan  # the sandbox's own init, launcher and the program
    assert scan.endswith("files=[]"), scan  # nothing of the run dir, config, /root or cwd

    assert iso["private_tmp"]
    written = eval(outs["fill"]["message"])  # noqa: S307 - our own program's repr of a dict
    for top in ("/tmp", "/dev/shm"):
        total, error = written[top]
        assert error == "OSError" and total <= sandbox.TMPFS_MB * 1024 * 1024, written  # ENOSPC at the cap
    leftovers = [p for top in ("/tmp", "/dev/shm") if os.path.isdir(top) for p in os.listdir(top) if marker in p]
    assert leftovers == []

    assert iso["network"] == "none"
    assert accepted == []
    assert "connected" not in outs["network"]["message"], outs["network"]


@pytest.mark.parametrize("user", USERS)
def test_process_tree_shares_one_memory_limit(user, world_tmp):
    """6 children each holding 600 MB against the 1 GiB limit: with a cgroup the tree as a
    whole is capped (at most one child holds its block at a time); without one, the
    documented per-process fallback (RLIMIT_AS) still stops any single process at 1 GiB."""
    _evaluator(user)
    tree = (
        "import os, time\n"
        "kids = []\n"
        "for i in range(6):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            block = b'x' * (600 << 20)\n"
        "            time.sleep(2)\n"
        "            os._exit(0)\n"
        "        except MemoryError:\n"
        "            os._exit(3)\n"
        "    kids.append(pid)\n"
        "held = 0\n"
        "for pid in kids:\n"
        "    _, status = os.waitpid(pid, 0)\n"
        "    held += os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0\n"
        "raise RuntimeError('held=%d' % held)\n"
    )
    single = "block = b'x' * (1200 << 20)\n"
    report = _run_as(user, [tree, single], 20.0, world_tmp, [])
    iso = report["isolation"]
    tree_out, single_out = report["outcomes"]
    assert single_out["error"] == "MemoryError", single_out  # RLIMIT_AS, in every set-up
    if iso["memory_limit"] == "cgroup":
        # Either the OOM killer took children (held < 6) or the whole tree was killed.
        assert tree_out["status"] == "failed", tree_out
        if tree_out["error"] == "RuntimeError":
            assert int(tree_out["message"].split("=")[1]) <= 2, tree_out
        else:
            assert tree_out["error"] == "MemoryError" and "memory limit" in tree_out["message"], tree_out
    else:
        assert iso["memory_limit"] == "per-process"
        assert any("RLIMIT_AS" in note for note in iso["notes"]), iso["notes"]


def _tagged_processes(tag: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if tag.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("mechanism", ["auto", "unshare"])
@pytest.mark.parametrize("user", USERS)
def test_nothing_survives_an_evaluator_killed_with_sigkill(user, mechanism, world_tmp):
    """The evaluator is SIGKILLed while programs run (children forked, a process exec'd
    into something else, files in /tmp): every process of them dies, no directory stays."""
    evaluator = _evaluator(user)
    stamp = f"{os.getpid()}.{int(time.time() * 1000) % 100000}"
    program = (
        "import os, time\n"
        "open('/tmp/left-behind', 'w').write('x')\n"
        "for i in range(3):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(120)\n"
        "        os._exit(0)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv('/bin/sleep', ['sleep', '{stamp}'])\n"
        "time.sleep(120)\n"
    )
    driver = (
        "import sys\nfrom compasslite import sandbox\n"
        f"sandbox.run_programs([{program!r}] * 2, 100.0)\n"
    )
    env = _env_for(world_tmp, **_ceiling(mechanism))
    proc = subprocess.Popen([*evaluator, "-c", driver], cwd=world_tmp, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    tag = f"{sandbox.MARKER}:{proc.pid}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(_tagged_processes(tag)) >= 8 and len(_tagged_processes(f"sleep\x00{stamp}")) >= 2:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.1)
        else:
            pytest.fail(f"the programs did not start: {_tagged_processes(tag)}")
        iso = json.loads(
            subprocess.run([*evaluator, "-c", "import json; from compasslite import sandbox; "
                            "print(json.dumps(sandbox.isolation().describe()))"],
                           cwd=world_tmp, env=env, capture_output=True, text=True, timeout=60).stdout
        )  # fmt: skip
        proc.kill()
        proc.wait()
        survivors: list[int] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            survivors = _tagged_processes(tag) + _tagged_processes(f"sleep\x00{stamp}")
            if not survivors:
                break
            time.sleep(0.1)
        if not iso["parent_death"]:
            for pid in survivors:
                os.kill(pid, signal.SIGKILL)
            pytest.skip("no parent-death protection on this machine: " + "; ".join(iso["notes"]))
        assert survivors == [], survivors
        assert list((world_tmp / "tmp").iterdir()) == []  # the evaluator's TMPDIR: nothing left
        assert not os.path.exists("/tmp/left-behind")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _tagged_processes(tag) + _tagged_processes(f"sleep\x00{stamp}"):
            os.kill(pid, signal.SIGKILL)
    # A cgroup of the killed evaluator is removed by the next evaluator that probes.
    stale = _stale_cgroup_dirs(proc.pid)
    for path in stale:
        sandbox._remove_stale_cgroups(os.path.dirname(path))
    assert [p for p in stale if os.path.exists(p)] == []


def _stale_cgroup_dirs(pid: int) -> list[str]:
    iso = sandbox.isolation()
    if not iso.cgroup:
        return []
    path = os.path.join(os.path.dirname(iso.cgroup), f"{sandbox._CGROUP_PREFIX}{pid}")
    return [path] if os.path.isdir(path) else []


# --------------------------------------------------------------------------- end to end

# The completion is module-level code after the stub (whose body is its docstring).
_KEY_WAYS = ["flag", "env", "url", "config"]


@pytest.mark.parametrize("mechanism", ["auto", "unshare"])
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("way", _KEY_WAYS)
def test_run_with_hostile_replies_leaks_no_key(user, way, mechanism, world_tmp, fake_server):
    texts, manifest = _hostile_run(user, way, mechanism, world_tmp, fake_server)
    iso = manifest["sandbox"]
    assert iso["mechanism"] == ("unshare" if mechanism == "unshare" else iso["mechanism"])
    if not iso["private_proc"]:
        pytest.skip("this machine gives programs no private /proc: " + "; ".join(iso["notes"]))
    for text in texts:  # contained: it found nothing (not merely redacted)
        assert text.startswith("failed: secrets=[] "), text
        assert "***" not in text
        assert text.endswith("files=[]"), text


def test_what_a_weak_sandbox_lets_through_is_redacted(world_tmp, fake_server):
    """With no namespaces at all (COMPASSLITE_SANDBOX=none), the program reads the key from
    the evaluator's command line; the redactor still keeps it out of every file."""
    if os.geteuid() != 0:
        pytest.skip("as a normal user the weakest set-up runs programs as the evaluator's own uid")
    texts, manifest = _hostile_run("evaluator", "flag", "none", world_tmp, fake_server)
    assert manifest["sandbox"]["mechanism"] == "none"
    assert any("cmdline ***" in text for text in texts), texts  # found, and redacted


def _hostile_run(user: str, way: str, mechanism: str, world_tmp: Path, fake_server) -> tuple[list[str], dict]:
    """A real `compasslite run` on humaneval whose replies are the scanning program; asserts
    the key is nowhere in the output; returns the humaneval result strings and the manifest."""
    evaluator = _evaluator(user)
    home = world_tmp
    work = world_tmp / "outputs"
    work.mkdir(mode=0o777)
    work.chmod(0o777)
    data = world_tmp / "data"
    shutil.copytree(FIXTURE_DATA / "humaneval", data / "humaneval")
    for p in [data, data / "humaneval", *(data / "humaneval").iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    config = world_tmp / "task.yaml"
    completion = scan_program([str(work), str(config), "/root", str(world_tmp)])
    server = fake_server(lambda prompt, request: completion)
    host = server.base_url.split("//", 1)[1]
    api_base = f"http://alice:{SECRET}@{host}" if way == "url" else server.base_url
    model = {"path": "fake-model", "openai_api_base": api_base}
    if way == "config":
        model["api_key"] = SECRET
    config.write_text(json.dumps({"datasets": ["humaneval"], "models": [model], "work_dir": str(work),
                                  "data_dir": str(data), "progress": False}))  # fmt: skip
    config.chmod(0o644)
    argv = [*evaluator, "-m", "compasslite.cli", "run", str(config)]
    extra_env = {}
    if way == "flag":
        argv += ["--api-key", SECRET]
    if way == "env":
        extra_env["OPENAI_API_KEY"] = SECRET
    env = _env_for(home, **extra_env, **_ceiling(mechanism))
    proc = subprocess.run(argv, cwd=world_tmp, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert SECRET not in proc.stdout and SECRET not in proc.stderr

    (run_dir,) = [p for p in work.iterdir() if p.is_dir()]
    result = json.loads((run_dir / "results" / "fake-model" / "openai_humaneval.json").read_text())
    texts = [d["result"] for d in result["details"].values()] if isinstance(result["details"], dict) else [
        d["result"] for d in result["details"]
    ]
    assert texts and all(t.startswith("failed: secrets=") for t in texts), texts
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["sandbox"]["mechanism"] in ("bwrap", "unshare", "none", "unshare-partial")
    # The key occurs in no file the run or its caches wrote, nor on the console.
    leaks = []
    for root, _dirs, names in os.walk(world_tmp):
        for name in names:
            path = Path(root) / name
            if path == config:
                continue  # the user's own config file holds the key in the `config` case
            try:
                if SECRET.encode() in path.read_bytes():
                    leaks.append(str(path))
            except OSError:
                continue
    assert leaks == []
    return texts, manifest
