"""What to fill at a cursor (or for a selection, or a stub body): where, how much, and the code the model sees.

The per-language rules are data: the block-opener regex and line-comment string of `languages.GRAMMARS`, and the
`queries/definitions/<language>.scm` captures (@definition, @function with @body and @open, @keep).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from typing import Literal

from .languages import Grammar, find_grammar, grammar_for, parser, query
from .tree import Offsets

GapKind = Literal["none", "line", "block"]

# Characters an editor auto-closes: when only these follow the cursor, the fill replaces them instead of doubling them.
CLOSERS = frozenset(")]}\"'`;,")
PLAIN_OPENER = r"[:{]$"  # the block opener when no grammar is known
_CLOSING_LINE = re.compile(r"[)\]}]|end\b")  # a line that closes a block: `}` or Lua's `end`
_INDENTED = re.compile(r"^([ \t]*)\S", re.M)
_SCAN_LINES = 200  # how far to look for the lines around a blank line
_HEADER_LINES = 8  # the most lines of one definition's header kept above a cut prefix


@dataclass(frozen=True)
class Gap:
    kind: GapKind
    start: int  # where the fill goes (character offset)
    end: int  # end of the text the fill replaces: == start, or past auto-closed characters right after the cursor
    prefix: str  # code to send before the gap
    suffix: str  # code to send after the gap (what follows `end`)
    max_tokens: int  # token budget for the fill
    indent: str  # the indentation the fill's lines should line up with
    reason: str = ""  # for kind "none": why nothing is filled (shown to the user on request)


def indent_unit(text: str, default: str = "    ", sample_lines: int = 5000) -> str:
    """The document's indentation unit ("\\t" or N spaces): the most common step into a deeper line."""
    steps = indent_steps(m.group(1) for m in islice(_INDENTED.finditer(text), sample_lines))
    return steps.most_common(1)[0][0] if steps else default


def indent_steps(indents, previous: str | None = "") -> Counter[str]:
    """How often each step ("\\t" or up to 8 spaces) leads from one indentation to the next, deeper one; `previous`
    None skips the step into the first."""
    steps: Counter[str] = Counter()
    for indent in indents:
        if previous is not None and len(indent) > len(previous) and indent.startswith(previous):
            step = indent[len(previous) :]
            if step == "\t" or (step.strip(" ") == "" and len(step) <= 8):
                steps[step] += 1
        previous = indent
    return steps


def _columns(indent: str, unit: str) -> int:
    """Columns of `indent`, a tab counting as one unit (4 columns in a tab-indented document)."""
    tab = len(unit) if unit.strip(" ") == "" else 4
    return indent.count("\t") * tab + indent.count(" ")


def find_gap(
    text: str,
    cursor: int,
    language: str | None,
    *,
    tree=None,
    invoked: bool = False,
    multiline: str = "auto",
    line_tokens: int = 31,
    block_tokens: int = 127,
    context_chars: int = 6000,
) -> Gap:
    """The gap to fill at `cursor`: "block" after a block opener or on a blank line that ends a block body (or
    always/never, per `multiline`), else "line"; "none" for an automatic request inside a word or a comment.

    `tree`: the text's tree when the caller has one (a `SyntaxTree.current`). An unknown `language` is plain text,
    like None: a server gets every languageId there is.
    """
    if not 0 <= cursor <= len(text):
        raise ValueError(f"cursor {cursor} outside a text of {len(text)} characters")
    if multiline not in ("auto", "always", "never"):
        raise ValueError(f"multiline must be auto, always or never, not {multiline!r}")
    doc = _Doc(text, language, tree)
    line_start, line_end = _line_bounds(text, cursor)
    reason = "" if invoked else _skip_reason(doc, cursor, text[cursor:line_end])
    if reason:
        return Gap("none", cursor, cursor, "", "", 0, "", reason)
    end = cursor + _closers_length(text[cursor:line_end])
    block_here, indent = _block_here(doc, line_start, cursor, line_end)
    kind: GapKind = "block" if multiline == "always" or (multiline == "auto" and block_here) else "line"
    if kind == "line" or not block_here:
        indent = leading(text[line_start:line_end])
    prefix, suffix = _context(doc, cursor, end, context_chars)
    return Gap(kind, cursor, end, prefix, suffix, block_tokens if kind == "block" else line_tokens, indent)


