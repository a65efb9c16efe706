"""Complete the body of the function at the cursor when it is empty or a stub (`pass`, `...`, `{}`)."""

from __future__ import annotations

from ...syntax.gap import body_gap
from . import ActionPlan, Job, Proposal, Site
from .rewrite import gap_edits


def plan(site: Site) -> ActionPlan | None:
    if site.grammar is None:
        return None
    gap = body_gap(
        site.text,
        site.start,
        site.grammar,
        tree=site.tree,
        context_chars=site.context_chars,
        block_tokens=site.settings.max_tokens,
    )
    return None if gap is None else ActionPlan("body", "dglsp: Complete body", gap)


def run(job: Job) -> Proposal:
    return gap_edits(job)
