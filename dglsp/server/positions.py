"""LSP positions (line, character in the negotiated encoding) to Python string offsets and back, strictly.

A position past the end of its line, past the last line, or inside a character (half a surrogate pair in
utf-16, inside a multi-byte sequence in utf-8) is an error, not something to clamp: a request that points
there was made against text the server does not have.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from lsprotocol import types

UTF8, UTF16, UTF32 = (
    types.PositionEncodingKind.Utf8,
    types.PositionEncodingKind.Utf16,
    types.PositionEncodingKind.Utf32,
)
_NEWLINE = re.compile(r"\r\n|\r|\n")


class PositionError(ValueError):
    pass


def line_starts(text: str) -> list[int]:
    """Offsets where each line starts (LSP lines end at \\n, \\r\\n or \\r)."""
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


def _line_text(text: str, starts: list[int], line: int) -> str:
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    return text[starts[line] : end].rstrip("\r\n")


def units(s: str, encoding: str) -> int:
    """Length of `s` in the encoding's code units."""
    if s.isascii() or encoding == UTF32:
        return len(s)
    if encoding == UTF8:
        return len(s.encode("utf-8"))
    return len(s.encode("utf-16-le")) // 2


def offset_at(text: str, starts: list[int], position: types.Position, encoding: str = UTF16) -> int:
    if position.line < 0 or position.character < 0:
        raise PositionError(f"negative position {position.line}:{position.character}")
    if position.line >= len(starts):
        raise PositionError(f"line {position.line} is past the end: the document has {len(starts)} lines")
    line = _line_text(text, starts, position.line)
    return starts[position.line] + _chars(line, position.character, encoding, position.line)


def _chars(line: str, character: int, encoding: str, line_no: int) -> int:
    if line.isascii() or encoding == UTF32:
        if character > len(line):
            raise PositionError(f"character {character} is past the end of line {line_no} ({len(line)} long)")
        return character
    codec, width = ("utf-8", 1) if encoding == UTF8 else ("utf-16-le", 2)
    data = line.encode(codec)
    if character * width > len(data):
        raise PositionError(f"character {character} is past the end of line {line_no} ({len(data) // width} long)")
    try:
        return len(data[: character * width].decode(codec))
    except UnicodeDecodeError as exc:
        raise PositionError(f"character {character} of line {line_no} is inside a character ({encoding})") from exc


def position_at(text: str, starts: list[int], offset: int, encoding: str = UTF16) -> types.Position:
    if not 0 <= offset <= len(text):
        raise PositionError(f"offset {offset} is outside the document (0..{len(text)})")
    line = bisect_right(starts, offset) - 1
    # An offset between \r and \n belongs to the line the \r ends; LSP has no position there, use its end.
    start = starts[line]
    return types.Position(line=line, character=units(text[start:offset].rstrip("\r"), encoding))
