"""Infilling with an instruction-tuned model that has no FIM tokens: the chat prompt that shows it the gap, and
the clean-up of its answer.

The same prompt serves dglsp's own `chat` layouts (DiffusionGemma's released `-it` checkpoints) and a chat
endpoint of an OpenAI-compatible server, so a model sees one wording of the task wherever it runs.
"""

from __future__ import annotations

import re

GAP = "<FILL>"
SYSTEM = (
    f"You fill a gap in a file. The user sends the file with the gap marked {GAP}. Answer with exactly the text "
    f"that replaces {GAP}: no explanation, no code fence, nothing that is already before or after the gap."
)
# Thinking spans as (opening, closing) tokens: Gemma 4's channel, then the <think> of other families. Thinking is
# off in the prompt; a model that thinks anyway has the span dropped from its answer.
THINKING = (("<|channel>", "<channel|>"), ("<think>", "</think>"))
_FENCE_OPEN = re.compile(r"^\s*```[\w+#.-]*[ \t]*\n")
_FENCE_CLOSE = re.compile(r"\n?```\s*$")


def messages(prefix: str, suffix: str, language: str | None) -> list[dict[str, str]]:
    """The conversation that asks for the gap: the instruction, then the file with the gap marked."""
    shown = f"```{language or ''}\n{prefix}{GAP}{suffix}\n```"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": shown}]


def merged(conversation: list[dict[str, str]]) -> list[dict[str, str]]:
    """The same conversation for a template that refuses a system turn: the instruction opens the user turn."""
    system = "\n\n".join(m["content"] for m in conversation if m["role"] == "system")
    rest = [dict(m) for m in conversation if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest


def without_thinking(ids: list[int], pairs: list[tuple[int, int]]) -> list[int]:
    """`ids` with every thinking span cut out; one left open runs to the end and is cut too."""
    out: list[int] = []
    closing: int | None = None
    for token in ids:
        if closing is not None:
            closing = None if token == closing else closing
            continue
        opened = next((close for open_, close in pairs if token == open_), None)
        if opened is not None:
            closing = opened
            continue
        out.append(token)
    return out


def answer_text(text: str, prefix: str, suffix: str) -> str:
    """The gap's text from a chat answer: a code fence around it dropped, and the lines it repeats from before
    or after the gap cut off (models often restate the line they complete, or run on into the suffix)."""
    text = unfenced(text)
    text = text[_echo_of_prefix(text, prefix) :]
    cut = _echo_of_suffix(text, suffix)
    return text[: len(text) - cut] if cut else text


def unfenced(text: str) -> str:
    opened = _FENCE_OPEN.match(text)
    if not opened:
        return text
    body = text[opened.end() :]
    closed = _FENCE_CLOSE.search(body)
    return body[: closed.start()] if closed else body


def _echo_of_prefix(text: str, prefix: str) -> int:
    """Length of the longest run of the prefix's last lines (from a line start to the gap) that `text` starts
    with, when it holds more than blanks, or the blank indentation the gap's line has; 0 otherwise. Only whole
    lines count, so `x = ` before the gap does not eat the `=` of an answer that starts with one."""
    indent = prefix[prefix.rfind("\n") + 1 :]
    if indent and not indent.strip() and text.startswith(indent):
        return len(indent)  # the answer restates the indentation the line already has
    # Only tails no longer than `text` can match: a 100k-line prefix costs no more than a short one.
    for start in range(max(0, len(prefix) - len(text)), len(prefix)):  # longest first
        tail = prefix[start:]
        if (start == 0 or prefix[start - 1] == "\n") and tail.strip() and text.startswith(tail):
            return len(tail)
    return 0


def _echo_of_suffix(text: str, suffix: str) -> int:
    """Length of the longest run of the suffix's first lines (from the gap to a line end) that `text` ends
    with, when it holds more than blanks; 0 otherwise."""
    for end in range(min(len(suffix), len(text)), 0, -1):  # longest first
        head = suffix[:end]
        if (end == len(suffix) or suffix[end] == "\n") and head.strip() and text.endswith(head):
            return len(head)
    return 0
