"""Holes a programmer left in code (`...`, `pass`, `todo!()`, TODO comments ...), found by per-language queries."""

from __future__ import annotations

from dataclasses import dataclass

from .languages import captures


@dataclass(frozen=True)
class Hole:
    start: int  # character offsets into the source
    end: int
    text: str


def find_holes(source: str, language: str, start: int = 0, end: int | None = None, tree=None) -> list[Hole]:
    """Every hole between characters `start` and `end` (default: the whole source), in source order.

    `tree`: the source's tree when the caller already has it (a `SyntaxTree.current`), else it is parsed here.
    """
    end = len(source) if end is None else end
    found = captures(language, "holes", source, tree).get("hole", [])
    inside = sorted({(int(a), int(b)) for a, b in found if start <= a and b <= end})
    return [Hole(a, b, source[a:b]) for a, b in inside]
