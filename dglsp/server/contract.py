"""What the server offers, described once: its settings, languages, code actions and commands.

`describe()` is the server's answer to `dglsp/describe` and what `dglsp describe` prints; the editors' files
(VS Code's package.json and generated contract module, the Neovim plugin's contract table) are written from it
by `dglsp describe --write-editors` and checked against it by the tests. A new code action is one module in
`server/actions/` and one `Action` entry below; the editors pick it up from here.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from .. import __version__
from ..engine.types import SamplerConfig
from ..syntax.languages import GRAMMARS
from .settings import Settings

# The LSP kind every dglsp code action has; clients tell one action from another by its `data.kind`.
ACTION_KIND = "refactor.rewrite"


@dataclass(frozen=True)
class Action:
    kind: str  # the actions' data.kind; server/actions/<kind>.py plans and runs it
    command: str  # the editors' command for it: VS Code `dglsp.<command>`, Neovim `:<vim_command>`
    vim_command: str
    title: str  # the command's title in a palette
    selection: bool  # needs a selection (else it works at the cursor)
    context_menu: bool  # listed in the editor's right-click menu
    not_offered: str  # what the user is told when it does not apply where they are


@dataclass(frozen=True)
class Command:
    name: str  # workspace/executeCommand id
    title: str | None  # a palette title; None: the client runs it itself (e.g. after an accept), never the user
    vim_command: str | None = None


ACTIONS = (
    Action(
        "rewrite",
        "rewriteSelection",
        "DglspRewrite",
        "Rewrite selection",
        selection=True,
        context_menu=True,
        not_offered="select some code first",
    ),
    Action(
        "holes",
        "fillHoles",
        "DglspFillHoles",
        "Fill holes in this function",
        selection=False,
        context_menu=True,
        not_offered="no holes (`...`, `pass`, TODO comments, `todo!()`, ...) in the enclosing function",
    ),
    Action(
        "body",
        "completeBody",
        "DglspCompleteBody",
        "Complete function body",
        selection=False,
        context_menu=False,
        not_offered="the cursor is not in a function with an empty or stub body",
    ),
)

TOGGLE, RELOAD, ACCEPTED, RUN_ACTION = "dglsp.toggle", "dglsp.reloadModel", "dglsp.accepted", "dglsp.runAction"
COMMANDS = (
    Command(TOGGLE, "Toggle completions", "DglspToggle"),
    Command(RELOAD, "Reload model", "DglspReloadModel"),
    Command(ACCEPTED, None),
    Command(RUN_ACTION, None),
)
STATS, DESCRIBE = "dglsp/stats", "dglsp/describe"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def json_type(annotation: str) -> str | list[str]:
    """A dataclass field's annotation (a string, under `from __future__ import annotations`) as a JSON type."""
    kinds = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "None": "null"}
    names = [kinds.get(part.strip(), "object") for part in annotation.split("|")]
    return names[0] if len(names) == 1 else names


def _setting(f) -> dict[str, Any]:
    meta = f.metadata
    default = f.default if f.default is not MISSING else f.default_factory()
    entry = {"name": f.name, "key": camel(f.name), "type": json_type(str(f.type)), "default": default}
    entry["doc"] = meta["doc"]
    if meta["choices"] is not None:
        entry["choices"] = list(meta["choices"])
    if meta["between"] is not None:
        entry["minimum"], entry["maximum"] = meta["between"]
    entry["reloads_model"], entry["user_only"] = meta["model"], meta["user_only"]
    return entry


def languages() -> list[str]:
    """The LSP language ids with a grammar here (aliases too): the ids the editors start the server for."""
    return [name for g in GRAMMARS for name in g.language_ids]


def describe() -> dict[str, Any]:
    return {
        "name": "dglsp",
        "version": __version__,
        "settings": [_setting(f) for f in fields(Settings)],
        "sampler": [{"key": camel(f.name), "type": json_type(str(f.type))} for f in fields(SamplerConfig)],
        "languages": languages(),
        "action_kind": ACTION_KIND,
        "actions": [asdict(a) for a in ACTIONS],
        "commands": [asdict(c) for c in COMMANDS],
        "requests": [STATS, DESCRIBE],
    }
