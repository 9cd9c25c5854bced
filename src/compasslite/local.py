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


# Runs use one slot. With several, llama.cpp decodes the tokens of every busy slot in one
# batch, and which requests share a batch, and which cached prompt prefix a slot reuses, depend
# on timing; the floating-point sums then differ in the last bits and greedy replies at
# temperature 0 drift apart from run to run (the README demo: 3 to 12 of 40 replies differed
# between two runs of the same command). One slot, asked one request at a time in the run's
# order, gives the same replies every run, and is as fast on 2 cores: both threads work on
# the one slot (README, "The embedded local model").
RUN_SLOTS = 1


@contextlib.contextmanager
def local_endpoint(model: ModelConfig) -> Iterator[LocalEndpoint]:
    """Start the embedded llama.cpp server for the duration of a run."""
    from .local_model import DEFAULT_PARALLEL, LocalModelServer, default_threads

    threads = default_threads(DEFAULT_PARALLEL)  # as many as the default slots would use
    with LocalModelServer(local_model_path=model.local_model, parallel=RUN_SLOTS, threads=threads) as server:
        yield LocalEndpoint(server.base_url, server.context_length, server.model_name, server.parallel)
