"""Reply policies of the differential harness: each a deterministic function of the prompt.

A policy maps the prompt text the server received (the message contents joined by LF, the
built-in server's `prompt_key`) to a reply. Both sides of a comparison send their prompts to
a server running the same policy, so byte-equal prompts get byte-equal replies, and any
difference in the scores comes from extraction or metrics.

- `natural`: varied natural styles, independent of the gold answer: option letters in many
  phrasings, numbers, short phrases, Chinese and English, some empty replies.
- `gold`: about half the replies carry the gold answer (in varied phrasings), the rest a
  natural reply, so the open-answer, math and code metrics are not stuck at 0.
- `adversarial`: replies aimed at the extractors: several letters, full-width letters,
  trailing punctuation, code fences, LaTeX, `<think>` blocks, very long text; half of them
  built around the gold answer.
- `local`: the real local model's reply, recorded once per prompt (see harness.py record-local).

The gold answer comes from a `GoldIndex` (prompt text -> gold text) that the harness builds
from the raw data rows; a prompt it does not know gets a natural reply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

Policy = Callable[[str], str]


def _h(prompt: str, salt: str = "") -> int:
    return int.from_bytes(hashlib.sha256((salt + "\x00" + prompt).encode()).digest()[:8], "big")


def _pick(prompt: str, salt: str, options: list[str]) -> str:
    return options[_h(prompt, salt) % len(options)]


LETTERS = "ABCDE"
FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "ABCDEFGHIJ0123456789"}

_NATURAL_LETTER = [
    "{L}",
    "{L}.",
    "The answer is {L}.",
    "Answer: {L}",
    "({L})",
    "I think the answer is ({L}) because it fits best.",
    "Option {L} is correct.",
    "Let's think step by step. The question asks about the options. So the answer is {L}.",
    "答案是{L}",
    "答案：{L}。",
    "选{L}",
    "正确答案是 {L}，因为其他选项不符合题意。",
    "{L}. {word}",
    "the answer is {l}",
    "Among A through D, the answer is {L}",
    "我认为应该选择{L}项。",
    "**{L}**",
    "So the final answer is: {L}",
]
_NATURAL_OTHER = [
    "",
    " ",
    "The answer is {n}.",
    "{n}",
    "#### {n}",
    "Let's think step by step.\nFirst we compute {n} - 3 = {m}.\nThe answer is {m}.",
    "yes",
    "No.",
    "So the answer is yes.",
    "是",
    "否",
    "不确定",
    "{word}",
    "I don't know.",
    "It depends on the context, but probably {word}.",
    "答案是{n}",
    "The final answer is $\\boxed{{{n}}}$.",
    "def f(x):\n    return x",
]
_WORDS = ["Paris", "water", "1972", "the dog", "北京", "光荣", "true", "False", "signs", "neutral"]


def natural(prompt: str) -> str:
    h = _h(prompt, "natural")
    style_pool = _NATURAL_LETTER if h % 3 else _NATURAL_OTHER
    style = style_pool[(h // 3) % len(style_pool)]
    letter = LETTERS[(h // 101) % 4]
    n = (h // 1009) % 200
    return style.format(
        L=letter, l=letter.lower(), n=n, m=n - 3, word=_WORDS[(h // 7919) % len(_WORDS)]
    )


def _gold_phrasings(gold: str, kind: str) -> list[str]:
    """Ways a model states a gold answer; `kind` is letter, number, code, text or multi."""
    if kind == "letter":
        return [
            gold, f"{gold}.", f"The answer is {gold}.", f"Answer: {gold}", f"({gold})", f"答案是{gold}",
            f"答案：{gold}", f"Looking at each option, {gold} is correct.", f"**{gold}**",
            f"So the answer is ({gold}).", f"选项{gold}正确。", f"{gold}. This is right.",
        ]  # fmt: skip
    if kind == "multi":
        return [gold, f"答案是{gold}", f"The answer is {gold}.", f"({gold})", ", ".join(gold)]
    if kind == "number":
        return [
            f"The answer is {gold}.", gold, f"#### {gold}", f"So the final answer is {gold}",
            f"Let's think step by step.\nWe get {gold} in the end.\nThe answer is {gold}.",
            f"答案是{gold}", f"$\\boxed{{{gold}}}$", f"The final answer is $\\boxed{{{gold}}}$.",
        ]  # fmt: skip
    if kind == "code":
        return [
            f"```python\n{gold}\n```", gold, f"Here is the solution:\n```python\n{gold}\n```\nDone.",
            f"```\n{gold}\n```", f"[BEGIN]\n'{gold}'\n[DONE]",
        ]  # fmt: skip
    if kind == "latex":
        return [
            f"The final answer is $\\boxed{{{gold}}}$.", f"$\\boxed{{{gold}}}$", f"\\boxed{{{gold}}}",
            f"So the answer is {gold}.", f"Final Answer: The final answer is ${gold}$. I hope it is correct.",
        ]  # fmt: skip
    return [
        gold, f"The answer is {gold}.", f"{gold}。", f"答案是{gold}", f"So the answer is {gold}",
        f"A: {gold}", f"{gold}\nThat is all.", f"I believe it is {gold}.",
    ]  # fmt: skip


def gold_policy(golds: Mapping[str, tuple[str, str]]) -> Policy:
    """About half right: a gold-carrying reply for about half the prompts the index knows."""

    def reply(prompt: str) -> str:
        entry = golds.get(prompt)
        h = _h(prompt, "gold")
        if entry is None or h % 2:
            return natural(prompt)
        gold, kind = entry
        return _pick(prompt, "gold-style", _gold_phrasings(gold, kind))

    return reply


def _long_text(prompt: str, tail: str) -> str:
    h = _h(prompt, "long")
    filler = "This sentence repeats to make the reply very long, as a rambling model would. "
    return filler * (200 + h % 200) + tail


_ADVERSARIAL = [
    "A or B? I would say B, not C.",
    "Ｂ",
    "答案：Ｃ。",
    "（Ｄ）",
    "A.",
    "B!",
    "C)",
    "D;",
    "(A), (B) and (C) are wrong, so D.",
    "```\nB\n```",
    "```python\nanswer = 'C'\n```",
    "$\\boxed{A}$",
    "\\boxed{\\text{(B)}}",
    "<think>The answer might be A. Let me check B.</think>\nC",
    "<think>\nI think it's D\n</think>\n\nThe answer is B.",
    "<think>unfinished thinking about option A",
    "Answer:\nD",
    "\nB",
    "b",
    "None of the above.",
    "ABCD",
    "The answer is A and B.",
    "I cannot answer that.",
    "1. A\n2. B",
    "答案是：A、B",
    "The answer is \\frac{1}{2}.",
    "$x = \\frac{3}{4}$ so the answer is $\\boxed{\\dfrac{3}{4}}$",
    "\\boxed{3}^\\circ and \\boxed{4}",
    "The answer is 1,234.5.",
    "#### 12\n#### 13",
    "The answer is -7.",
    "The answer is 3.0",
    "\u200bA\u200b",
    "“B”",
    "Answer: **C**.",
    "A\n\nExplanation: B is wrong, C is wrong, D is wrong.",
    "```python\ndef foo():\n    return 1\n",
    "    return sorted(set(l))\n",
    "[BEGIN]\n'def f(a):\n    return a'\n[DONE]",
    "",
    "Yes, no, maybe.",
    "是的，应该选B。不，选C。",
]


def adversarial(golds: Mapping[str, tuple[str, str]]) -> Policy:
    def reply(prompt: str) -> str:
        h = _h(prompt, "adversarial")
        entry = golds.get(prompt)
        if h % 7 == 0:
            tail = entry[0] if entry else LETTERS[h % 4]
            return _long_text(prompt, f"The answer is {tail}.")
        if entry is not None and h % 2 == 0:
            gold, kind = entry
            full = "".join(FULLWIDTH.get(c, c) for c in gold)
            return _pick(prompt, "adv-gold", [
                f"<think>Maybe it is something else. Or not.</think>\n{gold}",
                f"<think>\n{gold}?\n</think>\n\nThe answer is {gold}",
                f"{gold}。。。",
                f"**{gold}**!",
                f"```\n{gold}\n```",
                f"$\\boxed{{{gold}}}$",
                f"答案：{full}",
                f"\n\n{gold}\n\n",
                f"{gold} {gold} {gold}",
                f"Not sure. {gold}? Maybe.",
                f"\u3000{gold}\u3000",
                f"The answer is: \"{gold}\".",
            ])  # fmt: skip
        return _pick(prompt, "adv", _ADVERSARIAL)

    return reply


def recorded(replies: Mapping[str, str]) -> Policy:
    """Replay a reply recorded once per prompt (the local model's); unknown prompts get ''."""
    return lambda prompt: replies.get(prompt, "")


POLICIES = ("natural", "gold", "adversarial", "local")


def build(name: str, golds: Mapping[str, tuple[str, str]], local_replies: Mapping[str, str]) -> Policy:
    if name == "natural":
        return natural
    if name == "gold":
        return gold_policy(golds)
    if name == "adversarial":
        return adversarial(golds)
    if name == "local":
        return recorded(local_replies)
    raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}")
