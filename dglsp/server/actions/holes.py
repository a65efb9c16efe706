"""Fill every hole (`...`, `pass`, TODO comments, `todo!()`) of the function at the cursor in one denoising run:
the code between the holes stays fixed and every hole sees all of it."""

from __future__ import annotations

from itertools import pairwise

from ...engine.types import FillRequest
from ...syntax.gap import enclosing_definition, indent_unit
from ...syntax.holes import Hole, find_holes
from ...syntax.languages import find_grammar
from ...syntax.trim import plain_text, reindent
from ..fills import Edit, min_confidence, run_fill, score_of
from . import ActionPlan, Job, Proposal, Site

# Positions left for the holes when several are filled in one canvas (the rest is prefix and suffix).
HOLES_ROOM = 384


def plan(site: Site) -> ActionPlan | None:
    if site.grammar is None:
        return None
    text, grammar = site.text, site.grammar
    span = enclosing_definition(text, site.start, grammar, tree=site.tree) or (0, len(text))
    found = find_holes(text, grammar, *span, tree=site.tree)
    holes = tuple(h for h in found if not _trailing_comment(text, h, grammar))
    if not holes:
        return None
    return ActionPlan("holes", f"dglsp: Fill {len(holes)} hole{'s' * (len(holes) > 1)}", holes=holes)


def _trailing_comment(text: str, hole: Hole, grammar: str) -> bool:
    """A TODO comment after code on its line (`x = 1  # TODO`): replacing it with code would break that line."""
    before = text[text.rfind("\n", 0, hole.start) + 1 : hole.start]
    return bool(before.strip()) and hole.text.startswith((find_grammar(grammar).line_comment, "/*"))


def run(job: Job) -> Proposal:
    text, holes = job.text, job.plan.holes
    per_hole = max(7, min(job.settings.max_tokens, HOLES_ROOM // len(holes) - 1))
    request = FillRequest(
        prefix=text[: holes[0].start],
        suffix=text[holes[-1].end :],
        language=job.grammar,
        max_tokens=per_hole,
        between=tuple(text[a.end : b.start] for a, b in pairwise(holes)),
        document=job.origin.document,
        other_files=job.origin.other_files,
    )
    result = run_fill(job.engine, request, job.settings, job.cancel)
    unit = indent_unit(text)
    edits = []
    for hole, fill in zip(holes, result.fills, strict=True):
        line_start = text.rfind("\n", 0, hole.start) + 1
        indent = text[line_start : hole.start]
        body = reindent(plain_text(fill).strip("\n").rstrip(), indent if not indent.strip() else "", unit).lstrip()
        if body:  # a hole the model left empty stays as the user wrote it
            edits.append(Edit(hole.start, hole.end, body))
    return Proposal(edits, score_of(result), min_confidence(job.engine, job.settings))
