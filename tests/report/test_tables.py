"""The one table renderer: markdown for READMEs and issues, plain for the terminal; exact bytes."""

import pytest

from dglsp.report.tables import render_table

ROWS = [["name", "ms"], ["prefill", "1.5"], ["a longer step", "12345.0"]]


def test_markdown_pads_every_column_to_its_widest_cell():
    assert render_table(ROWS) == (
        "| name          | ms      |\n"
        "|---------------|---------|\n"
        "| prefill       | 1.5     |\n"
        "| a longer step | 12345.0 |"
    )


def test_plain_aligns_each_column_as_asked_and_rules_the_header():
    assert render_table(ROWS, "plain", "<>") == (
        "name                ms\n-------------  -------\nprefill            1.5\na longer step  12345.0"
    )


def test_a_header_wider_than_its_cells_sets_the_width():
    assert render_table([["measure", "median ms"], ["x", "0.0"]], "plain", "<>").splitlines() == [
        "measure  median ms",
        "-------  ---------",
        "x              0.0",
    ]


def test_a_header_alone_is_a_table_with_no_rows():
    assert render_table([["a", "b"]]) == "| a | b |\n|---|---|"


def test_an_align_that_does_not_match_the_columns_is_an_error():
    with pytest.raises(ValueError):
        render_table(ROWS, "plain", "<")
