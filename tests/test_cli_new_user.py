"""The CLI tried as a new user would: mistakes get one clear line, not a silent surprise."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from compasslite.config import ConfigError, parse_limit

CLI = [sys.executable, "-m", "compasslite.cli"]


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("limit", [0, "0", " 0 "])
def test_limit_zero_is_an_error_not_the_whole_dataset(limit):
    with pytest.raises(ConfigError, match="limit 0 selects no rows; leave limit out"):
        parse_limit(limit)


@pytest.mark.parametrize("limit", ["[5:2]", "[3:3]", "[-1:-5]"])
def test_an_empty_slice_is_an_error(limit):
    with pytest.raises(ConfigError, match="selects no rows"):
        parse_limit(limit)


@pytest.mark.parametrize("limit", ["[0:5]", "[:3]", "[2:]", "[-5:]", "[-5:-1]", "[1:-1]"])
def test_slices_that_can_select_rows_are_fine(limit):
    assert parse_limit(limit)[0] == "slice"


def test_cli_limit_zero_and_empty_slice_exit_2_with_one_line(tmp_path):
    for limit in ("0", "[5:2]"):
        proc = _run("run", "--datasets", "gsm8k", "--api-base", "http://127.0.0.1:9/v1", "--model", "m",
                    "--limit", limit, "--work-dir", str(tmp_path))  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "selects no rows" in lines[0] and "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())


def test_a_slice_beyond_every_subset_is_an_error(merged_data, tmp_path, fake_server):
    from compasslite.errors import CompassliteError
    from compasslite.runner import execute
    from helpers import config

    server = fake_server()
    cfg = config(["CB"], merged_data, tmp_path, limit="[5000:6000]", model={"openai_api_base": server.base_url})
    with pytest.raises(CompassliteError, match="selects no rows of any sub-dataset"):
        execute(cfg)


def test_serve_fake_on_a_busy_port_is_one_clean_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = _run("serve-fake", "--port", str(port), timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: cannot listen on 127.0.0.1:")
    assert "choose another with --port" in proc.stderr and "Traceback" not in proc.stderr


def test_every_serve_fake_flag_has_help():
    text = _run("serve-fake", "--help").stdout
    for flag in ("--host", "--port", "--model", "--latency", "--reply", "--oracle", "--context-length",
                 "--fault", "--seed", "--reasoning"):  # fmt: skip
        line = next(line for line in text.splitlines() if line.strip().startswith(flag))
        after = line.strip()[len(flag):].strip()
        # argparse puts the help on the flag's line or the next one; either way not empty
        idx = text.splitlines().index(line)
        nxt = text.splitlines()[idx + 1].strip() if idx + 1 < len(text.splitlines()) else ""
        assert len(after.split()) > 1 or (nxt and not nxt.startswith("-")), flag


def test_resume_refuses_arguments_that_would_change_the_run(tmp_path):
    proc = _run("run", "--resume", str(tmp_path), "--datasets", "gsm8k", "--limit", "3")
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "--resume finishes" in line and "--datasets, --limit cannot change it" in line
    assert "only --api-base and --api-key may be given" in line and "Traceback" not in proc.stderr


def test_resume_accepts_the_server_and_key(tmp_path):
    # Not a run directory: the resume gets as far as opening it, so the flags were accepted.
    proc = _run("run", "--resume", str(tmp_path), "--api-base", "http://127.0.0.1:9/v1", "--api-key", "k",
                "--no-progress")  # fmt: skip
    assert proc.returncode == 2 and "is not a compasslite run directory" in proc.stderr
