"""Prompt filling and rendering exactly as OpenCompass does it (spec A.5-A.7)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import orjson

from .types import Prompt, Turn

ICE_TOKEN = "</E>"

_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
# Maps ASCII letters/digits to "a" and every other byte (UTF-8 lead and continuation bytes
# included) to a space: each [A-Za-z0-9]+ run then starts at an " a" (or at offset 0).
_ALNUM_BYTES = bytes(97 if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))


def fill(text: str, row: dict[str, Any]) -> str:
    """Replace every literal `{column}` by str(value), one column after another in row order."""
    for column, value in row.items():
        placeholder = "{" + column + "}"
        if placeholder in text:
            text = text.replace(placeholder, str(value))
    return text


def assemble(
    template: Sequence[Turn],
    row: dict[str, Any],
    output_column: str,
    ice_template: Sequence[Turn] | None = None,
    ice_rows: Sequence[dict[str, Any]] = (),
) -> list[Turn]:
    """The filled turn sequence of one test item: in-context examples first, then the item.

    The output column is blanked in the test row; the test row is then filled into every
    turn, in-context turns included (they were filled with their own rows first).
    """
    turns: list[Turn] = []
    if ice_template is not None:
        for ice_row in ice_rows:
            turns.extend(Turn(t.role, fill(t.text, ice_row)) for t in ice_template)
    turns.extend(template)
    test_row = dict(row)
    if output_column in test_row:
        test_row[output_column] = ""
    return [Turn(t.role, fill(t.text, test_row)) for t in turns]


def flatten(turns: Sequence[Turn]) -> str:
    """No meta template: non-empty turn texts joined by one LF (spec A.6)."""
    out: list[str] = []
    separator = ""
    for turn in turns:
        if turn.text:
            out.append(separator + turn.text)
        separator = "\n"
    return "".join(out)


def meta_template_messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """With a meta template: one message per role per round; the final BOT turn is dropped."""
    rounds: list[list[Turn]] = []
    for turn in turns:
        if turn.role == "HUMAN" or not rounds or any(t.role == "BOT" for t in rounds[-1]):
            rounds.append([turn])
        else:
            rounds[-1].append(turn)
    messages: list[dict[str, str]] = []
    for i, rnd in enumerate(rounds):
        last = i == len(rounds) - 1
        by_role = {t.role: t.text for t in rnd}
        for role in ("HUMAN", "BOT"):
            if last and role == "BOT":
                break
            text = by_role.get(role, "")
            if messages and messages[-1]["role"] == role:
                messages[-1]["prompt"] += "\n" + text
            else:
                messages.append({"role": role, "prompt": text})
    return messages


_API_ROLE = {"HUMAN": "user", "BOT": "assistant", "SYSTEM": "system"}


def estimate_length(text: str) -> int:
    """OpenCompass's token estimate: runs of ASCII letters/digits plus CJK characters."""
    mapped = text.encode("utf-8").translate(_ALNUM_BYTES)
    words = mapped.count(b" a") + (mapped[:1] == b"a")
    if text.isascii():
        return words
    return words + len(_CJK_CHAR.findall(text))


def render(turns: Sequence[Turn], meta_template: bool) -> Prompt:
    if meta_template:
        oc_messages = meta_template_messages(turns)
        messages = [{"role": _API_ROLE[m["role"]], "content": m["prompt"]} for m in oc_messages]
        text = "\n".join(m["prompt"] for m in oc_messages)
        estimate = estimate_length("".join(m["prompt"] for m in oc_messages))
        origin: str | list[dict[str, str]] = oc_messages
    else:
        text = flatten(turns)
        messages = [{"role": "user", "content": text}]
        estimate = estimate_length(text)
        origin = text
    digest = hashlib.blake2b(orjson.dumps(messages), digest_size=10).hexdigest()
    return Prompt(origin_prompt=origin, messages=messages, text=text, estimate=estimate, fingerprint=digest)


def with_system_prompt(prompt: Prompt, system: str) -> Prompt:
    """The prompt with a system message first (chat), or the system text and a LF before it
    (completion); the fingerprint changes with it, so a resume never reuses other replies."""
    messages = [{"role": "system", "content": system}, *prompt.messages]
    digest = hashlib.blake2b(orjson.dumps(messages), digest_size=10).hexdigest()
    return Prompt(
        origin_prompt=prompt.origin_prompt,
        messages=messages,
        text=system + "\n" + prompt.text,
        estimate=prompt.estimate + estimate_length(system),
        fingerprint=digest,
    )


def render_sample(
    template: Sequence[Turn],
    row: dict[str, Any],
    output_column: str,
    *,
    meta_template: bool,
    ice_template: Sequence[Turn] | None = None,
    ice_rows: Sequence[dict[str, Any]] = (),
    max_seq_len: int | None = None,
) -> Prompt:
    """Render one test item; drop in-context examples from the end while the estimate
    exceeds max_seq_len (OpenCompass's length guard)."""
    n = len(ice_rows)
    while True:
        turns = assemble(template, row, output_column, ice_template, ice_rows[:n])
        prompt = render(turns, meta_template)
        if max_seq_len is None or n == 0 or prompt.estimate <= max_seq_len:
            return prompt
        n -= 1
