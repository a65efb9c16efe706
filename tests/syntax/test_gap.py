"""Where a fill goes: the gap at a cursor in real-looking buffers of every language, and its edge cases."""

import pytest

from dglsp.syntax import gap as gap_module
from dglsp.syntax.gap import body_gap, enclosing_definition, find_gap, indent_unit, selection_gap
from dglsp.syntax.languages import GRAMMARS, parser, query
from dglsp.syntax.tree import SyntaxTree


def _at(marked: str) -> tuple[str, int]:
    return marked.replace("█", ""), marked.index("█")


def test_gap_of_each_fixture(gap_case):
    case = gap_case
    gap = find_gap(
        case["text"],
        case["cursor"],
        case["language"],
        invoked=case.get("invoked", False),
        multiline=case.get("multiline", "auto"),
        context_chars=case.get("context_chars", 6000),
    )
    assert (gap.kind, gap.end - gap.start, gap.indent) == (case["kind"], case["closed"], case["indent"])
    assert gap.start == case["cursor"]
    assert case.get("reason", "") in gap.reason and bool(gap.reason) == (gap.kind == "none")
    if "prefix_starts" in case:
        assert gap.prefix.startswith(case["prefix_starts"]) and case["prefix_lacks"] not in gap.prefix
        assert len(gap.prefix) + len(gap.suffix) < 2 * case["context_chars"]
    elif gap.kind != "none":
        assert (gap.prefix, gap.suffix) == (case["text"][: gap.start], case["text"][gap.end :])


def test_the_fixtures_cover_every_grammar_and_every_fixture_has_a_case(fixture_files, all_cases):
    cases = all_cases
    assert set(fixture_files) == {c["file"] for c in cases}
    assert {c["language"] for c in cases} == {g.name for g in GRAMMARS}
    assert {c["kind"] for c in cases} == {"none", "line", "block"}


def test_every_grammar_has_a_definitions_query_with_functions():
    for grammar in GRAMMARS:
        definitions = query(grammar.name, "definitions")
        captured = {definitions.capture_name(i) for i in range(definitions.capture_count)}
        assert {"definition", "function", "open", "body", "keep"} <= captured, grammar.name


@pytest.mark.parametrize("language", [None, "python", "javascript"])
def test_cursor_at_either_end_of_a_document_and_in_an_empty_one(language):
    assert find_gap("", 0, language) == find_gap("", 0, language, invoked=True)
    empty = find_gap("", 0, language)
    assert (empty.kind, empty.start, empty.end, empty.prefix, empty.suffix) == ("line", 0, 0, "", "")
    text = "x = 1\n"
    start, end = find_gap(text, 0, language, invoked=True), find_gap(text, len(text), language)
    assert (start.kind, start.suffix, end.kind, end.prefix) == ("line", text, "line", text)
    assert find_gap(text, 0, language).kind == "none"  # right before `x`


@pytest.mark.parametrize("cursor", [-1, 7])
def test_a_cursor_outside_the_text_is_refused(cursor):
    with pytest.raises(ValueError, match="outside"):
        find_gap("x = 1\n", cursor, "python")


def test_bad_multiline_option_is_refused():
    with pytest.raises(ValueError, match="multiline"):
        find_gap("x = 1\n", 0, None, multiline="sometimes")


def test_plain_text_without_a_grammar_still_finds_blocks_and_closers():
    text, cursor = _at("server {█\n}\n")
    gap = find_gap(text, cursor, None, block_tokens=50)
    assert (gap.kind, gap.max_tokens, gap.indent) == ("block", 50, "    ")
    text, cursor = _at('call("█")  \n')
    gap = find_gap(text, cursor, None)
    assert (gap.kind, gap.end - gap.start, gap.suffix) == ("line", 2, "  \n")
    # An unknown languageId is plain text, not an error: a server gets every languageId there is.
    assert find_gap(text, cursor, "markdown") == gap


