"""Data on demand, against a local HTTP server on 127.0.0.1 (no test reaches the internet)."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from compasslite import datastore as ds
from compasslite.errors import DataError

GSM_TEST = b'{"question": "1+1?", "answer": "#### 2"}\n'
GSM_TRAIN = b'{"question": "2+2?", "answer": "#### 4"}\n'
ARC_E = b'{"question": {"stem": "easy"}, "answerKey": "A"}\n'
ARC_C = b'{"question": {"stem": "hard"}, "answerKey": "B"}\n'


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gitblob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


class FileServer:
    """Serves `files` by name, honours `Range: bytes=N-`, can cut a response in half once."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.drop_once: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                outer.requests.append((name, rng))
                data = outer.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in outer.drop_once:
                    outer.drop_once.discard(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPASSLITE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def server(monkeypatch):
    with FileServer() as srv:
        monkeypatch.setenv(ds.ENV_BASE_URL, srv.url)
        yield srv


def publish(monkeypatch, srv: FileServer, filename: str, data: bytes, md5: str | None = "auto") -> None:
    srv.files[filename] = data
    digest = hashlib.md5(data).hexdigest() if md5 == "auto" else md5
    monkeypatch.setitem(
        ds.ARCHIVES, filename, ds.Archive(filename, f"http://example.invalid/{filename}", digest)
    )


MANIFEST = {
    "gsm8k/test.jsonl": (len(GSM_TEST), "sha256", sha256(GSM_TEST)),
    "ARC/ARC-e/ARC-Easy-Dev.jsonl": (None, "gitblob", gitblob(ARC_E)),
}


def leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir()) if data_dir.exists() else []


def test_download_verifies_and_installs(tmp_path, server, monkeypatch):
    publish(
        monkeypatch,
        server,
        "gsm8k.zip",
        make_zip({"gsm8k/test.jsonl": GSM_TEST, "gsm8k/train.jsonl": GSM_TRAIN}),
    )
    # ARC's archive has a leading data/ folder, as the OpenCompassData release zips do
    publish(
        monkeypatch,
        server,
        "ARC.zip",
        make_zip(
            {"data/ARC/ARC-e/ARC-Easy-Dev.jsonl": ARC_E, "data/ARC/ARC-c/ARC-Challenge-Dev.jsonl": ARC_C}
        ),
    )
    data_dir = tmp_path / "data"
    logs: list[str] = []
    seen: list[tuple[str, int, int | None]] = []
    results = ds.download(
        ["gsm8k", "arc_e", "ARC_c"],
        data_dir,
        manifest=MANIFEST,
        log=logs.append,
        progress=lambda *a: seen.append(a),
    )
    assert [(r.name, r.action, r.archive) for r in results] == [
        ("gsm8k", "installed", "gsm8k.zip"),
        ("ARC_e", "installed", "ARC.zip"),
        ("ARC_c", "installed", "ARC.zip"),
    ]
    assert (data_dir / "gsm8k/test.jsonl").read_bytes() == GSM_TEST
    assert (data_dir / "gsm8k/train.jsonl").read_bytes() == GSM_TRAIN
    assert (data_dir / "ARC/ARC-e/ARC-Easy-Dev.jsonl").read_bytes() == ARC_E
    assert (data_dir / "ARC/ARC-c/ARC-Challenge-Dev.jsonl").read_bytes() == ARC_C
    assert leftovers(data_dir) == ["ARC", "gsm8k"]  # no temp folder, no archive, no .part
    assert sorted(r[0] for r in server.requests) == ["ARC.zip", "gsm8k.zip"]  # ARC.zip fetched once
    assert seen and seen[-1][1] > 0
    assert any("installed gsm8k" in m for m in logs)

    rows = {r.name: r for r in ds.status(data_dir, ["gsm8k", "ARC_e", "ARC_c"], manifest=MANIFEST)}
    assert [f.state for f in rows["gsm8k"].files] == ["exact"]
    assert [f.state for f in rows["ARC_e"].files] == ["exact"]
    assert [f.state for f in rows["ARC_c"].files] == ["no reference"]

    # a second call finds everything present and fetches nothing
    server.requests.clear()
    again = ds.download(["gsm8k", "ARC_e"], data_dir, manifest=MANIFEST)
    assert [r.action for r in again] == ["already present", "already present"]
    assert server.requests == []


def test_dropped_connection_is_resumed_in_the_same_call(tmp_path, server, monkeypatch):
    blob = make_zip({"gsm8k/test.jsonl": GSM_TEST + b" " * 50_000, "gsm8k/train.jsonl": GSM_TRAIN})
    publish(monkeypatch, server, "gsm8k.zip", blob)
    server.drop_once.add("gsm8k.zip")
    data_dir = tmp_path / "data"
    ds.download(["gsm8k"], data_dir, manifest={}, retries=2)
    assert (data_dir / "gsm8k/train.jsonl").read_bytes() == GSM_TRAIN
    ranges = [r for _, r in server.requests]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    assert 0 < int(ranges[1][6:-1]) < len(blob)


