"""The languages dglsp parses: official tree-sitter grammar wheels, loaded offline, one parser per language."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

QUERIES = Path(__file__).parent / "queries"


@dataclass(frozen=True)
class Grammar:
    name: str  # also the LSP languageId and the query file's name
    module: str  # the grammar wheel's module
    function: str = "language"
    extensions: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other LSP languageIds that mean this grammar


GRAMMARS = (
    Grammar("python", "tree_sitter_python", extensions=(".py", ".pyi")),
    Grammar(
        "javascript", "tree_sitter_javascript", extensions=(".js", ".mjs", ".cjs", ".jsx"), aliases=("javascriptreact",)
    ),
    Grammar("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts")),
    Grammar("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",), aliases=("typescriptreact",)),
    Grammar("go", "tree_sitter_go", extensions=(".go",)),
    Grammar("rust", "tree_sitter_rust", extensions=(".rs",)),
    Grammar("java", "tree_sitter_java", extensions=(".java",)),
    Grammar("c", "tree_sitter_c", extensions=(".c", ".h")),
    Grammar("cpp", "tree_sitter_cpp", extensions=(".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx")),
    Grammar("lua", "tree_sitter_lua", extensions=(".lua",)),
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

    return Query(language(name), (QUERIES / kind / f"{name}.scm").read_text(encoding="utf-8"))


def parser(name: str):
    from tree_sitter import Parser

    return Parser(language(name))
