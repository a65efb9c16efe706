"""What each feature asks of the engine, in plain offsets: no LSP types here.

Each feature is two halves: a cheap plan on the event loop (find the gap, check the cache) and a `run` on the
model's worker thread (denoise, then trim with tree-sitter). Edits are (start, end, text) in characters.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from itertools import pairwise

from ..engine.engine import Engine
from ..engine.types import FillRequest
from ..syntax.gap import Gap, body_gap, enclosing_definition, indent_unit, selection_gap
from ..syntax.holes import Hole, find_holes
from ..syntax.languages import find_grammar
from ..syntax.trim import reindent, trim_fill
from .settings import Settings
from .worker import Cancelled

# Positions left for the holes when several are filled in one canvas (the rest is prefix and suffix).
HOLES_ROOM = 384


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ActionPlan:
    kind: str  # rewrite | holes | body
    title: str
    gap: Gap | None = None
    holes: tuple[Hole, ...] = ()


def run_fill(engine: Engine, request: FillRequest, settings: Settings, cancel: threading.Event) -> tuple[str, ...]:
    sampler = settings.sampler_config(engine.sampler)
    result = engine.fill(request, sampler, on_step=lambda _view: cancel.is_set())
    if result.stop == "cancelled":
        raise Cancelled("cancelled between denoising steps")
    return result.fills


def fill_gap(engine: Engine, text: str, gap: Gap, grammar: str | None, settings: Settings, cancel) -> str:
    """Denoise one gap and trim the fill to what should go into the buffer."""
    request = FillRequest(prefix=gap.prefix, suffix=gap.suffix, language=grammar, max_tokens=gap.max_tokens)
    (raw,) = run_fill(engine, request, settings, cancel)
    return trim_fill(text, gap, raw, grammar, parse=settings.parse_trim)


def plan_actions(
    text: str, start: int, end: int, grammar: str | None, tree, settings: Settings, context_chars: int
) -> list[ActionPlan]:
    """The code actions that apply at a selection, found without the model (listing must stay cheap)."""
    plans = []
    if end > start and text[start:end].strip():
        gap = selection_gap(text, start, end, grammar, tree=tree, context_chars=context_chars)
        plans.append(ActionPlan("rewrite", "dglsp: Rewrite selection", _capped(gap, settings)))
    if grammar is None:
        return plans
    span = enclosing_definition(text, start, grammar, tree=tree) or (0, len(text))
    holes = tuple(h for h in find_holes(text, grammar, *span, tree=tree) if not _trailing_comment(text, h, grammar))
    if holes:
        title = f"dglsp: Fill {len(holes)} hole{'s' * (len(holes) > 1)}"
        plans.append(ActionPlan("holes", title, holes=holes))
    body = body_gap(text, start, grammar, tree=tree, context_chars=context_chars, block_tokens=settings.max_tokens)
    if body is not None:
        plans.append(ActionPlan("body", "dglsp: Complete body", body))
    return plans


def _trailing_comment(text: str, hole: Hole, grammar: str) -> bool:
    """A TODO comment after code on its line (`x = 1  # TODO`): replacing it with code would break that line."""
    before = text[text.rfind("\n", 0, hole.start) + 1 : hole.start]
    return bool(before.strip()) and hole.text.startswith((find_grammar(grammar).line_comment, "/*"))


def _capped(gap: Gap, settings: Settings) -> Gap:
    return replace(gap, max_tokens=min(gap.max_tokens, settings.max_tokens))


def run_action(
    engine: Engine, text: str, plan: ActionPlan, grammar: str | None, settings: Settings, cancel
) -> list[Edit]:
    if plan.kind == "holes":
        return fill_holes(engine, text, plan.holes, grammar, settings, cancel)
    assert plan.gap is not None
    fill = fill_gap(engine, text, plan.gap, grammar, settings, cancel)
    if not fill.strip():
        return []  # an empty rewrite or body would delete the user's code for nothing
    return [Edit(plan.gap.start, plan.gap.end, fill)]


def fill_holes(
    engine: Engine, text: str, holes: tuple[Hole, ...], grammar: str | None, settings: Settings, cancel
) -> list[Edit]:
    """Every hole in one denoising run: the code between the holes stays fixed and every hole sees all of it."""
    per_hole = max(7, min(settings.max_tokens, HOLES_ROOM // len(holes) - 1))
    between = tuple(text[a.end : b.start] for a, b in pairwise(holes))
    request = FillRequest(
        prefix=text[: holes[0].start],
        suffix=text[holes[-1].end :],
        language=grammar,
        max_tokens=per_hole,
        between=between,
    )
    fills = run_fill(engine, request, settings, cancel)
    unit = indent_unit(text)
    edits = []
    for hole, fill in zip(holes, fills, strict=True):
        line_start = text.rfind("\n", 0, hole.start) + 1
        indent = text[line_start : hole.start]
        body = reindent(fill.strip("\n").rstrip(), indent if not indent.strip() else "", unit).lstrip()
        if body:  # a hole the model left empty stays as the user wrote it
            edits.append(Edit(hole.start, hole.end, body))
    return edits
