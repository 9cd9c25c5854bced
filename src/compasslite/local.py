"""Glue between a run and the embedded local model server (the `local` extra)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from .config import ModelConfig


@dataclass
class LocalEndpoint:
    api_base: str
    context_length: int | None
    model_name: str
    slots: int  # parallel decoding slots: more requests in flight would only queue


@contextlib.contextmanager
def local_endpoint(model: ModelConfig) -> Iterator[LocalEndpoint]:
    """Start the embedded llama.cpp server for the duration of a run."""
    from .local_model import LocalModelServer

    with LocalModelServer(local_model_path=model.local_model) as server:
        yield LocalEndpoint(server.base_url, server.context_length, server.model_name, server.parallel)
