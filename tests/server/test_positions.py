"""Positions in all three encodings, strictly: past the end or inside a character is an error."""

import pytest
from lsprotocol.types import Position

from dglsp.server.positions import UTF8, UTF16, UTF32, PositionError, line_starts, offset_at, position_at

TEXT = 'x = "😋é"\r\nsecond\rthird\nlast'


@pytest.mark.parametrize(
    ("encoding", "quote_column"),
    [(UTF8, 11), (UTF16, 8), (UTF32, 7)],  # the closing quote of x="😋é" in each encoding
)
def test_offsets_round_trip_in_every_encoding(encoding, quote_column):
    starts = line_starts(TEXT)
    closing_quote = TEXT.index('"', 5)
    assert offset_at(TEXT, starts, Position(0, quote_column), encoding) == closing_quote
    assert position_at(TEXT, starts, closing_quote, encoding) == Position(0, quote_column)
    for offset in range(len(TEXT) + 1):
        if TEXT[offset - 1 : offset + 1] == "\r\n":
            continue  # no LSP position lies between \r and \n
        assert offset_at(TEXT, starts, position_at(TEXT, starts, offset, encoding), encoding) == offset


def test_lines_end_at_crlf_cr_and_lf():
    starts = line_starts(TEXT)
    assert len(starts) == 4
    assert offset_at(TEXT, starts, Position(2, 0)) == TEXT.index("third")
    assert offset_at(TEXT, starts, Position(3, 4)) == len(TEXT)


@pytest.mark.parametrize(
    ("position", "encoding", "message"),
    [
        (Position(4, 0), UTF16, "past the end"),
        (Position(1, 7), UTF16, "past the end of line 1"),
        (Position(0, 6), UTF16, "inside a character"),  # between the two halves of 😋
        (Position(0, 7), UTF8, "inside a character"),  # inside 😋's four bytes
    ],
)
def test_bad_positions_are_errors_not_clamped(position, encoding, message):
    with pytest.raises(PositionError, match=message):
        offset_at(TEXT, line_starts(TEXT), position, encoding)


def test_empty_document_has_one_empty_line():
    assert offset_at("", line_starts(""), Position(0, 0)) == 0
    with pytest.raises(PositionError):
        offset_at("", line_starts(""), Position(0, 1))
