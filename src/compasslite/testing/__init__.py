"""A real OpenAI-compatible HTTP server for tests, demos and benchmarks."""

from .server import FakeServer, Faults, fixed, oracle, prompt_key

__all__ = ["FakeServer", "Faults", "fixed", "oracle", "prompt_key"]
