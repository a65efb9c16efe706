"""A raw fill cut down to what goes in: one line, its scope, no repeats of the suffix, the document's indentation,
and no syntax errors the buffer did not already have."""

import pytest

from dglsp.syntax import trim as trim_module
from dglsp.syntax.gap import Gap, body_gap, find_gap, selection_gap
from dglsp.syntax.languages import parser
from dglsp.syntax.trim import reindent, trim_fill


def _errors(node) -> int:
    return int(node.is_error or node.is_missing) + sum(_errors(c) for c in node.children)


def _gap(marked: str, language: str | None, **options) -> tuple[str, Gap]:
    text = marked.replace("█", "")
    return text, find_gap(text, marked.index("█"), language, **options)


def _apply(text: str, gap: Gap, inserted: str) -> str:
    return text[: gap.start] + inserted + text[gap.end :]


def test_trim_of_each_fixture(trim_case):
    case = trim_case
    text, language = case["text"], case["language"]
    gap = find_gap(
        text,
        case["cursor"],
        language,
        invoked=case.get("invoked", False),
        multiline=case.get("multiline", "auto"),
        context_chars=case.get("context_chars", 6000),
    )
    trimmed = trim_fill(text, gap, case["fill"], language)
    assert trimmed == case["trimmed"]
    before = _errors(parser(language).parse(text.encode()).root_node)
    assert _errors(parser(language).parse(_apply(text, gap, trimmed).encode()).root_node) <= before


def test_a_line_gap_keeps_the_first_line_and_a_leading_newline_means_nothing():
    text, gap = _gap("total = █\n", "python")
    assert trim_fill(text, gap, "price * qty\nprint(total)\n", "python") == "price * qty"
    assert trim_fill(text, gap, "\nprint(total)", "python") == ""
    assert trim_fill(text, gap, "  price", "python") == "price"  # the space before the gap is already there


def test_a_none_gap_takes_nothing():
    text, gap = _gap("x = fo█o\n", "python")
    assert gap.kind == "none" and trim_fill(text, gap, "bar", "python") == ""


@pytest.mark.parametrize(
    ("marked", "fill", "expected"),
    [
        ("print(█) + 1\n", "foo(a, b))", "foo(a, b)"),  # the overlap with the suffix goes
        ("print(█) + 1\n", "foo(a, b)", "foo(a, b)"),  # that `)` closes the fill's own call: it stays
        ("print(█)\n", "f(x)", "f(x))"),  # auto-closed: the fill goes before the kept `)`
        ("print(█)\n", "f(x))", "f(x))"),  # ... whether or not the model wrote it
        ('print("█")\n', 'hi", end="")', 'hi", end="")'),
        ("x = [1, 2█]\n", ", 3]", ", 3]"),
    ],
)
def test_repeats_of_the_suffix_are_dropped_and_closers_kept_once(marked, fill, expected):
    text, gap = _gap(marked, "python")
    assert trim_fill(text, gap, fill, "python") == expected


def test_the_parse_check_cuts_a_garbage_tail_and_can_leave_nothing():
    text, gap = _gap("def f(items):\n    count = █\n    return count\n", "python")
    assert trim_fill(text, gap, "len(items) ]", "python") == "len(items)"
    assert trim_fill(text, gap, "len(items) ]", "python", parse=False) == "len(items) ]"
    assert trim_fill(text, gap, "len(items) ]", None) == "len(items) ]"  # no grammar, no parse check
    text, gap = _gap("x = 1\n█\n", "python")
    assert trim_fill(text, gap, ") ) )", "python") == ""


def test_a_block_stops_at_its_scope_and_at_code_that_is_already_there():
    text, gap = _gap("def f(x):\n    █\n    return y\n", "python", multiline="always")
    fill = "\n    y = x * 2\n    return y\n"  # a blank first line on a blank line starts on that line
    assert trim_fill(text, gap, fill, "python") == "y = x * 2"
    text, gap = _gap("if (ok) {█\n}\nrun();\n", "javascript")
    # No indentation in the document yet: the model's one level (2 spaces) becomes the default unit's.
    assert trim_fill(text, gap, "\n  go();\n}\nrun();\n", "javascript") == "\n    go();"


def test_block_lines_take_the_documents_indentation():
    marked = "package p\n\nfunc f(xs []int) int {\n\tif len(xs) > 0 {█\n\t}\n\treturn 0\n}\n"
    text, gap = _gap(marked, "go")
    fill = "\n        for _, x := range xs {\n            return x\n        }\n    }\n"
    assert gap.indent == "\t\t"
    assert trim_fill(text, gap, fill, "go") == "\n\t\tfor _, x := range xs {\n\t\t\treturn x\n\t\t}"
    spaces = "def f(xs):\n  if xs:█\n"
    text, gap = _gap(spaces, "python")
    assert trim_fill(text, gap, "\n\t\tfor x in xs:\n\t\t\tprint(x)", "python") == "\n    for x in xs:\n      print(x)"


def test_reindent_is_relative_to_the_indent_and_clamps_at_it():
    assert reindent("a\n    b\n        c\n\n    d", "\t", "\t") == "a\n\tb\n\t\tc\n\n\td"
    assert reindent("a\nb\n      c", "    ", "    ") == "a\n    b\n      c"  # less indented lines go to `indent`
    assert reindent("a\n  b\n    c", "\t", "\t", width=2) == "a\n\tb\n\t\tc"


def test_a_multiline_body_fill_moves_the_closing_brace_to_its_own_line():
    text = "fn f() -> i32 { todo!() }\n"
    gap = body_gap(text, 3, "rust")
    inserted = trim_fill(text, gap, "\n    let x = 41;\n    x + 1\n}", "rust")
    assert _apply(text, gap, inserted) == "fn f() -> i32 {\n    let x = 41;\n    x + 1\n}\n"
    assert _apply(text, gap, trim_fill(text, gap, "42", "rust")) == "fn f() -> i32 { 42 }\n"


def test_a_body_fill_keeps_the_docstring_and_a_selection_rewrite_parses():
    text = 'def f(a):\n    """Twice a."""\n    pass\n'
    gap = body_gap(text, 5, "python")
    inserted = trim_fill(text, gap, "return a * 2\n\ndef g():\n    pass", "python")
    assert _apply(text, gap, inserted) == 'def f(a):\n    """Twice a."""\n    return a * 2\n'
    text = "total = price*qty\n"
    gap = selection_gap(text, 8, 17, "python")
    assert trim_fill(text, gap, "price * qty)\n", "python") == "price * qty"


def test_a_huge_file_parses_only_a_window_a_bounded_number_of_times(monkeypatch):
    lines = [f"def f{i}(x):\n    return x + {i}\n" for i in range(20000)]
    middle = len(lines) // 2
    text = "".join(lines[:middle]) + "def g(x):\n    y = x\n" + "".join(lines[middle:])
    gap = find_gap(text, text.index("y = x") + 5, "python")
    sizes = []
    real = trim_module.parser

    class Counting:
        def __init__(self, name):
            self.parser = real(name)

        def parse(self, data):
            sizes.append(len(data))
            return self.parser.parse(data)

    monkeypatch.setattr(trim_module, "parser", Counting)
    fill = ") " + " + ".join(f"x{i}" for i in range(60))
    assert trim_fill(text, gap, fill, "python") == ""  # every cut keeps the stray `)`: none parses as well as none
    assert len(sizes) == 24 and max(sizes) < 9000 + len(fill)
    sizes.clear()
    assert trim_fill(text, gap, " * 2 ]", "python") == " * 2"
    assert len(sizes) == 3  # the empty fill, the whole fill, and the first cut that parses
