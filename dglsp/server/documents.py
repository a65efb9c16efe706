"""The open documents as the server sees them: text, version, language and one syntax tree each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from lsprotocol import types

from ..syntax.languages import UnknownLanguage, grammar_for
from ..syntax.tree import SyntaxTree
from .positions import UTF16, PositionError, line_starts, offset_at, position_at

MAX_DOCUMENT_CHARS = 20 << 20
INLINE_PARSE_CHARS = 64 << 10  # below this, a full parse takes milliseconds: not worth a thread hop


class UnknownDocument(LookupError):
    pass


@dataclass
class Document:
    uri: str
    language_id: str
    version: int
    text: str
    grammar: str | None = None  # None: no tree-sitter grammar, plain-text rules only
    syntax: SyntaxTree | None = None
    _starts: list[int] | None = field(default=None, repr=False)

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = line_starts(self.text)
        return self._starts

    def offset(self, position: types.Position, encoding: str = UTF16) -> int:
        return offset_at(self.text, self.starts, position, encoding)

    def position(self, offset: int, encoding: str = UTF16) -> types.Position:
        return position_at(self.text, self.starts, offset, encoding)

    def range(self, start: int, end: int, encoding: str = UTF16) -> types.Range:
        return types.Range(start=self.position(start, encoding), end=self.position(end, encoding))

    def tree(self):
        """The current syntax tree (reparsed incrementally if the text changed), or None without a grammar."""
        return None if self.syntax is None else self.syntax.current(self.text)

    async def parsed(self) -> tuple[str, object | None]:
        """(text, its tree), with a big reparse on another thread: a large paste must not freeze the event loop.
        The text is the one when this was called; the document may have changed by the time it returns."""
        text = self.text
        job = self.syntax.reparse(text) if self.syntax is not None and len(text) > INLINE_PARSE_CHARS else None
        if job is None:
            return text, self.tree()
        tree = await asyncio.to_thread(job.run)
        self.syntax.install(job, tree)
        return text, tree

    def replace(self, start: int, end: int, new_text: str) -> None:
        if self.syntax is not None:
            self.syntax.edit(self.text, start, end, new_text)
        self.text = self.text[:start] + new_text + self.text[end:]
        self._starts = None


def _check_size(uri: str, text: str) -> None:
    if len(text) > MAX_DOCUMENT_CHARS:
        raise ValueError(f"{uri} is larger than {MAX_DOCUMENT_CHARS >> 20}M characters; dglsp leaves it alone")


class Documents:
    def __init__(self) -> None:
        self._open: dict[str, Document] = {}

    def __contains__(self, uri: str) -> bool:
        return uri in self._open

    def __len__(self) -> int:
        return len(self._open)

    def get(self, uri: str) -> Document:
        try:
            return self._open[uri]
        except KeyError:
            raise UnknownDocument(f"{uri} is not open (send textDocument/didOpen first)") from None

    def get_or_none(self, uri: str) -> Document | None:
        return self._open.get(uri)

    def open(self, item: types.TextDocumentItem) -> Document:
        _check_size(item.uri, item.text)
        try:
            grammar = grammar_for(item.language_id, item.uri).name
        except UnknownLanguage:
            grammar = None
        doc = Document(item.uri, item.language_id, item.version, item.text, grammar)
        self._open[item.uri] = doc
        if grammar is not None:
            try:
                doc.syntax = SyntaxTree(grammar, item.text)
            except UnknownLanguage:  # its grammar wheel is missing: plain-text rules, and the caller says why
                doc.grammar = None
                raise
        return doc

    def change(
        self, uri: str, version: int, changes: list[types.TextDocumentContentChangeEvent], encoding: str = UTF16
    ) -> Document:
        """Apply an editor's changes. When they cannot be applied, our copy and the editor's no longer agree: the
        document is dropped (requests then say it is not open) rather than served from a text that is wrong."""
        doc = self.get(uri)
        try:
            if version <= doc.version:
                raise ValueError(f"didChange for {uri} goes back from version {doc.version} to {version}")
            for change in changes:
                if isinstance(change, types.TextDocumentContentChangePartial):
                    try:
                        start = doc.offset(change.range.start, encoding)
                        end = doc.offset(change.range.end, encoding)
                    except PositionError as exc:
                        raise ValueError(f"didChange for {uri} has a bad range ({exc})") from exc
                    doc.replace(start, max(start, end), change.text)
                else:
                    doc.replace(0, len(doc.text), change.text)
            _check_size(uri, doc.text)
            self._open[uri] = self._open.pop(uri)  # the most recently edited last: `others` reads them in order
        except ValueError as exc:
            del self._open[uri]
            raise ValueError(f"{exc}; dglsp leaves this file alone until it is reopened") from exc
        doc.version = version
        return doc

    def close(self, uri: str) -> None:
        self._open.pop(uri, None)

    def others(self, doc: Document, most: int) -> list[Document]:
        """Up to `most` other open documents of `doc`'s language, the most recently edited first."""
        same = [d for d in self._open.values() if d is not doc and d.language_id == doc.language_id]
        return same[::-1][:most]
