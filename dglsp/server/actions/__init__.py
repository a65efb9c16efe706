"""Code actions, one module each, named by the `kind` of their entry in `server/contract.py`.

Each module has `plan(site) -> ActionPlan | None` (cheap, no model: listing must stay fast) and
`run(job) -> Proposal` (on the model's worker): the edits, in characters, and how sure the model was of them.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field, replace
from functools import cache
from types import ModuleType

from ...engine.confidence import confident
from ...engine.engine import Engine
from ...syntax.gap import Gap, enclosing_definition
from ...syntax.holes import Hole
from ..contract import ACTIONS
from ..fills import Edit, Origin
from ..settings import Settings


@dataclass(frozen=True)
class Site:
    """Where the user asked: the text, the selection (start == end: the cursor) and what is known about it."""

    text: str
    start: int
    end: int
    grammar: str | None
    tree: object | None
    settings: Settings
    context_chars: int
    chosen: bool = True  # the range is the user's own selection (False: the client may have guessed it)


@dataclass(frozen=True)
class ActionPlan:
    kind: str
    title: str  # as listed in the editor's menu
    gap: Gap | None = None
    holes: tuple[Hole, ...] = ()
    preferred: bool = False  # the one an editor runs by default (e.g. on RET in eglot's menu)


@dataclass(frozen=True)
class Job:
    engine: Engine
    text: str
    plan: ActionPlan
    grammar: str | None
    settings: Settings
    cancel: threading.Event
    origin: Origin = field(default_factory=Origin)


@dataclass(frozen=True)
class Proposal:
    edits: list[Edit]
    score: float | None  # the fill's confidence score (None: the backend gives none)
    floor: float  # the least score applied (`min_confidence`)

    @property
    def confident(self) -> bool:
        return confident(self.score, self.floor)


@cache
def module(kind: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{kind}")


def plan_actions(site: Site) -> list[ActionPlan]:
    """The actions that apply at `site`, in the contract's order, the one that fits the range best preferred.

    At the cursor, or over a whole definition with a hole in it, filling what is missing is what was meant; a
    client that only guessed such a range (eglot sends the sexp at point, a whole `def`) is not offered a rewrite
    of all of it. Over a part of the code the user selected, rewriting that part is."""
    selection = {entry.kind for entry in ACTIONS if entry.selection}
    plans = [plan for entry in ACTIONS if (plan := module(entry.kind).plan(site)) is not None]
    fills = [p for p in plans if p.kind not in selection]
    if fills and (site.end <= site.start or _spans_definition(site)):
        plans = [p for p in plans if p.kind not in selection or site.chosen]
        best = fills[0]
    else:
        best = next((p for p in plans if p.kind in selection), None)
    return [replace(p, preferred=True) if p is best else p for p in plans]


def _spans_definition(site: Site) -> bool:
    """The range holds the whole function it starts in (blank space around it aside)."""
    chosen = site.text[site.start : site.end]
    first, last = site.start + len(chosen) - len(chosen.lstrip()), site.start + len(chosen.rstrip())
    if site.grammar is None or last <= first:
        return False
    span = enclosing_definition(site.text, first, site.grammar, tree=site.tree)
    return span is not None and first <= span[0] and last >= span[1]


def run_action(job: Job) -> Proposal:
    return module(job.plan.kind).run(job)
