"""A server that answers with malformed HTTP: every such reply is a failed attempt of that
sample (retried like any transient failure), never a crash of the run."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from compasslite.client import printable
from compasslite.runner import execute
from helpers import config

OK_REPLY = "The answer is A."


def _good(body: dict) -> bytes:
    payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": OK_REPLY},
                                       "finish_reason": "stop"}]}).encode()  # fmt: skip
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(payload),
        payload,
    )


def _json(obj: object, status: str = "200 OK", extra: bytes = b"") -> bytes:
    payload = json.dumps(obj).encode()
    return b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s" % (
        status.encode(), extra, len(payload), payload)  # fmt: skip


MODELS = _json({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

MALFORMED: dict[str, bytes] = {
    "100 kB header line": b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * 100_000 + b"\r\nContent-Length: 2\r\n\r\n{}",
    "status line 2OO": b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}",
    "not HTTP at all": b"SSH-2.0-OpenSSH_9.2\r\n",
    "bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "redirect loop": b"HTTP/1.1 302 Found\r\nLocation: /v1/chat/completions\r\nContent-Length: 0\r\n\r\n",
    "redirect to ftp": b"HTTP/1.1 301 Moved\r\nLocation: ftp://example.invalid/x\r\nContent-Length: 0\r\n\r\n",
    "content not a string": _json({"choices": [{"message": {"content": {"a": 1}}, "finish_reason": "stop"}]}),
    "reply over the size cap": b"HTTP/1.1 200 OK\r\nContent-Length: 6000000\r\n\r\n" + b"x" * 6_000_000,
    "escape sequences in an error": _json({"error": {"message": "bad \x1b[2J\x1b]0;owned\x07 thing"}},
                                          "400 Bad Request"),  # fmt: skip
}


class RawServer:
    """A TCP server speaking just enough HTTP; `respond(n, body)` gives the raw reply to the
    n-th completion request (0-based) with the request body, or None for a good reply."""

    def __init__(self, respond: Callable[[int, dict], bytes | None]):
        self.respond = respond
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.kinds: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                if head.startswith(b"GET /v1/models"):
                    conn.sendall(MODELS)
                    return
                body = json.loads(rest or b"{}")
                with self.lock:
                    n = self.count
                    self.count += 1
                raw = self.respond(n, body)
                conn.sendall(raw if raw is not None else _good(body))
            except (OSError, ValueError):
                return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def make(respond):
        server = RawServer(respond)
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()


def _fast(monkeypatch):
    import compasslite.run.pipeline as pipeline
    import compasslite.runner as runner

    original = runner.make_endpoint

    def fast(*args, **kwargs):
        ep = original(*args, **kwargs)
        ep.backoff_base_s, ep.backoff_max_s = 0.005, 0.02
        return ep

    monkeypatch.setattr(pipeline, "make_endpoint", fast)  # where execute() looks it up


RETRIED = [k for k in MALFORMED if k not in ("escape sequences in an error", "reply over the size cap")]


@pytest.mark.parametrize("kind", RETRIED)
def test_each_malformed_reply_is_a_retried_failure_never_a_crash(kind, merged_data, tmp_path, raw_server,
                                                                   monkeypatch):  # fmt: skip
    """Every third request gets the malformed reply: each sample's retries get a good one,
    so the run ends with every sample answered and the scores of a clean run."""
    _fast(monkeypatch)
    server = raw_server(lambda n, body: MALFORMED[kind] if n % 3 == 0 else None)
    cfg = config(["ARC_c"], merged_data, tmp_path, limit=6, model={"openai_api_base": server.base_url})
    out = execute(cfg)
    res = out.results["fake-model"]["ARC-c"]
    assert res.answered == 6 and res.errors == 0, res.error_messages
    assert server.count >= 8  # the malformed replies were really served and retried


@pytest.mark.parametrize("kind", [k for k in MALFORMED if k != "escape sequences in an error"])
def test_a_server_that_always_misbehaves_gives_failed_requests_and_a_finished_run(
    kind, merged_data, tmp_path, raw_server, monkeypatch
):
    _fast(monkeypatch)
    server = raw_server(lambda n, body: MALFORMED[kind])
    cfg = config(["ARC_c"], merged_data, tmp_path, limit=2, model={"openai_api_base": server.base_url, "retries": 1})
    out = execute(cfg)
    res = out.results["fake-model"]["ARC-c"]
    assert res.answered == 0 and res.errors == 2
    assert res.error_messages and all(m and "Traceback" not in m for m in res.error_messages)
    manifest = json.loads((out.run_dir.root / "manifest.json").read_text())
    assert manifest["status"] == "finished"


def test_a_reply_over_the_size_cap_is_a_failed_request_not_retried(merged_data, tmp_path, raw_server):
    server = raw_server(lambda n, body: MALFORMED["reply over the size cap"] if n == 0 else None)
    cfg = config(["ARC_c"], merged_data, tmp_path, limit=3, concurrency=1, model={"openai_api_base": server.base_url})
    out = execute(cfg)
    res = out.results["fake-model"]["ARC-c"]
    assert res.answered == 2 and res.errors == 1 and server.count == 3
    assert list(res.error_messages) == ["reply larger than 4 MiB (max_reply_mb raises the cap) (failed on attempt 1)"]
    # With a higher cap the same reply is read (and, as it is no JSON, retried).
    cfg = config(["ARC_c"], merged_data, tmp_path / "b", limit=1, retry_budget=0,  # no healing round
                 model={"openai_api_base": server.base_url, "max_reply_mb": 8, "retries": 0})  # fmt: skip
    server.count = 0
    out = execute(cfg)
    assert "not JSON" in next(iter(out.results["fake-model"]["ARC-c"].error_messages))


def test_server_text_with_escape_sequences_is_made_printable(merged_data, tmp_path, raw_server, capsys):
    server = raw_server(lambda n, body: MALFORMED["escape sequences in an error"])
    cfg = config(["ARC_c"], merged_data, tmp_path, limit=1, model={"openai_api_base": server.base_url})
    out = execute(cfg)
    (message,) = out.results["fake-model"]["ARC-c"].error_messages
    assert "\x1b" not in message and "\x07" not in message and "bad" in message and "thing" in message
    summary = (out.run_dir.root / f"summary/summary_{out.run_dir.root.name}.txt").read_text()
    assert "\x1b" not in summary


def test_printable_removes_escapes_and_controls():
    assert printable("a\x1b[31mred\x1b[0m b\x1b]0;title\x07c\x00d\x9be") == "ared bcde"
    assert printable("tab\tnew\nline") == "tab\tnew\nline"


def test_the_cli_exits_3_when_samples_stay_unscored_and_0_when_a_resume_scores_them(merged_data, tmp_path,
                                                                                     raw_server):  # fmt: skip
    import subprocess
    import sys

    broken = {"on": True}
    server = raw_server(lambda n, body: MALFORMED["status line 2OO"] if broken["on"] else None)
    argv = [sys.executable, "-m", "compasslite.cli", "run", "--datasets", "ARC_c", "--limit", "2", "--api-base",
            server.base_url, "--model", "fake-model", "--data-dir", str(merged_data), "--work-dir",
            str(tmp_path), "--retries", "0", "--no-progress"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    (run,) = list(tmp_path.iterdir())
    assert "2 sample(s) not scored" in proc.stderr and f"compasslite run --resume {run}" in proc.stderr
    broken["on"] = False
    resumed = subprocess.run([sys.executable, "-m", "compasslite.cli", "run", "--resume", str(run), "--no-progress"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