def test_broken_download_resumes_on_the_next_run(tmp_path, server, monkeypatch):
    blob = make_zip({"gsm8k/test.jsonl": GSM_TEST * 2000, "gsm8k/train.jsonl": GSM_TRAIN})
    publish(monkeypatch, server, "gsm8k.zip", blob)
    server.drop_once.add("gsm8k.zip")
    data_dir = tmp_path / "data"
    with pytest.raises(DataError, match="cannot download gsm8k.zip"):
        ds.download(["gsm8k"], data_dir, manifest={}, retries=0)
    part = data_dir / ".compasslite-downloads" / "gsm8k.zip.part"
    assert 0 < part.stat().st_size < len(blob)
    assert not (data_dir / "gsm8k").exists()
    half = part.stat().st_size
    ds.download(["gsm8k"], data_dir, manifest={}, retries=0)
    assert server.requests[-1] == ("gsm8k.zip", f"bytes={half}-")
    assert (data_dir / "gsm8k/test.jsonl").read_bytes() == GSM_TEST * 2000
    assert leftovers(data_dir) == ["gsm8k"]


def test_md5_mismatch_leaves_nothing(tmp_path, server, monkeypatch):
    publish(monkeypatch, server, "gsm8k.zip", make_zip({"gsm8k/test.jsonl": GSM_TEST}), md5="0" * 32)
    data_dir = tmp_path / "data"
    with pytest.raises(DataError, match=r"gsm8k.zip is damaged \(md5"):
        ds.download(["gsm8k"], data_dir, manifest=MANIFEST)
    assert leftovers(data_dir) == []


def test_sha_mismatch_leaves_nothing(tmp_path, server, monkeypatch):
    # no published md5 (like the core release zip): each file is checked against the sha256 table
    publish(monkeypatch, server, "gsm8k.zip", make_zip({"gsm8k/test.jsonl": b"tampered\n"}), md5=None)
    data_dir = tmp_path / "data"
    with pytest.raises(DataError, match="gsm8k/test.jsonl does not match"):
        ds.download(["gsm8k"], data_dir, manifest=MANIFEST)
    assert leftovers(data_dir) == []


def test_sha_difference_is_a_warning_when_opencompass_md5_matches(tmp_path, server, monkeypatch):
    publish(monkeypatch, server, "gsm8k.zip", make_zip({"gsm8k/test.jsonl": b"newer upstream file\n"}))
    (result,) = ds.download(["gsm8k"], tmp_path / "data", manifest=MANIFEST)
    assert result.action == "installed" and "differs" in result.warnings[0]


def test_unreadable_zip_and_unsafe_paths_leave_nothing(tmp_path, server, monkeypatch):
    data_dir = tmp_path / "data"
    publish(monkeypatch, server, "gsm8k.zip", b"this is not a zip", md5=None)
    with pytest.raises(DataError, match="not a readable zip"):
        ds.download(["gsm8k"], data_dir, manifest={})
    assert leftovers(data_dir) == []
    publish(
        monkeypatch, server, "gsm8k.zip", make_zip({"gsm8k/test.jsonl": GSM_TEST, "../evil": b"x"}), md5=None
    )
    with pytest.raises(DataError, match="unsafe member"):
        ds.download(["gsm8k"], data_dir, manifest={})
    assert leftovers(data_dir) == [] and not (tmp_path / "evil").exists()


