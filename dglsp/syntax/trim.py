"""Cut a model's raw fill down to what should be inserted at a gap.

The result replaces `text[gap.start:gap.end]` (a stub, a selection, or nothing). When that span is only
auto-closed characters (`)`, `"` ... after the cursor) the fill is trimmed as text inserted before them and they are
put back after it: the buffer checked is `text[:gap.start] + fill + text[gap.start:]`, and the result is the fill
plus those closers. "" means nothing to insert.
"""

from __future__ import annotations

import re

from .gap import CLOSERS, Gap, indent_steps, indent_unit, leading
from .languages import Grammar, find_grammar, parser

_WINDOW = 4000  # characters parsed on each side of a gap: a 100k-line file stays cheap
_CANDIDATES = 24  # parses per fill at most, the empty fill's included
_OPEN, _CLOSE = "([{", ")]}"
_CUT_AFTER = ")]}\"'`;,"  # a line fill may end right after these (or after a word)
_TRIVIAL_LINE = re.compile(r"[)\]};,\s]*|end")  # suffix lines too common to mean the model is repeating code
# Control characters and U+FFFD (half a multi-byte character from a byte-level tokenizer) never belong in code.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")
_TOP_LEVEL = re.compile(r"^(?![)\]}]|end\b)\S", re.M)  # a line at column 0 that does not close a block


def trim_fill(text: str, gap: Gap, fill: str, language: str | None, *, parse: bool = True) -> str:
    """What to insert for `fill` (a model's raw output) at `gap`; "" when nothing of it should be."""
    if gap.kind == "none":
        return ""
    fill = plain_text(fill)
    shown = indent_unit(text, default="")  # "" when the document shows no indentation yet
    unit = shown or _grammar_indent(language)
    width = _fill_width(fill.split("\n")[1:], unit, gap.indent, trusted=bool(shown))
    closers = _closers(text, gap)
    body = _first_line(fill) if gap.kind == "line" else _block(text, gap, fill, unit, width)
    body = _cut_overlap(closers + text[gap.end : gap.end + 2000], gap, body)
    body = _indent(text, gap, body, unit, width, replaces=not closers)
    grammar = find_grammar(language)
    if parse and grammar is not None and body:
        body = _parses(text, gap, closers, body, grammar)
    return body + closers if body else ""


def plain_text(fill: str) -> str:
    """`fill` without what never belongs in code (control characters, U+FFFD), with Unix line ends."""
    return _NOT_TEXT.sub("", fill.replace("\r\n", "\n"))


