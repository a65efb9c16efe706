"""Rewrite the selection: re-noise exactly that span and denoise it with the code on both sides fixed."""

from __future__ import annotations

from dataclasses import replace

from ...syntax.gap import selection_gap
from ..fills import Edit, fill_gap
from . import ActionPlan, Job, Proposal, Site


def plan(site: Site) -> ActionPlan | None:
    if site.end <= site.start or not site.text[site.start : site.end].strip():
        return None
    gap = selection_gap(site.text, site.start, site.end, site.grammar, tree=site.tree, context_chars=site.context_chars)
    capped = replace(gap, max_tokens=min(gap.max_tokens, site.settings.max_tokens))
    return ActionPlan("rewrite", "dglsp: Rewrite selection", capped)


def run(job: Job) -> Proposal:
    return gap_edits(job)


def gap_edits(job: Job) -> Proposal:
    """The plan's gap filled, as one edit; none when the model left it empty."""
    gap = job.plan.gap
    assert gap is not None
    fill = fill_gap(job.engine, job.text, gap, job.grammar, job.settings, job.cancel, job.origin)
    # An empty rewrite or body would delete the user's code for nothing.
    edits = [Edit(gap.start, gap.end, fill.text)] if fill.text.strip() else []
    return Proposal(edits, fill.score, fill.floor)