def selection_gap(
    text: str, start: int, end: int, language: str | None, *, tree=None, context_chars: int = 6000
) -> Gap:
    """Rewrite `text[start:end]`: the selection is the gap; the budget lets the rewrite run half again as long."""
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"selection {start}..{end} outside a text of {len(text)} characters")
    doc = _Doc(text, language, tree)
    kind: GapKind = "block" if "\n" in text[start:end] else "line"
    line_start, line_end = _line_bounds(text, start)
    prefix, suffix = _context(doc, start, end, context_chars)
    tokens = max(8, math.ceil((end - start) / 3)) * 3 // 2
    return Gap(kind, start, end, prefix, suffix, tokens, leading(text[line_start:line_end]))


def enclosing_definition(text: str, offset: int, language: str, *, tree=None) -> tuple[int, int] | None:
    """Character range of the innermost function or method around `offset`, or None."""
    doc = _Doc(text, language, tree, required=True)
    found = _function_at(doc, offset)
    return doc.chars(found["function"]) if found else None


def body_gap(
    text: str, cursor: int, language: str, *, tree=None, context_chars: int = 6000, block_tokens: int = 127
) -> Gap | None:
    """ "Complete body": the stub statements of the function around `cursor` (a docstring or comment before them
    stays), or the place after its opener or docstring when the body is empty. None when there is no such function
    or its body already has code."""
    doc = _Doc(text, language, tree, required=True)
    found = _function_at(doc, cursor)
    if found is None:
        return None
    items = _body_items(found)
    stubs, keeps = _stub_ranges(doc, found), _keep_ranges(doc, found)
    ranges = [_rstrip(text, *doc.chars(item)) for item in items]  # Go's statement list takes its newline
    if not all(_is_stub(text, r, stubs) or r in keeps for r in ranges):
        return None
    stub = [r for r in ranges if _is_stub(text, r, stubs)]
    if stub:
        start, end = stub[0][0], stub[-1][1]
    else:
        start = end = ranges[-1][1] if ranges else doc.chars(found["open"])[1]
    # Around a stub that shares its line with other code (`{ todo!() }`) the gap takes the spaces too, so a
    # multi-line fill can start on a fresh line and the closer can move to its own.
    if text[_line_bounds(text, start)[0] : start].strip():
        start = _skip_blanks(text, start, -1)
    end = _skip_blanks(text, end, 1)
    first = ranges[0][0] if ranges else start
    line_start = _line_bounds(text, first)[0]
    if text[line_start:first].strip():
        header_start, header_end = _line_bounds(text, doc.chars(found["function"])[0])
        indent = leading(text[header_start:header_end]) + doc.unit
    else:
        indent = text[line_start:first]
    prefix, suffix = _context(doc, start, end, context_chars)
    return Gap("block", start, end, prefix, suffix, block_tokens, indent)


def _block_here(doc: _Doc, line_start: int, cursor: int, line_end: int) -> tuple[bool, str]:
    """(does a multi-line fill belong at the cursor, the indentation of its lines)."""
    before, after = doc.text[line_start:cursor], doc.text[cursor:line_end]
    if after.strip():
        return False, ""
    if not before.strip():
        return _blank_line(doc, line_start, line_end, before, doc.unit)
    if _opens_block(doc.grammar, before):
        return True, leading(before) + doc.unit  # the body of the block this line opens
    return False, ""


class _Doc:
    """A text, its grammar (None for plain text) and its tree, parsed only when first needed."""

    def __init__(self, text: str, language: str | None, tree=None, required: bool = False) -> None:
        self.text = text
        self.grammar = _grammar(language, required)
        self.offsets = Offsets(text)
        self._tree = tree

    @cached_property
    def unit(self) -> str:
        return indent_unit(self.text, self.grammar.indent if self.grammar else "    ")

    @property
    def tree(self):
        if self._tree is None:
            self._tree = parser(self.grammar.name).parse(self.text.encode("utf-8"))
        return self._tree

    def chars(self, node) -> tuple[int, int]:
        return self.offsets.char(node.start_byte), self.offsets.char(node.end_byte)

    def matches(self, kind: str, lo: int, hi: int) -> list[dict]:
        """The `kind` query's matches that overlap bytes lo..hi, as capture name -> node."""
        from tree_sitter import QueryCursor

        cursor = QueryCursor(query(self.grammar.name, kind))
        cursor.set_byte_range(lo, hi)
        return [{name: nodes[0] for name, nodes in found.items()} for _, found in cursor.matches(self.tree.root_node)]


