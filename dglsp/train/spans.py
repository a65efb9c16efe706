"""Where a model learns to fill: syntax-node spans found by a tree-sitter query, plus lines and random spans.

The per-language rules are the query file `dglsp/syntax/queries/spans/<language>.scm` (data, not code): each
capture name is a kind of span (body, block, statement, expression, arguments).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..syntax.languages import captures

KINDS = ("body", "block", "statement", "expression", "arguments")
MAX_SPAN_CHARS = 2000  # longer nodes (whole classes) cannot fit a canvas anyway


@dataclass(frozen=True)
class Span:
    start: int  # character offsets into the text
    end: int


def node_spans(text: str, language: str = "python") -> np.ndarray:
    """(n, 3) int32 rows of start char, end char, kind index: every captured node of a useful size, sorted."""
    rows = [
        np.column_stack([offsets, np.full(len(offsets), KINDS.index(kind))])
        for kind, offsets in captures(language, "spans", text).items()
    ]
    spans = np.unique(np.concatenate(rows), axis=0) if rows else np.zeros((0, 3), dtype=np.int64)
    size = spans[:, 1] - spans[:, 0]
    return spans[(size > 0) & (size <= MAX_SPAN_CHARS)].astype(np.int32)


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