def test_offline_gives_one_clear_message(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(ds.ENV_BASE_URL, f"http://127.0.0.1:{port}/mirror")
    with pytest.raises(DataError) as info:
        ds.download(["mmlu"], tmp_path / "data")
    msg = str(info.value)
    assert f"http://127.0.0.1:{port}/mirror/mmlu.zip" in msg
    assert "refused" in msg.lower()
    assert "--data-dir" in msg and "by hand" in msg and "mmlu" in msg
    assert leftovers(tmp_path / "data") == []


def test_falls_back_to_the_core_archive(tmp_path, server, monkeypatch):
    # triviaqa.zip holds the newer jsonl files, not the DPR csv the suite reads
    publish(monkeypatch, server, "triviaqa.zip", make_zip({"triviaqa/triviaqa-validation.jsonl": b"{}\n"}))
    publish(
        monkeypatch,
        server,
        ds.CORE,
        make_zip({"data/triviaqa/trivia-dev.qa.csv": b"q\t['a']\n", "data/nq/nq-test.qa.csv": b"x\t['y']\n"}),
        md5=None,
    )
    data_dir = tmp_path / "data"
    (result,) = ds.download(["triviaqa"], data_dir, manifest={})
    assert result.archive == ds.CORE
    assert (data_dir / "triviaqa/trivia-dev.qa.csv").read_bytes() == b"q\t['a']\n"
    assert leftovers(data_dir) == ["triviaqa"]  # only the asked dataset, from the big archive


def test_missing_archive_falls_back_to_the_core_archive(tmp_path, server, monkeypatch):
    publish(monkeypatch, server, ds.CORE, make_zip({"data/gsm8k/test.jsonl": GSM_TEST}), md5=None)
    (result,) = ds.download(["gsm8k"], tmp_path / "data", manifest=MANIFEST)  # gsm8k.zip: HTTP 404
    assert result.archive == ds.CORE
    assert [name for name, _ in server.requests] == ["gsm8k.zip", ds.CORE]


def test_incomplete_folder_is_replaced_only_with_yes(tmp_path, server, monkeypatch):
    publish(monkeypatch, server, "gsm8k.zip", make_zip({"gsm8k/test.jsonl": GSM_TEST}))
    data_dir = tmp_path / "data"
    (data_dir / "gsm8k").mkdir(parents=True)
    (data_dir / "gsm8k/train.jsonl").write_bytes(GSM_TRAIN)
    with pytest.raises(DataError, match="--yes"):
        ds.download(["gsm8k"], data_dir, manifest=MANIFEST)
    assert server.requests == []
    ds.download(["gsm8k"], data_dir, yes=True, manifest=MANIFEST)
    assert (data_dir / "gsm8k/test.jsonl").read_bytes() == GSM_TEST
    assert not (data_dir / "gsm8k/train.jsonl").exists()  # the folder was replaced as a whole
    assert leftovers(data_dir) == ["gsm8k"]


def test_status_marks_exact_differing_unreferenced_and_missing(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "gsm8k").mkdir(parents=True)
    (data_dir / "gsm8k/test.jsonl").write_bytes(GSM_TEST)
    (data_dir / "ARC/ARC-e").mkdir(parents=True)
    (data_dir / "ARC/ARC-e/ARC-Easy-Dev.jsonl").write_bytes(ARC_E + b"changed")
    (data_dir / "ARC/ARC-c").mkdir(parents=True)
    (data_dir / "ARC/ARC-c/ARC-Challenge-Dev.jsonl").write_bytes(ARC_C)
    manifest = dict(MANIFEST)
    manifest["ARC/ARC-c/ARC-Challenge-Dev.jsonl"] = (
        len(ARC_C),
        "sha256",
        "0" * 64,
    )  # same size, other digest
    rows = {r.name: r for r in ds.status(data_dir, manifest=manifest)}
    assert len(rows) == 48
    assert rows["gsm8k"].files[0].state == "exact" and rows["gsm8k"].state == "complete"
    assert rows["ARC_e"].files[0].state == "differs"  # git blob id differs
    assert rows["ARC_c"].files[0].state == "differs"
    assert rows["mmlu"].state == "missing" and rows["mmlu"].present == 0
    (data_dir / "ARC/ARC-c/ARC-Challenge-Dev.jsonl").write_bytes(ARC_C)
    manifest.pop("ARC/ARC-c/ARC-Challenge-Dev.jsonl")
    assert ds.status(data_dir, ["arc_c"], manifest=manifest)[0].files[0].state == "no reference"


def test_status_reuses_cached_digests(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "gsm8k").mkdir(parents=True)
    (data_dir / "gsm8k/test.jsonl").write_bytes(GSM_TEST)
    cache = tmp_path / "digests.json"
    ds.status(data_dir, ["gsm8k"], manifest=MANIFEST, cache_file=cache)
    assert sha256(GSM_TEST) in cache.read_text()


def test_layouts_cover_every_registered_file():
    for name, layout in ds.LAYOUTS.items():
        files, _ = ds.dataset_files(name)
        assert files, name
        for rel in files:
            assert any(rel.startswith(unit + "/") for unit in layout.units), (name, rel)
        assert all(a in ds.ARCHIVES for a in layout.archives), name


def test_real_manifest_shape():
    from compasslite.data_manifest import NO_REFERENCE, REFERENCE

    assert len(REFERENCE) == 375 and len(NO_REFERENCE) == 271
    for rel, (size, kind, digest) in REFERENCE.items():
        assert not rel.startswith("data/")
        assert (kind, len(digest), size is None) in {("sha256", 64, False), ("gitblob", 40, True)}, rel


def test_cli_status_and_download(tmp_path, server, monkeypatch, capsys):
    from compasslite import cli_extras
    from compasslite.cli import main

    monkeypatch.setattr(cli_extras.console, "width", 200)
    publish(monkeypatch, server, "gsm8k.zip", make_zip({"gsm8k/test.jsonl": GSM_TEST}))
    data_dir = tmp_path / "data"
    assert main(["data", "download", "gsm8k", "--data-dir", str(data_dir)]) == 0
    assert (data_dir / "gsm8k/test.jsonl").read_bytes() == GSM_TEST
    capsys.readouterr()
    assert main(["data", "status", "--data-dir", str(data_dir)]) == 0
    output = capsys.readouterr().out
    assert "complete" in output and "missing" in output
    # an incomplete folder is not replaced without --yes when nobody can be asked
    (data_dir / "gsm8k/test.jsonl").unlink()
    (data_dir / "gsm8k/other.txt").write_text("mine")
    with pytest.raises(DataError, match="--yes"):
        cli_extras.data_download(["gsm8k"], data_dir, yes=False)
    assert cli_extras.data_download(["gsm8k"], data_dir, yes=True) == 0
    assert (data_dir / "gsm8k/test.jsonl").exists()