def _grammar(language: str | None, required: bool) -> Grammar | None:
    return grammar_for(language) if required else find_grammar(language)


def _line_bounds(text: str, offset: int) -> tuple[int, int]:
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    if end > offset and text[end - 1] == "\r":
        end -= 1
    return text.rfind("\n", 0, offset) + 1, end


def _skip_blanks(text: str, offset: int, step: int) -> int:
    """`offset` moved over spaces and tabs, backwards (step -1) or forwards (step 1)."""
    if step < 0:
        while offset > 0 and text[offset - 1] in " \t":
            offset -= 1
    else:
        while offset < len(text) and text[offset] in " \t":
            offset += 1
    return offset


def _rstrip(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def leading(line: str) -> str:
    """A line's indentation (spaces and tabs)."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def _opens_block(grammar: Grammar | None, line: str) -> bool:
    return re.search(grammar.block_opener if grammar else PLAIN_OPENER, line.rstrip()) is not None


def _closers_length(after: str) -> int:
    rest = after.rstrip()
    return len(rest) if rest and all(c in CLOSERS or c in " \t" for c in rest) else 0


def _skip_reason(doc: _Doc, cursor: int, after: str) -> str:
    """Why an automatic request fills nothing, or ""."""
    if after[:1].isalnum() or after[:1] == "_":
        return "the cursor is inside a word"
    # Comments are prose: an automatic fill there is noise, and costs a model run on every keystroke. Strings are
    # not skipped: they hold keys, paths and format strings a fill gets right, and auto-closed quotes need it.
    if doc.grammar is not None and _in_comment(doc, cursor):
        return "the cursor is inside a comment"
    return ""


def _in_comment(doc: _Doc, cursor: int) -> bool:
    if cursor == 0:
        return False
    byte = doc.offsets.byte(cursor)
    node = doc.tree.root_node.descendant_for_byte_range(byte - 1, byte)
    # Every grammar here names its comment nodes *comment (comment, line_comment, block_comment).
    while node is not None and "comment" not in node.type:
        node = node.parent
    while node is not None and node.parent is not None and "comment" in node.parent.type:
        node = node.parent  # Lua's comment_content, Rust's doc_comment: the whole comment counts
    if node is None or not node.start_byte < byte <= node.end_byte:
        return False
    # Right after a comment's end only a line comment goes on; after `*/` the code resumes.
    start = doc.offsets.char(node.start_byte)
    return byte < node.end_byte or doc.text.startswith(doc.grammar.line_comment, start)


def _blank_line(doc: _Doc, line_start: int, line_end: int, before: str, unit: str) -> tuple[bool, str]:
    """(does a block fill belong here, its indent) for a cursor on a whitespace-only line."""
    previous, following = _nonblank(doc.text, line_start, -1), _nonblank(doc.text, line_end, 1)
    if previous is not None and _opens_block(doc.grammar, previous):
        return True, before or leading(previous) + unit  # an empty block
    indent = before
    # At column 0 above a `}`: inside the body that `}` closes, at the previous line's indentation.
    closing = not indent and previous is not None and following is not None and _CLOSING_LINE.match(following.lstrip())
    if closing and _columns(leading(previous), unit) > _columns(leading(following), unit):
        indent = leading(previous)
    # The end of a block body: the next code is less indented (or there is none).
    ends_body = following is None or _columns(leading(following), unit) < _columns(indent, unit)
    return bool(indent) and ends_body, indent


def _nonblank(text: str, edge: int, step: int) -> str | None:
    """The nearest non-blank line before line start `edge` (step -1) or after line end `edge` (step 1)."""
    for _ in range(_SCAN_LINES):
        if step < 0:
            if edge <= 0:
                return None
            start = text.rfind("\n", 0, edge - 1) + 1
            line, edge = text[start : edge - 1], start
        else:
            newline = text.find("\n", edge)
            if newline < 0:
                return None
            stop = text.find("\n", newline + 1)
            edge = len(text) if stop < 0 else stop
            line = text[newline + 1 : edge]
        if line.strip():
            return line.rstrip("\r")
    return None


CUT_STEP_CHARS = 256


def _context(doc: _Doc, start: int, end: int, budget: int) -> tuple[str, str]:
    """prefix, suffix around start..end, cut at line boundaries to about `budget` characters (3/4 before)."""
    text = doc.text
    before, after = start, len(text) - end
    if before + after <= budget:
        return text[:start], text[end:]
    keep_before = max(budget * 3 // 4, budget - after)
    keep_after = max(budget - keep_before, budget - before)
    cut, stop = 0, len(text)
    if before > keep_before:
        # The cut moves in steps, not with every character typed: the prefix then starts at the same place
        # keystroke after keystroke, and the encoder's prefix cache keeps hitting.
        step = max(CUT_STEP_CHARS, budget // 8)
        earliest = -(-(start - keep_before) // step) * step
        newline = text.find("\n", earliest, start)
        cut = min(earliest, start) if newline < 0 else newline + 1
    if after > keep_after:
        newline = text.rfind("\n", end, end + keep_after)
        stop = end + keep_after if newline < 0 else newline + 1
    headers = _headers(doc, start, cut) if cut and doc.grammar else ""
    return headers + text[cut:start], text[end:stop]


def _headers(doc: _Doc, start: int, cut: int) -> str:
    """The header lines of the definitions around `start` that begin before `cut`, outermost first."""
    text = doc.text
    # Probe at the last code before the cursor: a cursor on a blank line after a body is still in that body.
    probe = start
    while probe > 0 and text[probe - 1].isspace():
        probe -= 1
    byte = doc.offsets.byte(probe)
    found = []
    for match in doc.matches("definitions", max(byte - 1, 0), byte):
        node = match.get("definition")
        if node is not None and node.start_byte < byte <= node.end_byte:
            found.append((doc.chars(node)[0], doc.chars(match["open"])[1] if "open" in match else None))
    lines = []
    for first, opened in sorted(set(found)):
        if first < cut:
            line_start = _line_bounds(text, first)[0]
            stop = _line_bounds(text, opened if opened is not None and opened <= cut else first)[1]
            lines.append("\n".join(text[line_start:stop].split("\n")[:_HEADER_LINES]) + "\n")
    return "".join(lines)


def _function_at(doc: _Doc, offset: int) -> dict | None:
    """The innermost @function match around character `offset`."""
    if not 0 <= offset <= len(doc.text):
        raise ValueError(f"offset {offset} outside a text of {len(doc.text)} characters")
    byte = doc.offsets.byte(offset)
    around = [
        m
        for m in doc.matches("definitions", max(byte - 1, 0), byte + 1)
        if "function" in m and m["function"].start_byte <= byte <= m["function"].end_byte
    ]
    return max(around, key=lambda m: m["function"].start_byte, default=None)


def _body_items(found: dict) -> list:
    """The body's statements, with the comments between the opener and the body node (Python puts them outside)."""
    body, opened = found.get("body"), found["open"]
    if body is None:
        return []
    loose = [c for c in found["function"].children if c.is_extra and opened.end_byte <= c.start_byte < body.start_byte]
    return loose + body.named_children


def _stub_ranges(doc: _Doc, found: dict) -> list[tuple[int, int]]:
    from tree_sitter import QueryCursor

    function = found["function"]
    cursor = QueryCursor(query(doc.grammar.name, "holes"))
    cursor.set_byte_range(function.start_byte, function.end_byte)
    return sorted(doc.chars(node) for node in cursor.captures(function).get("hole", []))


def _keep_ranges(doc: _Doc, found: dict) -> set[tuple[int, int]]:
    function = found["function"]
    matches = doc.matches("definitions", function.start_byte, function.end_byte)
    return {_rstrip(doc.text, *doc.chars(m["keep"])) for m in matches if "keep" in m}


def _is_stub(text: str, item: tuple[int, int], holes: list[tuple[int, int]]) -> bool:
    """A statement that holds holes and nothing else but punctuation (`todo!();`, `panic("TODO")`)."""
    inside = [(a, b) for a, b in holes if item[0] <= a and b <= item[1]]
    if not inside:
        return False
    rest, at = [], item[0]
    for a, b in inside:
        rest.append(text[at:a])
        at = max(at, b)
    rest.append(text[at : item[1]])
    return "".join(rest).strip(" \t\r\n;") == ""
