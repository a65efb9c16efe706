"""One tree per open document, edited as the document changes and reparsed incrementally only when asked for.

Tree-sitter counts bytes and (row, byte column) points; the editor and the rest of dglsp count characters. The
conversions here walk only the text between the edit and the previous one, so typing in a 10 MB file stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from .languages import parser

# A parse reads its source through a callback, this many bytes at a time. py-tree-sitter holds the GIL while it
# parses, but each callback runs Python, where the interpreter hands the GIL to a waiting thread: so a parse on
# another thread leaves the event loop a turn every chunk instead of freezing it for the whole file.
CHUNK_BYTES = 32 << 10


def nbytes(piece: str) -> int:
    """UTF-8 length of `piece` (`isascii` is O(1) on CPython strings, so ASCII pieces are never encoded)."""
    return len(piece) if piece.isascii() else len(piece.encode("utf-8"))


class Offsets:
    """Character <-> byte offsets in one text, counted from the last conversion: nearby conversions are cheap."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._char = self._byte = 0

    def byte(self, char: int) -> int:
        if self.text.isascii():
            return char
        if char >= self._char:
            byte = self._byte + nbytes(self.text[self._char : char])
        else:
            byte = self._byte - nbytes(self.text[char : self._char])
        self._char, self._byte = char, byte
        return byte

    def char(self, byte: int) -> int:
        if self.text.isascii():
            return byte
        # A character takes at least one byte, so `byte` lies within that many characters of the last conversion.
        delta = abs(byte - self._byte)
        if byte >= self._byte:
            data = self.text[self._char : self._char + delta].encode("utf-8")
            char = self._char + len(data[:delta].decode("utf-8"))
        else:
            first = max(0, self._char - delta)
            data = self.text[first : self._char].encode("utf-8")
            char = first + len(data[: len(data) - delta].decode("utf-8"))
        self._char, self._byte = char, byte
        return char


@dataclass(frozen=True)
class Reparse:
    """A reparse that can run on any thread: its own parser, its own copy of the base tree, the text as bytes."""

    language: str
    data: bytes
    base: object | None  # a copy of the edited tree (incremental), or None (a fresh parse)
    generation: int  # the tree's edit count when this was taken: `SyntaxTree.install` keeps only a current result

    def run(self, own=None):
        """Parse with `own` parser, or a new one: a tree-sitter parser must not be used by two threads at once."""
        data = self.data

        def read(byte: int, _point) -> bytes:
            return data[byte : byte + CHUNK_BYTES]

        own = own or parser(self.language)
        return own.parse(read, self.base) if self.base is not None else own.parse(read)


class SyntaxTree:
    """One document's tree: edits are applied as they come, the reparse happens lazily when a tree is needed."""

    def __init__(self, language: str, text: str) -> None:
        self.language = language
        self.generation = 0  # edits so far
        self.parses = 0  # how many times the parser ran (a burst of edits costs one)
        self._parser = parser(language)
        self._tree = None
        self._dirty = True
        self._size = nbytes(text)  # the document's length in bytes after the edits so far
        # A known position in the current text, (char, byte, row, byte column): edits near it are located from it.
        self._anchor = (0, 0, 0, 0)

    def edit(self, old_text: str, start: int, end: int, new_text: str) -> None:
        """`old_text[start:end]` (character offsets into `old_text`) was replaced by `new_text`; nothing is parsed."""
        if not 0 <= start <= end <= len(old_text):
            raise ValueError(f"edit {start}..{end} outside a text of {len(old_text)} characters")
        byte, row, col = self._locate(old_text, start)
        removed = old_text[start:end]
        old_end_byte, old_end = byte + nbytes(removed), _advance(row, col, removed)
        new_end_byte, new_end = byte + nbytes(new_text), _advance(row, col, new_text)
        if self._tree is not None:
            self._tree.edit(
                start_byte=byte,
                old_end_byte=old_end_byte,
                new_end_byte=new_end_byte,
                start_point=(row, col),
                old_end_point=old_end,
                new_end_point=new_end,
            )
        self._size += new_end_byte - old_end_byte
        self._dirty = True
        self.generation += 1
        self._anchor = (start, byte, row, col)  # everything before `start` is the same in the new text

    def current(self, text: str):
        """The tree for `text`, the document after all edits so far (reparsed only if edited since the last parse)."""
        job = self.reparse(text)
        if job is not None:
            self.install(job, job.run(self._parser))
        return self._tree

    def reparse(self, text: str) -> Reparse | None:
        """What it takes to bring the tree up to `text` (on this thread or another), or None when it is current."""
        if not self._dirty and self._tree is not None:
            return None
        data = text.encode("utf-8")
        # A text the edits do not account for (a missed change) gets a fresh parse rather than a wrong tree.
        incremental = self._tree is not None and len(data) == self._size
        # A copy: edits that arrive while another thread parses edit our tree, never the one it reads.
        return Reparse(self.language, data, self._tree.copy() if incremental else None, self.generation)

    def install(self, job: Reparse, tree) -> None:
        """Take `job`'s result as the current tree, unless an edit came in since it was taken."""
        if job.generation == self.generation:
            self._tree, self._size, self._dirty = tree, len(job.data), False
            self.parses += 1

    def _locate(self, text: str, offset: int) -> tuple[int, int, int]:
        """(byte, row, byte column) of character `offset`, walking from the anchor or from the start of the text."""
        char, byte, row, col = self._anchor
        if offset >= char:
            piece = text[char:offset]
            return byte + nbytes(piece), *_advance(row, col, piece)
        if offset < char - offset:
            return nbytes(text[:offset]), *_advance(0, 0, text[:offset])
        piece = text[offset:char]
        row -= piece.count("\n")
        line_start = text.rfind("\n", 0, offset) + 1
        return byte - nbytes(piece), row, nbytes(text[line_start:offset])


def _advance(row: int, col: int, piece: str) -> tuple[int, int]:
    """The (row, byte column) reached from (row, col) after `piece`."""
    newlines = piece.count("\n")
    if not newlines:
        return row, col + nbytes(piece)
    return row + newlines, nbytes(piece[piece.rfind("\n") + 1 :])
