"""A real OpenAI-compatible HTTP server for tests, demos and benchmarks."""

from .server import FakeServer, Faults, deterministic, fixed, oracle, prompt_key

__all__ = ["FakeServer", "Faults", "deterministic", "fixed", "oracle", "prompt_key"]