def reindent(fill: str, indent: str, unit: str, width: int | None = None) -> str:
    """`fill` with its lines after the first re-indented in the document's `unit`, relative to `indent`.

    The fill's levels are read in its own unit, `width` columns per level (by default the document's space unit,
    or the fill's own step where the document has tabs: a model may indent with spaces there). Lines less indented
    than `indent` are put at `indent`.
    """
    lines = fill.split("\n")
    width = width or _fill_width(lines[1:], unit, indent)
    base = _base_columns(indent, unit, width)
    out = lines[:1]
    for line in lines[1:]:
        lead = leading(line)
        extra = max(0, round(_columns(lead, width) - base))
        out.append(indent + unit * (extra // width) + " " * (extra % width) + line[len(lead) :] if line.strip() else "")
    return "\n".join(out)


def _closers(text: str, gap: Gap) -> str:
    """The auto-closed characters the gap took, which stay after the fill; "" when the gap replaces code."""
    span = text[gap.start : gap.end]
    return span if all(c in CLOSERS or c in " \t" for c in span) else ""


def _grammar_indent(language: str | None) -> str:
    grammar = find_grammar(language)
    return grammar.indent if grammar else "    "


def _first_line(fill: str) -> str:
    """Rule 1: a line gap keeps the fill's first line."""
    return fill.split("\n", 1)[0].rstrip()


def _block(text: str, gap: Gap, fill: str, unit: str, width: int) -> str:
    """Rule 2: a block fill ends where it leaves its scope or starts re-writing the code after the gap."""
    lines = fill.split("\n")
    line_start = text.rfind("\n", 0, gap.start) + 1
    on_blank_line = not text[line_start : gap.start].strip()
    own_indent = line_start == gap.start  # does the first line's indentation count
    if on_blank_line and len(lines) > 1 and not lines[0].strip():
        lines, own_indent = lines[1:], True  # the cursor's own (blank) line is where the fill starts
    base = _base_columns(gap.indent, unit, width)
    repeated = _first_code_line(text, gap.end)
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.strip():
            if (i > 0 or own_indent) and _columns(leading(line), width) < base:
                break
            if line.strip() == repeated:
                break
        kept.append(line)
    return "\n".join(kept).rstrip()


def _first_code_line(text: str, offset: int, scan: int = 20) -> str | None:
    """The first non-blank line from `offset` on (stripped), unless it is only closers that any code may repeat."""
    for line in text[offset : offset + 4000].split("\n", scan)[:scan]:
        if line.strip():
            return None if _TRIVIAL_LINE.fullmatch(line.strip()) else line.strip()
    return None


def _cut_overlap(after: str, gap: Gap, body: str) -> str:
    """Rule 3: drop the end of the fill that repeats `after`, the code right after it (`foo(a, b))` before `)`).

    An overlap is cut only at token edges and only when the fill does not need it to close its own brackets.
    """
    if gap.kind == "block":
        after = after.lstrip()
    for k in range(min(len(body), len(after)), 0, -1):
        overlap, rest = after[:k], body[:-k]
        if not overlap.strip() or not body.endswith(overlap):
            continue
        splits_word = _is_word(overlap[0]) and _is_word(rest[-1:])
        splits_word = splits_word or (_is_word(overlap[-1]) and _is_word(after[k : k + 1]))
        if not splits_word and _depth(rest) <= 0:
            return rest.rstrip() if gap.kind == "block" else rest
    return body


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _depth(code: str) -> int:
    return sum(code.count(c) for c in _OPEN) - sum(code.count(c) for c in _CLOSE)


def _indent(text: str, gap: Gap, body: str, unit: str, width: int, replaces: bool) -> str:
    """Rule 4: no doubled space at the gap; the fill's lines in the document's unit, relative to `gap.indent`.

    `replaces`: the gap replaces code (a stub, a selection), whose spacing a one-line fill keeps.
    """
    line_start = text.rfind("\n", 0, gap.start) + 1
    if line_start < gap.start and text[gap.start - 1] in " \t":
        body = body.lstrip(" \t")
    if gap.kind == "block" and line_start == gap.start:
        return reindent("\n" + body, gap.indent, unit, width)[1:]  # the first line starts a line too
    if "\n" not in body:
        span = text[gap.start : gap.end] if replaces and body.strip() else ""
        return leading(span) + body.strip(" \t") + span[len(span.rstrip(" \t")) :] if span.strip() else body
    body = reindent(body, gap.indent, unit, width)
    line_end = text.find("\n", gap.end)
    if text[gap.end : len(text) if line_end < 0 else line_end].strip():
        # Code after the gap on its line (the `}` of a one-line body) moves to a line of its own.
        body += "\n" + leading(text[line_start : gap.start])
    return body


def _fill_width(lines: list[str], unit: str, indent: str, trusted: bool = True) -> int:
    """Columns per level in the fill's lines: the document's space unit when it shows one (`trusted`), else the
    fill's own step, else its first indented line's spaces over the levels of `indent`."""
    spaces = len(unit) if unit.strip(" ") == "" else 0
    if spaces and trusted:
        return spaces
    leads = [leading(line) for line in lines if line.strip()]
    steps = [(n, step) for step, n in indent_steps(leads, previous=None).items() if "\t" not in step]
    if steps:
        return len(max(steps)[1])
    levels = indent.count("\t") + indent.count(" ") // (spaces or 4)
    first = next((len(lead) for lead in leads if lead and "\t" not in lead), 0)
    return first // levels if levels and first and first % levels == 0 else spaces or 4


def _columns(indent: str, width: int) -> int:
    """Columns of a fill line's indentation, a tab counting as one level."""
    return indent.count("\t") * width + indent.count(" ")


def _base_columns(indent: str, unit: str, width: int) -> float:
    """Columns of the document's `indent` in the fill's frame (`width` columns per level)."""
    spaces = len(unit) if unit.strip(" ") == "" else 4
    return indent.count("\t") * width + indent.count(" ") * width / spaces


def _parses(text: str, gap: Gap, closers: str, body: str, grammar: Grammar) -> str:
    """Rule 5: the longest cut of the fill among those with the fewest syntax errors, if no more than without it."""
    lo, hi = _window(text, gap.start, gap.end)
    head, tail = text[lo : gap.start], closers + text[gap.end : hi]
    syntax = parser(grammar.name)

    def errors(candidate: str) -> int:
        return _errors(syntax.parse((head + candidate + tail).encode("utf-8")).root_node)

    best, fewest = "", errors("")
    for candidate in _cuts(body, gap.kind)[: _CANDIDATES - 1]:
        count = errors(candidate)
        if count < fewest or (count == fewest and not best):
            best, fewest = candidate, count
        if count == 0:
            break
    return best


def _cuts(body: str, kind: str) -> list[str]:
    """The fill and its shorter versions, longest first: at line ends for a block, after tokens for a line."""
    if kind == "block":
        ends = [i for i, c in enumerate(body) if c == "\n"]
    else:
        ends = [
            i
            for i in range(1, len(body))
            if body[i - 1] in _CUT_AFTER or (_is_word(body[i - 1]) and not _is_word(body[i]))
        ]
    cuts = [body] + [body[:i].rstrip() for i in reversed(ends)]
    return [c for i, c in enumerate(cuts) if c and c not in cuts[:i]]


def _window(text: str, start: int, end: int) -> tuple[int, int]:
    """About `_WINDOW` characters each side of the gap, from a top-level line to the next one after the gap."""
    if len(text) - (end - start) <= 2 * _WINDOW:
        return 0, len(text)
    lo, hi = max(0, start - _WINDOW), min(len(text), end + _WINDOW)
    starts = [m.start() for m in _TOP_LEVEL.finditer(text, lo, start)]
    first = starts[-1] if starts else (text.find("\n", lo, start) + 1 or lo)
    following = _TOP_LEVEL.search(text, text.find("\n", end) + 1 or hi, hi)
    return first, following.start() if following else hi


def _errors(node) -> int:
    """ERROR and MISSING nodes under `node` (subtrees without errors are skipped)."""
    if not node.has_error:
        return 0
    return int(node.is_error or node.is_missing) + sum(_errors(child) for child in node.children)
