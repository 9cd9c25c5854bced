"""The few core types every part of compasslite speaks.

A benchmark family declares Subsets (see benchmark.py). At run time each test row
becomes a Sample; the client turns a rendered Prompt into a Reply; the runner
stores one Record per sample (appended to JSONL as soon as it finishes); scoring
turns the records of one subset into a DatasetResult.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["HUMAN", "BOT"]


@dataclass(frozen=True)
class Turn:
    """One template turn in OpenCompass terms (HUMAN becomes `user`, BOT `assistant`)."""

    role: Role
    text: str

    @staticmethod
    def human(text: str) -> Turn:
        return Turn("HUMAN", text)

    @staticmethod
    def bot(text: str) -> Turn:
        return Turn("BOT", text)


@dataclass(frozen=True)
class Sample:
    """One evaluated row of a sub-dataset; `index` is its position in the full test split."""

    abbr: str
    index: int
    row: dict[str, Any]


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: what OpenCompass records (`origin_prompt`) and what is sent."""

    origin_prompt: str | list[dict[str, str]]  # flat string, or [{role, prompt}] with a meta template
    messages: list[dict[str, str]]  # chat endpoint payload
    text: str  # completion endpoint payload
    estimate: int  # OpenCompass's length estimate (words + CJK characters)
    fingerprint: str  # hash of what is sent; a stored reply is reused only for the same fingerprint


@dataclass
class Reply:
    """What the server finally said for one request (after retries)."""

    text: str | None  # stripped reply, None when the request failed
    error: str | None = None
    finish_reason: str | None = None
    attempts: int = 1
    latency_s: float = 0.0
    usage: dict[str, int] | None = None
    reasoning: str | None = None  # a separate reasoning field (reasoning_content / reasoning)
    # Why the request failed: "transient" (timeouts, 429, 5xx, garbled replies: worth asking
    # again later) or "permanent" (a 4xx, a reply over the size cap: asking again will not help).
    error_kind: str | None = None


@dataclass
class Record:
    """The per-sample record, one JSON line in records/<model>.jsonl."""

    abbr: str
    index: int
    fingerprint: str
    origin_prompt: str | list[dict[str, str]]
    prediction: str | None
    error: str | None = None
    finish_reason: str | None = None
    attempts: int = 1
    latency_s: float = 0.0
    usage: dict[str, int] | None = None
    reasoning: str | None = None  # the server's separate reasoning field; never scored
    error_kind: str | None = None  # "transient" or "permanent" (see Reply); None in older records

    @classmethod
    def of_reply(cls, abbr: str, index: int, prompt: Prompt, reply: Reply) -> Record:
        """The record of a sample the server was asked for."""
        return cls(
            abbr=abbr,
            index=index,
            fingerprint=prompt.fingerprint,
            origin_prompt=prompt.origin_prompt,
            prediction=reply.text,
            error=reply.error,
            finish_reason=reply.finish_reason,
            attempts=reply.attempts,
            latency_s=round(reply.latency_s, 4),
            usage=reply.usage,
            reasoning=reply.reasoning,
            error_kind=reply.error_kind,
        )

    @property
    def answered(self) -> bool:
        return self.error is None and self.prediction is not None

    @property
    def heals(self) -> bool:
        """A failed request worth asking again in a healing round: not a permanent failure
        (records written before error kinds existed count as transient)."""
        return not self.answered and self.error_kind != "permanent"


@dataclass
class Score:
    """What a scorer returns: metrics in summary order, plus per-sample details."""

    metrics: dict[str, float | int]
    details: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DatasetResult:
    """The result of one sub-dataset for one model."""

    abbr: str
    metrics: dict[str, float | int]  # empty when nothing was answered
    total: int  # samples selected for evaluation
    answered: int
    errors: int
    missing: int  # never requested (interrupted run)
    details: list[dict[str, Any]] = field(default_factory=list)
    unfinished: int = 0  # answered, but the reply ended inside its thinking (scored as empty)
    repeat_metrics: list[dict[str, float | int]] = field(default_factory=list)  # --repeats: each repeat's
    repeat_std: dict[str, float] = field(default_factory=dict)  # sample std across repeats
    error_messages: dict[str, int] = field(default_factory=dict)  # message -> count
    failed_indices: list[int] = field(default_factory=list)  # samples whose requests failed
    scoring_interrupted: bool = False  # Ctrl-C came before this sub-dataset was scored
