"""The chat prompt for instruction-tuned models without FIM tokens, and the clean-up of their answers."""

import pytest

from dglsp.models.chat import GAP, SYSTEM, answer_text, merged, messages, unfenced, without_thinking

PREFIX = "def area(r):\n    pi = 3.14159\n    return "
SUFFIX = "\n\n\nprint(area(2))\n"


def test_the_prompt_shows_the_file_with_the_gap_marked_in_its_language():
    system, user = messages(PREFIX, SUFFIX, "python")
    assert system == {"role": "system", "content": SYSTEM} and GAP in SYSTEM
    assert user["role"] == "user"
    assert user["content"] == f"```python\n{PREFIX}{GAP}{SUFFIX}\n```"


def test_a_template_without_a_system_turn_gets_the_instruction_in_the_user_turn():
    turns = merged(messages(PREFIX, SUFFIX, None))
    assert [t["role"] for t in turns] == ["user"]
    assert turns[0]["content"].startswith(SYSTEM + "\n\n```\n" + PREFIX)


@pytest.mark.parametrize(
    "said, expected",
    [
        ("pi * r ** 2", "pi * r ** 2"),
        ("```python\npi * r ** 2\n```", "pi * r ** 2"),
        ("```\npi * r ** 2\n```\n", "pi * r ** 2"),
        ("```py\npi * r ** 2", "pi * r ** 2"),  # the fence never closed: the fill ran out of tokens
        ("    return pi * r ** 2", "pi * r ** 2"),  # restates the line it completes
        ("    pi = 3.14159\n    return pi * r ** 2", "pi * r ** 2"),  # restates two lines
        ("pi * r ** 2\n\n\nprint(area(2))", "pi * r ** 2"),  # runs on into the code after the gap
        ("```python\n    return pi * r ** 2\n\n\nprint(area(2))\n```", "pi * r ** 2"),
        ("return_value", "return_value"),  # starts like the line's text, but not with the whole of it
    ],
)
def test_an_answer_is_cut_to_the_gap(said, expected):
    assert answer_text(said, PREFIX, SUFFIX) == expected


def test_only_whole_lines_count_as_echoes():
    # `x = ` is the line before the gap, `= 1` does not repeat it: nothing is cut.
    assert answer_text("= 1", "x = ", "") == "= 1"
    assert answer_text("x = 1", "x = ", "") == "1"
    # `)` closes the suffix's first line, so an answer ending in it ran on into the suffix.
    assert answer_text("f(x))", "print(", ")\n") == "f(x)"
    # A blank line is not an echo.
    assert answer_text("\nvalue", "a = 1\n", "\nb = 2") == "\nvalue"


def test_an_answer_that_restates_the_indentation_of_its_line_loses_it():
    assert answer_text("    return 1", "def f():\n    ", "\n") == "return 1"


def test_echo_search_reads_no_more_of_a_huge_prefix_than_the_answer_is_long():
    prefix = "x = 1\n" * 200_000 + "y = "
    assert answer_text("y = 2", prefix, "\n" + "z = 3\n" * 200_000) == "2"


def test_unfenced_leaves_inner_backticks_alone():
    assert unfenced("s = '```'") == "s = '```'"
    assert unfenced("```python\na = '```'\n```") == "a = '```'"


OPEN, CLOSE, OTHER_OPEN, OTHER_CLOSE = 900, 901, 902, 903
PAIRS = [(OPEN, CLOSE), (OTHER_OPEN, OTHER_CLOSE)]


@pytest.mark.parametrize(
    "ids, expected",
    [
        ([1, 2, 3], [1, 2, 3]),
        ([OPEN, 7, 8, CLOSE, 1, 2], [1, 2]),
        ([1, OTHER_OPEN, 7, OTHER_CLOSE, 2], [1, 2]),
        ([1, 2, OPEN, 7, 8], [1, 2]),  # thinking that never closed: nothing after it is the answer
        ([OPEN, 7, OTHER_CLOSE, CLOSE, 3], [3]),  # only its own closing token ends a span
    ],
)
def test_thinking_spans_are_dropped(ids, expected):
    assert without_thinking(ids, PAIRS) == expected
    assert without_thinking(ids, []) == ids
