"""The CLI's messages, tried as a new user would: errors name the flags typed, warnings do not
stand before unrelated errors, and every hint is a command that, pasted, works."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from compasslite import cli, run_task
from compasslite.errors import DataError

REPO = Path(__file__).resolve().parents[1]
NO_SERVER = ["--api-base", "http://127.0.0.1:9/v1", "--model", "m"]


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


# ---------------------------------------------------------------- 1. errors name the flags
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--rps", "0"], "--rps 0: must be greater than 0"),
        (["--timeout", "0"], "--timeout 0: must be greater than 0"),
        (["--temperature", "-1"], "--temperature -1: must be greater than or equal to 0"),
        (["--concurrency", "0"], "--concurrency 0: must be greater than or equal to 1"),
        (["--retries", "-1"], "--retries -1: must be greater than or equal to 0"),
        (["--max-tokens-cap", "0"], "--max-tokens-cap 0: must be greater than or equal to 1"),
        (["--repeats", "0"], "--repeats 0: must be greater than or equal to 1"),
        (["--api-base", "foo"], "--api-base: API base 'foo' is not an http(s) URL"),
        (["--extra-body", '{"max_tokens": 5}'], "--extra-body: extra_body may not set 'max_tokens': "
                                                "compasslite sets it; use --max-out-len instead"),
    ],
)  # fmt: skip
def test_errors_name_the_flag_typed_not_the_config_path(tmp_path, capsys, flags, expected):
    code = cli.main(["run", "--datasets", "gsm8k", *NO_SERVER, "--work-dir", str(tmp_path), *flags])
    assert code == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {expected}"), lines[0]
    assert "models.0" not in lines[0] and "invalid config" not in lines[0]


def test_config_file_values_keep_their_paths_beside_flag_errors(tmp_path, capsys):
    config = tmp_path / "task.yaml"
    config.write_text(
        "datasets: [gsm8k]\nmodels:\n  - path: m\n    openai_api_base: http://127.0.0.1:9/v1\n"
        "    query_per_second: 0\n",
        encoding="utf-8",
    )
    assert cli.main(["run", str(config), "--timeout", "0", "--work-dir", str(tmp_path)]) == 2
    (line,) = _stderr_lines(capsys)
    assert line.startswith(f"error: invalid config in {config}: models.0.query_per_second: ")
    assert "; --timeout 0: must be greater than 0" in line
    # the same key given as a flag names the flag (--rps applies to every model: said once)
    assert cli.main(["run", str(config), "--rps", "0", "--work-dir", str(tmp_path)]) == 2
    (line,) = _stderr_lines(capsys)
    assert line == "error: --rps 0: must be greater than 0"


# ---------------------------------------------------------------- 3. no warning before an unrelated error
# In a subprocess: the CLI's own stderr logging is what a user sees (in-process, pytest's log
# capture would take the warnings).
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compasslite.cli", *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_no_warning_printed_before_an_unrelated_error(tmp_path):
    config = tmp_path / "task.yaml"  # an OpenCompass-internal key: "ignoring ..." warning
    config.write_text("datasets: [gsm8k]\ndry_run: true\n", encoding="utf-8")
    for args in (
        ["run", "--datasets", "gsm8k", "--reasoning", *NO_SERVER, "--data-dir", str(tmp_path / "none")],
        ["run", str(config), *NO_SERVER, "--data-dir", str(tmp_path / "none")],
        ["run", "--datasets", "gsm8k", "--reasoning", *NO_SERVER, "--rps", "0"],
    ):
        proc = _cli(*args, "--work-dir", str(tmp_path / "out"))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: "), proc.stderr
        assert "WARNING" not in proc.stderr, proc.stderr


def test_warnings_still_print_when_the_run_starts(merged_data, tmp_path, fake_server):
    server = fake_server()
    proc = _cli("run", "--datasets", "gsm8k", "--limit", "1", "--api-base", server.base_url, "--reasoning",
                "--data-dir", str(merged_data), "--work-dir", str(tmp_path), "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("WARNING: --reasoning set: think auto") == 1, proc.stderr


# ---------------------------------------------------------------- 4. install hints suit a checkout
def test_install_hint_suits_a_source_checkout(monkeypatch, tmp_path):
    from compasslite.install import pip_install, source_checkout

    assert source_checkout() == REPO  # the tests run from this checkout's editable install
    monkeypatch.chdir(REPO)
    assert pip_install("local") == "pip install -e '.[local]'"
    monkeypatch.chdir(tmp_path)
    assert pip_install("local") == f"pip install -e '{REPO}[local]'"
    assert pip_install("local", checkout=None) == "pip install 'compasslite[local]'"


def test_missing_llama_server_error_gives_the_checkout_command(monkeypatch):
    from compasslite import local_model

    monkeypatch.chdir(REPO)
    monkeypatch.setattr(local_model, "xllamacpp_available", lambda: False)  # as without the extra
    with pytest.raises(local_model.LocalModelError, match=r"install it with: pip install -e '\.\[local\]'$"):
        local_model.require_xllamacpp()


# ---------------------------------------------------------------- 5. data hints honour the data dir
def _hinted_command(message: str) -> list[str]:
    start = message.index("`compasslite data download") + 1
    return shlex.split(message[start : message.index("`", start)])


def test_missing_data_hint_downloads_into_the_users_data_dir(tmp_path, capsys):
    data_dir = tmp_path / "my data"  # a space: the hint must quote it
    code = cli.main(["run", "--datasets", "gsm8k", "ARC_c", *NO_SERVER, "--data-dir", str(data_dir),
                     "--work-dir", str(tmp_path / "out")])  # fmt: skip
    assert code == 2
    err = " ".join(_stderr_lines(capsys))
    assert "rerun with --yes" in err and "pass --data-dir" in err
    # The hinted command, pasted, installs where the failed command reads.
    argv = _hinted_command(err)
    assert argv[:3] == ["compasslite", "data", "download"]
    args = cli.build_parser().parse_args(argv[1:])
    assert args.names == ["gsm8k"] and Path(args.data_dir) == data_dir


def test_missing_data_hint_for_python_users_names_keys(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    task = {"datasets": ["gsm8k"], "models": [{"path": "m", "openai_api_base": "http://127.0.0.1:9/v1"}],
            "data_dir": str(data_dir), "work_dir": str(tmp_path / "out"), "progress": False}  # fmt: skip
    with pytest.raises(DataError) as info:
        run_task(task)
    message = str(info.value)
    assert "--yes" not in message and "pass --data-dir" not in message
    assert "download=True" in message
    argv = _hinted_command(message)
    assert Path(cli.build_parser().parse_args(argv[1:]).data_dir) == data_dir
    with pytest.raises(DataError, match=r"set data_dir \(a task config key\)"):
        run_task({**task, "data_dir": str(tmp_path / "none")})
