"""Replies of thinking models: which part of a reply is scored.

Served without a reasoning parser, Qwen3, DeepSeek-R1 and their distills write their thinking
into the reply itself: `<think>...</think>answer`, or (R1's chat template opens the block in
the prompt) `...thinking...</think>answer`. With a parser the thinking arrives in a separate
field (`reasoning_content`, or `reasoning` in newer vLLM), which is kept in the records and
never scored.

Modes (`think` in a config, `--think`):
- `auto` (default): a reply holding a `</think>` is scored on the text after the last one; a
  reply that starts inside a `<think>` it never closes ended inside its thinking.
- `strip`: every `<think>...</think>` block is removed wherever it stands, with the text
  before a lone `</think>` and an unclosed `<think>` to the end.
- `keep`: the whole reply is scored, as OpenCompass 0.1.6 does (used by the parity checks).

A reply that ended inside its thinking (cut off by max_tokens, or stopped there) is
"unfinished reasoning": counted apart, and scored as OpenCompass scores an empty answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_MODES = ("auto", "strip", "keep")
OPEN, CLOSE = "<think>", "</think>"
_BLOCK = re.compile(re.escape(OPEN) + r".*?" + re.escape(CLOSE), re.DOTALL)


@dataclass(frozen=True)
class Answer:
    text: str  # what the extractor sees
    unfinished: bool = False  # the reply ended inside its thinking


def answer_part(
    reply: str, mode: str = "auto", *, finish_reason: str | None = None, reasoning: str | None = None
) -> Answer:
    """The part of a (stripped) reply that is scored under `mode`."""
    if mode == "keep":
        return Answer(reply)
    if mode not in THINK_MODES:
        raise ValueError(f"think mode {mode!r} is not one of {', '.join(THINK_MODES)}")
    if not reply.strip() and reasoning and finish_reason == "length":
        # A reasoning parser put everything in the separate field and the budget ran out.
        return Answer("", unfinished=True)
    if mode == "auto":
        close = reply.rfind(CLOSE)
        if close >= 0:
            return Answer(reply[close + len(CLOSE) :].strip())
        if reply.lstrip().startswith(OPEN):
            return Answer("", unfinished=True)
        return Answer(reply)
    # strip
    text = _BLOCK.sub("", reply)
    close = text.rfind(CLOSE)
    if close >= 0:
        text = text[close + len(CLOSE) :]
    unfinished = False
    opened = text.find(OPEN)
    if opened >= 0:
        text, unfinished = text[:opened], True
    text = text.strip()
    return Answer(text, unfinished=unfinished and not text)
