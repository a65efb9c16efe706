"""Holes a programmer left in code (`...`, `pass`, `todo!()`, TODO comments ...), found by per-language queries."""

from __future__ import annotations

from dataclasses import dataclass

from .languages import parser, query


@dataclass(frozen=True)
class Hole:
    start: int  # character offsets into the source
    end: int
    text: str


def find_holes(source: str, language: str, start: int = 0, end: int | None = None) -> list[Hole]:
    """Every hole between characters `start` and `end` (default: the whole source), in source order."""
    from tree_sitter import QueryCursor

    data = source.encode("utf-8")
    tree = parser(language).parse(data)
    to_char = _char_offsets(source, data)
    end = len(source) if end is None else end
    found = set()
    for node in QueryCursor(query(language, "holes")).captures(tree.root_node).get("hole", []):
        a, b = to_char(node.start_byte), to_char(node.end_byte)
        if start <= a and b <= end:
            found.add((a, b))
    return [Hole(a, b, source[a:b]) for a, b in sorted(found)]


def _char_offsets(source: str, data: bytes):
    if len(data) == len(source):
        return lambda offset: offset
    starts = [i for i in range(len(data)) if data[i] & 0xC0 != 0x80] + [len(data)]
    index = {b: c for c, b in enumerate(starts)}
    return lambda offset: index[offset]
