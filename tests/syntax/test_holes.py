"""Holes in real code, found by each language's query with its official grammar."""

import pytest

from dglsp.syntax.holes import find_holes
from dglsp.syntax.languages import GRAMMARS, UnknownLanguage, grammar_for, query

CASES = {
    "python": (
        'def área(x):\n    ...\n\ndef g():\n    pass\n\ndef h():\n    raise NotImplementedError("later")\n\n'
        "def k():\n    raise NotImplementedError\n    # TODO: cache\n    raise ValueError('no')\n",
        ["...", "pass", 'raise NotImplementedError("later")', "raise NotImplementedError", "# TODO: cache"],
    ),
    "javascript": (
        'function f() {\n  throw new Error("TODO");\n}\n// TODO: g\nfunction g() { throw new Error("bad input"); }\n',
        ['throw new Error("TODO");', "// TODO: g"],
    ),
    "typescript": (
        'function f(x: number): number {\n  throw new Error("not implemented");\n}\n',
        ['throw new Error("not implemented");'],
    ),
    "tsx": ('const A = () => { throw new Error("TODO") };\nconst B = () => <div/>;\n', ['throw new Error("TODO")']),
    "go": (
        'package main\n\nfunc f() int {\n\tpanic("TODO")\n}\n\nfunc g() { panic("boom") } // TODO tidy\n',
        ['panic("TODO")', "// TODO tidy"],
    ),
    "rust": (
        'fn f() -> i32 {\n    todo!()\n}\nfn g() { unimplemented!("x") }\nfn h() { println!("hi") }\n',
        ["todo!()", 'unimplemented!("x")'],
    ),
    "java": (
        "class A {\n  int f() { throw new UnsupportedOperationException(); }\n  // TODO: g\n"
        "  int g() { throw new IllegalStateException(); }\n}\n",
        ["throw new UnsupportedOperationException();", "// TODO: g"],
    ),
    "c": ("int f(void) {\n    /* TODO */\n    return 0; /* done */\n}\n", ["/* TODO */"]),
    "cpp": ("int f() {\n    // FIXME: overflow\n    return 1;\n}\n", ["// FIXME: overflow"]),
    "lua": (
        'local function f()\n  error("TODO")\nend\nlocal function g() error("bad") end\n-- TODO: h\n',
        ['error("TODO")', "-- TODO: h"],
    ),
}


def test_every_grammar_has_a_hole_case_and_its_query_compiles():
    assert {g.name for g in GRAMMARS} == set(CASES)
    for grammar in GRAMMARS:
        assert query(grammar.name, "holes").pattern_count >= 1


@pytest.mark.parametrize("language", sorted(CASES))
def test_holes_are_found_in_source_order_and_nothing_else(language):
    source, expected = CASES[language]
    holes = find_holes(source, language)
    assert [h.text for h in holes] == expected
    assert all(source[h.start : h.end] == h.text for h in holes)


def test_holes_can_be_limited_to_a_range_such_as_the_enclosing_function():
    source, _ = CASES["python"]
    start = source.index("def g")
    end = source.index("def h")
    assert [h.text for h in find_holes(source, "python", start, end)] == ["pass"]


def test_languages_resolve_by_language_id_alias_or_extension_and_unknown_ones_say_so():
    assert grammar_for("typescriptreact").name == "tsx"
    assert grammar_for(None, "src/lib.rs").name == "rust"
    assert grammar_for("plaintext", "x.H").name == "c"
    with pytest.raises(UnknownLanguage, match="no grammar for language 'cobol'"):
        grammar_for("cobol", "a.cob")


def test_a_query_can_inherit_another_languages_query():
    from dglsp.syntax.languages import query_source

    javascript = query_source("javascript", "definitions")
    typescript = query_source("typescript", "definitions")
    assert typescript.startswith(javascript) and "interface_declaration" in typescript
    assert query_source("tsx", "definitions").startswith(typescript)
    assert query("tsx", "definitions").pattern_count == query("typescript", "definitions").pattern_count
