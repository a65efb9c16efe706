"""A document's tree follows its edits: after any edits the incremental tree is the fresh parse's, parsed once."""

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from dglsp.syntax import languages
from dglsp.syntax.holes import find_holes
from dglsp.syntax.languages import parser
from dglsp.syntax.tree import Offsets, SyntaxTree

SOURCES = {
    "python": (
        'def área(x):\n    """Doc with é."""\n    return x + 1  # 😀\n\n\nclass Shop:\n'
        "    def total(self, items):\n        return sum(i.price for i in items)\n"
    ),
    "javascript": (
        'function greet(name) {\n  return `héllo ${name}`;\n}\n// 😀 icons\nconst xs = [1, 2, "é"];\n'
        "class A { m() { return xs.map((x) => x * 2); } }\n"
    ),
}
PIECES = ["x", "é", "😀", "\n", "    ", "(", ")", "{", "}", ":", ";", "return 1\n", "def f():\n", "foo(bar)", ""]


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _shape(tree) -> tuple[str, list]:
    """The s-expression and every node's bytes and points: the incremental tree must match both."""
    nodes = [(n.type, n.start_byte, n.end_byte, n.start_point, n.end_point) for n in _walk(tree.root_node)]
    return str(tree.root_node), nodes


def _random_edit(rng: random.Random, text: str) -> tuple[int, int, str]:
    start = rng.randint(0, len(text))
    end = min(len(text), start + rng.choice([0, 0, 0, 1, 2, 5]))
    return start, end, rng.choice(PIECES)


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_after_random_edits_the_tree_is_the_fresh_parse_of_the_final_text(language):
    rng = random.Random(7)
    text = SOURCES[language]
    document = SyntaxTree(language, text)
    document.current(text)
    for step in range(400):
        start, end, new = _random_edit(rng, text)
        document.edit(text, start, end, new)
        text = text[:start] + new + text[end:]
        if step % 37 == 0:
            assert _shape(document.current(text)) == _shape(parser(language).parse(text.encode()))
    assert any(not c.isascii() for c in text)
    assert _shape(document.current(text)) == _shape(parser(language).parse(text.encode()))


def test_a_burst_of_edits_is_parsed_once_and_only_when_asked_for():
    text = SOURCES["python"]
    document = SyntaxTree("python", text)
    assert document.parses == 0
    first = document.current(text)
    assert document.current(text) is first and document.parses == 1
    base = text.index("return x")
    for i in range(50):
        at = base + 2 * i  # after the previous "é", so the edits walk right
        document.edit(text, at, at, "é")
        text = text[:at] + "é" + text[at:]
    assert document.parses == 1
    tree = document.current(text)
    assert document.parses == 2 and document.current(text) is tree
    assert str(tree.root_node) == str(parser("python").parse(text.encode()).root_node)


@pytest.mark.parametrize(
    "edits",
    [
        [("1, 2", '"é",\n  "😀", ')],  # a new line: the column restarts after the last newline
        [("];\nclass", ', "😀"')],  # on a line with "é" before the edit
        [(";\nclass", " "), ("] ;", ', "😀"')],  # the second edit just before the first, on the same line
        [("class A", "// é\n"), ("];\n//", ', "😀"')],  # ... and on the line above it
    ],
)
def test_an_edit_moves_the_old_trees_later_nodes_to_their_new_bytes_and_points(edits):
    # The edited, not yet reparsed tree is what tree-sitter reuses: the leaves after the edits must already sit
    # where a fresh parse puts them, in bytes and (row, byte column) points.
    text = SOURCES["javascript"]
    document = SyntaxTree("javascript", text)
    old = document.current(text)
    for anchor, new in edits:
        at = text.index(anchor)
        document.edit(text, at, at, new)
        text = text[:at] + new + text[at:]
    after = len(text[: at + len(new)].encode())

    def leaves(tree):
        # Starts only: a leaf that ends where an insertion begins grows over it until the reparse.
        return {(n.type, n.start_byte, n.start_point) for n in _walk(tree.root_node) if not n.children}

    moved = {leaf for leaf in leaves(old) if leaf[1] >= after}
    assert moved and moved <= leaves(parser("javascript").parse(text.encode()))


def test_a_change_the_edits_missed_gets_a_fresh_parse_instead_of_a_wrong_tree():
    text = SOURCES["javascript"]
    document = SyntaxTree("javascript", text)
    document.current(text)
    document.edit(text, 0, 0, "let a = 1;\n")
    text = "let a = 1;\n" + text + "let b = 2;\n"  # the second insertion was never reported
    assert str(document.current(text).root_node) == str(parser("javascript").parse(text.encode()).root_node)


def test_an_edit_outside_the_text_is_refused():
    document = SyntaxTree("python", "x = 1\n")
    with pytest.raises(ValueError, match="outside"):
        document.edit("x = 1\n", 3, 9, "")
    with pytest.raises(ValueError, match="outside"):
        document.edit("x = 1\n", 4, 3, "")


def test_offsets_convert_characters_and_bytes_both_ways_in_any_order():
    text = "aé😀\nb" * 50
    offsets = Offsets(text)
    rng = random.Random(3)
    for char in rng.sample(range(len(text) + 1), 120):
        byte = len(text[:char].encode())
        assert offsets.byte(char) == byte
        assert offsets.char(byte) == char


def test_holes_come_from_a_given_tree_without_parsing_again(monkeypatch):
    source = "def f():\n    pass\n\ndef g():\n    return 1  # TODO: é\n"
    document = SyntaxTree("python", source)
    tree = document.current(source)
    expected = find_holes(source, "python")
    monkeypatch.setattr(languages, "parser", lambda name: pytest.fail("parsed again"))
    assert find_holes(source, "python", tree=tree) == expected
    assert [h.text for h in expected] == ["pass", "# TODO: é"]


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_a_reparse_on_another_thread_is_the_fresh_parse_and_edits_meanwhile_are_not_lost(language):
    rng = random.Random(7)
    text = SOURCES[language] * 40
    syntax = SyntaxTree(language, text)
    fresh = parser(language)

    with ThreadPoolExecutor(1) as pool:
        job = syntax.reparse(text)  # the first parse: from nothing
        syntax.install(job, pool.submit(job.run).result())
        assert syntax.reparse(text) is None and _shape(syntax.current(text)) == _shape(fresh.parse(text.encode()))

        for _ in range(5):
            start, end, piece = _random_edit(rng, text)
            syntax.edit(text, start, end, piece)
            text = text[:start] + piece + text[end:]
        job = syntax.reparse(text)  # incremental, from a copy of the edited tree
        running = pool.submit(job.run)
        start, end, piece = _random_edit(rng, text)  # an edit arrives while the other thread parses
        syntax.edit(text, start, end, piece)
        parsed = running.result()
        assert _shape(parsed) == _shape(fresh.parse(text.encode()))  # the text it was given, untouched by the edit
        syntax.install(job, parsed)  # too old now: not taken
        text = text[:start] + piece + text[end:]
        parses = syntax.parses
        assert _shape(syntax.current(text)) == _shape(fresh.parse(text.encode())) and syntax.parses == parses + 1
