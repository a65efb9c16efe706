"""Code actions, one module each, named by the `kind` of their entry in `server/contract.py`.

Each module has `plan(site) -> ActionPlan | None` (cheap, no model: listing must stay fast) and
`run(job) -> Proposal` (on the model's worker): the edits, in characters, and how sure the model was of them.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

from ...engine.engine import Engine
from ...syntax.gap import Gap
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


@dataclass(frozen=True)
class ActionPlan:
    kind: str
    title: str  # as listed in the editor's menu
    gap: Gap | None = None
    holes: tuple[Hole, ...] = ()


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
        return self.score is None or self.score >= self.floor


@cache
def module(kind: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{kind}")


def plan_actions(site: Site) -> list[ActionPlan]:
    """The actions that apply at `site`, in the contract's order."""
    return [plan for entry in ACTIONS if (plan := module(entry.kind).plan(site)) is not None]


def run_action(job: Job) -> Proposal:
    return module(job.plan.kind).run(job)
