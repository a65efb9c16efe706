"""Where a model learns to fill: syntax-node spans found by a tree-sitter query, plus lines and random spans.

The per-language rules are the query file `queries/<language>.scm` (data, not code): each capture name is a
kind of span (body, block, statement, expression, arguments).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

QUERIES = Path(__file__).parent / "queries"
KINDS = ("body", "block", "statement", "expression", "arguments")
MAX_SPAN_CHARS = 2000  # longer nodes (whole classes) cannot fit a canvas anyway


@dataclass(frozen=True)
class Span:
    start: int  # character offsets into the text
    end: int


@cache
def _query(language: str):
    import tree_sitter_python
    from tree_sitter import Language, Parser, Query

    if language != "python":
        raise ValueError(f"no span query for {language!r} yet: python")
    lang = Language(tree_sitter_python.language())
    return Parser(lang), Query(lang, (QUERIES / f"{language}.scm").read_text(encoding="utf-8"))


def node_spans(text: str, language: str = "python") -> np.ndarray:
    """(n, 3) int32 rows of start char, end char, kind index: every captured node of a useful size."""
    from tree_sitter import QueryCursor

    parser, query = _query(language)
    data = text.encode("utf-8")
    tree = parser.parse(data)
    rows = []
    for name, nodes in QueryCursor(query).captures(tree.root_node).items():
        kind = KINDS.index(name)
        rows += [(n.start_byte, n.end_byte, kind) for n in nodes if 0 < n.end_byte - n.start_byte <= MAX_SPAN_CHARS]
    spans = np.array(sorted(set(rows)), dtype=np.int64).reshape(-1, 3)
    if len(data) != len(text) and len(spans):
        # Byte offsets to character offsets: count the characters before each byte.
        starts = np.frombuffer(data, dtype=np.uint8) & 0xC0 != 0x80
        chars = np.concatenate([[0], np.cumsum(starts)])
        spans[:, 0], spans[:, 1] = chars[spans[:, 0]], chars[spans[:, 1]]
    return spans.astype(np.int32)


def as_lines(text: str, span: Span) -> Span:
    """Widen a span that starts a line to whole lines: its indentation and its final newline."""
    line_start = text.rfind("\n", 0, span.start) + 1
    if text[line_start : span.start].strip():
        return span
    end = text.find("\n", span.end)
    return Span(line_start, len(text) if end < 0 else end + 1)


def line_span(text: str, rng: np.random.Generator, whole: bool) -> Span:
    """A random non-blank line: whole (indentation and newline, as the FIM paper cuts) or as typed after it."""
    for _ in range(8):
        at = int(rng.integers(len(text)))
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if line.strip():
            if whole:
                return Span(start, min(len(text), end + 1))
            return Span(start + len(line) - len(line.lstrip()), end)
    return random_span(text, rng, 40)


def random_span(text: str, rng: np.random.Generator, max_chars: int) -> Span:
    start = int(rng.integers(len(text)))
    return Span(start, min(len(text), start + 1 + int(rng.integers(max_chars))))