def test_multiline_always_and_never_override_the_shape():
    text, cursor = _at("def f(x):█\n")
    assert find_gap(text, cursor, "python", multiline="never", line_tokens=9).kind == "line"
    assert find_gap(text, cursor, "python", multiline="never", line_tokens=9).max_tokens == 9
    text, cursor = _at("x = compute(1)█\n")
    assert find_gap(text, cursor, "python").kind == "line"
    assert find_gap(text, cursor, "python", multiline="always").kind == "block"


@pytest.mark.parametrize(
    ("marked", "language", "kind", "indent"),
    [
        ("def f():\n    x = 1\n    █\n    return x\n", "python", "line", "    "),  # middle of a body
        ("def f():\n    x = 1\n    █\n\ndef g():\n    pass\n", "python", "block", "    "),  # end of a body
        ("def f():\n    x = 1\n\n█\n", "python", "line", ""),  # column 0 at the top level
        ("if x:\n    █", "python", "block", "    "),  # end of file
        ("func f() {\n\tx := 1\n█\n}\n", "go", "block", "\t"),  # column 0 above the closing brace
        ("func f() {\n█\n}\n", "go", "block", "\t"),  # empty body: Go's tab unit when nothing shows it
        ("local f = function(a)█\n", "lua", "block", "    "),
        ("while ok do\n  step()\n  █\nend\n", "lua", "block", "  "),
        ("x = {'a':█\n", "python", "line", ""),  # a dict's colon opens no block
    ],
)
def test_blank_lines_and_openers(marked, language, kind, indent):
    text, cursor = _at(marked)
    gap = find_gap(text, cursor, language)
    assert (gap.kind, gap.indent) == (kind, indent)


@pytest.mark.parametrize(
    ("marked", "language", "reason"),
    [
        ("/* done */█\nint x;\n", "c", ""),  # after a block comment the code resumes
        ("// note█\n", "rust", "comment"),
        ("x = 1  -- note█\n", "lua", "comment"),
        ('s = "abc█"\n', "python", ""),  # strings are filled
        ("x = fo█o\n", None, "word"),
        ("x = foo█.bar\n", "python", ""),
    ],
)
def test_automatic_requests_skip_words_and_comments_only(marked, language, reason):
    text, cursor = _at(marked)
    gap = find_gap(text, cursor, language)
    assert (gap.kind == "none") == bool(reason) and reason in gap.reason
    assert find_gap(text, cursor, language, invoked=True).kind != "none"


def test_a_given_tree_is_used_instead_of_parsing(monkeypatch):
    text, cursor = _at("def f():\n    return 1  # one█\n")
    tree = SyntaxTree("python", text).current(text)
    monkeypatch.setattr(gap_module, "parser", lambda name: pytest.fail("parsed again"))
    assert find_gap(text, cursor, "python", tree=tree).reason == "the cursor is inside a comment"


def test_long_context_is_cut_at_lines_with_the_enclosing_headers_kept():
    body = "".join(f"        v{i} = é_{i}(1)\n" for i in range(300))
    marked = "class A:\n    def run(\n        self,\n    ):\n" + body + "        █\n" + body + "    def b(self):\n"
    text, cursor = _at(marked)
    gap = find_gap(text, cursor, "python", context_chars=1200)
    headers = "class A:\n    def run(\n        self,\n    ):\n"
    assert gap.prefix.startswith(headers) and gap.prefix[len(headers) :].startswith("        v")
    assert len(gap.prefix) - len(headers) <= 900 and len(gap.suffix) <= 300
    assert gap.suffix.endswith("\n") and text[gap.end :].startswith(gap.suffix)


def test_indent_unit_is_the_most_common_step():
    assert indent_unit("a:\n  b\n  c:\n    d\n") == "  "
    assert indent_unit("f {\n\tx\n\tif {\n\t\ty\n\t}\n}\n") == "\t"
    assert indent_unit("x = (1,\n                 2)\ndef f():\n    a\n    if b:\n        c\n") == "    "
    assert indent_unit("") == "    " and indent_unit("", default="\t") == "\t"


