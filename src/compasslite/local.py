"""Glue between a run and the embedded local model server (the `local` extra)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .config import ModelConfig


@contextlib.contextmanager
def local_endpoint(model: ModelConfig) -> Iterator[tuple[str, int | None, str]]:
    """Start the embedded llama.cpp server; yield (api base, context length, served model name)."""
    from .local_model import LocalModelServer

    with LocalModelServer(model_path=model.local_model) as server:
        yield server.base_url, server.context_length, server.model_name
