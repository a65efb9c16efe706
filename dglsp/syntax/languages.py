"""The languages dglsp parses: official tree-sitter grammar wheels, loaded offline, one parser per language."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

QUERIES = Path(__file__).parent / "queries"


@dataclass(frozen=True)
class Grammar:
    name: str  # also the LSP languageId and the query file's name
    module: str  # the grammar wheel's module
    function: str = "language"
    extensions: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other LSP languageIds that mean this grammar
    # Searched in the line before the cursor (trailing whitespace dropped): a match means a block body follows.
    block_opener: str = r"\{$"
    line_comment: str = "//"
    indent: str = "    "  # the indentation unit of a document that shows none yet (gofmt indents with tabs)
    named_by_editors: bool = True  # False: no editor calls a language by this name (tsx is typescriptreact)

    @property
    def language_ids(self) -> tuple[str, ...]:
        """The LSP language ids editors use for this grammar."""
        return (self.name, *self.aliases) if self.named_by_editors else self.aliases


# Python opens a block with a compound statement's `:`; a bare `:` (dict literal, lambda, slice) does not.
_PYTHON_OPENER = r"^\s*(?:async\s+)?(?:def|class|if|elif|else|for|while|try|except|finally|with|match|case)\b.*:$"
_LUA_OPENER = r"(?:\bthen|\bdo|\belse|\brepeat|\bfunction\b[^()]*\([^()]*\))$"

GRAMMARS = (
    Grammar("python", "tree_sitter_python", extensions=(".py", ".pyi"), block_opener=_PYTHON_OPENER, line_comment="#"),
    Grammar(
        "javascript", "tree_sitter_javascript", extensions=(".js", ".mjs", ".cjs", ".jsx"), aliases=("javascriptreact",)
    ),
    Grammar("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts")),
    Grammar(
        "tsx", "tree_sitter_typescript", "language_tsx", (".tsx",), aliases=("typescriptreact",), named_by_editors=False
    ),
    Grammar("go", "tree_sitter_go", extensions=(".go",), indent="\t"),
    Grammar("rust", "tree_sitter_rust", extensions=(".rs",)),
    Grammar("java", "tree_sitter_java", extensions=(".java",)),
    Grammar("c", "tree_sitter_c", extensions=(".c", ".h")),
    Grammar("cpp", "tree_sitter_cpp", extensions=(".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx")),
    Grammar("lua", "tree_sitter_lua", extensions=(".lua",), block_opener=_LUA_OPENER, line_comment="--"),
)
_BY_ID = {name: g for g in GRAMMARS for name in (g.name, *g.aliases)}
_BY_EXTENSION = {ext: g for g in GRAMMARS for ext in g.extensions}


class UnknownLanguage(LookupError):
    pass


def grammar_for(language_id: str | None = None, path: str | None = None) -> Grammar:
    """By LSP languageId first, else by file extension."""
    if language_id and language_id in _BY_ID:
        return _BY_ID[language_id]
    if path and Path(path).suffix.lower() in _BY_EXTENSION:
        return _BY_EXTENSION[Path(path).suffix.lower()]
    raise UnknownLanguage(f"no grammar for language {language_id!r} (file {path!r}): {', '.join(sorted(_BY_ID))}")


def language_of_path(path: str) -> str | None:
    """The language a file's extension names, or None for one no grammar here knows."""
    grammar = _BY_EXTENSION.get(Path(path).suffix.lower())
    return grammar.name if grammar else None


def find_grammar(language_id: str | None) -> Grammar | None:
    """The grammar of an LSP languageId, or None for plain text (None, or an id no grammar here knows)."""
    return _BY_ID.get(language_id) if language_id else None


@cache
def language(name: str):
    from tree_sitter import Language

    grammar = _BY_ID[name]
    try:
        module = importlib.import_module(grammar.module)
    except ImportError as exc:
        raise UnknownLanguage(
            f"the {name} grammar is not installed: pip install {grammar.module.replace('_', '-')}"
        ) from exc
    return Language(getattr(module, grammar.function)())


@cache
def query(name: str, kind: str):
    """The `queries/<kind>/<language>.scm` query (data, not code), compiled once."""
    from tree_sitter import Query

    return Query(language(name), query_source(name, kind))


def query_source(name: str, kind: str) -> str:
    """A query file's text, after the text of the languages its first line `; inherits: a,b` names (as in
    nvim-treesitter), so TypeScript's queries are JavaScript's plus TypeScript's own nodes."""
    text = (QUERIES / kind / f"{name}.scm").read_text(encoding="utf-8")
    first = text.split("\n", 1)[0]
    if not first.startswith("; inherits:"):
        return text
    parents = [p.strip() for p in first.removeprefix("; inherits:").split(",") if p.strip()]
    return "\n".join([*(query_source(p, kind) for p in parents), text])


def parser(name: str):
    from tree_sitter import Parser

    return Parser(language(name))


def captures(name: str, kind: str, text: str, tree=None) -> dict[str, np.ndarray]:
    """Run the `kind` query over `text` (parsed here unless its `tree` is given): per capture name, (n, 2) character
    offsets of the captured nodes.

    Captures named with a leading underscore only feed the query's predicates and are left out.
    """
    from tree_sitter import QueryCursor

    data = text.encode("utf-8")
    if tree is None:
        tree = parser(name).parse(data)
    found = {
        capture: np.array([(n.start_byte, n.end_byte) for n in nodes], dtype=np.int64).reshape(-1, 2)
        for capture, nodes in QueryCursor(query(name, kind)).captures(tree.root_node).items()
        if not capture.startswith("_")
    }
    if len(data) != len(text):
        # Byte offsets to character offsets: count the characters that start before each byte.
        chars = np.concatenate([[0], np.cumsum(np.frombuffer(data, dtype=np.uint8) & 0xC0 != 0x80)])
        found = {capture: chars[offsets] for capture, offsets in found.items()}
    return found