def test_selection_gap_spans_the_selection_with_room_to_grow():
    text = "def f(a):\n    return a+1\n"
    start, end = text.index("a+1"), text.index("a+1") + 3
    gap = selection_gap(text, start, end, "python")
    assert (gap.kind, gap.start, gap.end, gap.max_tokens, gap.indent) == ("line", start, end, 12, "    ")
    assert (gap.prefix, gap.suffix) == (text[:start], text[end:])
    whole = selection_gap(text * 20, 0, 300, None)
    assert (whole.kind, whole.max_tokens) == ("block", 150)
    with pytest.raises(ValueError, match="outside"):
        selection_gap(text, 5, 2, "python")


@pytest.mark.parametrize(
    ("marked", "language", "replaced", "indent"),
    [
        ('def f(a):\n    """Doc."""\n    pa█ss\n', "python", "pass", "    "),
        ("def f(a):\n    # TODO: write\n    ...█\n", "python", "# TODO: write\n    ...", "    "),
        ('def f(a):\n    """Only a docstring."""█\n', "python", "", "    "),
        ("fn f() -> i32 { tod█o!() }\n", "rust", " todo!() ", "    "),
        ("int f(void) {█}\n", "c", "", "    "),
        ("local function f()█\nend\n", "lua", "", "    "),
        ('func f() int {\n\t// the sum\n\tpanic("TODO")█\n}\n', "go", 'panic("TODO")', "\t"),
        ('const g = (a) => { throw new Er█ror("TODO") };\n', "javascript", ' throw new Error("TODO") ', "    "),
        ("class A {\n  void f() {\n    // TODO█\n  }\n}\n", "java", "// TODO", "    "),
    ],
)
def test_body_gap_covers_stubs_and_keeps_docstrings(marked, language, replaced, indent):
    text, cursor = _at(marked)
    gap = body_gap(text, cursor, language, block_tokens=99)
    assert (text[gap.start : gap.end], gap.indent, gap.kind, gap.max_tokens) == (replaced, indent, "block", 99)
    assert (gap.prefix, gap.suffix) == (text[: gap.start], text[gap.end :])


@pytest.mark.parametrize(
    ("marked", "language"),
    [
        ("int f() { return 1; }█\n", "cpp"),  # real code
        ("fn f() -> i32 {█ 1 }\n", "rust"),
        ("def f():\n    x = 1\n    pass█\n", "python"),  # a stub after code is not an empty body
        ("x = 1█\n", "python"),  # no function
    ],
)
def test_body_gap_is_none_without_an_empty_function(marked, language):
    assert body_gap(*_at(marked), language) is None


def test_enclosing_definition_is_the_innermost_function():
    text = "class A:\n    def f(self):\n        def g():\n            return 1\n        return g\n\nx = 1\n"
    inner = enclosing_definition(text, text.index("return 1"), "python")
    outer = enclosing_definition(text, text.index("return g"), "python")
    assert text[slice(*inner)].startswith("def g():") and text[slice(*outer)].startswith("def f(self):")
    assert enclosing_definition(text, text.index("x = 1"), "python") is None
    go = "package p\n\nfunc (s *S) Len() int {\n\treturn len(s.é)\n}\n"
    start, end = enclosing_definition(go, go.index("len("), "go", tree=parser("go").parse(go.encode()))
    assert go[start:end] == go[go.index("func") : go.rindex("}") + 1]


def test_the_prefix_cut_of_a_long_file_stays_put_while_the_user_types():
    lines = [f"value_{i} = compute({i}, factor={i % 7})" for i in range(3000)]
    head, tail = "\n".join(lines[:2000]) + "\n", "\n" + "\n".join(lines[2000:]) + "\n"
    starts = set()
    for typed in range(200):  # one keystroke at a time at the end of line 2000
        text = head + "total = " + "x" * typed + tail
        cursor = len(head) + len("total = ") + typed
        gap = find_gap(text, cursor, "python", invoked=True, multiline="never", context_chars=6000)
        assert gap.prefix.endswith("x" * typed) and len(gap.prefix) <= 6000
        starts.add(gap.prefix[:80])
    # Cut at the line after `cursor - budget` each time, it moved with every line's worth of typing (6 places
    # here); in steps of an eighth of the budget, the encoder's prefix cache sees one start, or two.
    assert len(starts) <= 2
