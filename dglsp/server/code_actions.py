"""Code actions in plain offsets: which apply at a selection (no model), and the edits one of them makes.

An action is listed for one document version and runs for that version only: any change in between, and the
caller is told to ask again (`Changed`) instead of getting an edit for text that is no longer there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .actions import ActionPlan, Job, Proposal, Site, plan_actions, run_action
from .app import DglspServer
from .documents import Document
from .fills import Edit, Origin, origin
from .jobs import run_job
from .refusals import BadRequest, Changed, CouldNotRun

DATA_KEYS = ("uri", "version", "kind", "start", "end")


@dataclass(frozen=True)
class Offer:
    title: str
    data: dict[str, Any]  # what running it needs: uri, version, kind, start, end
    preferred: bool = False


async def _site(ls: DglspServer, doc: Document, start: int, end: int, version: int, chosen: bool = True) -> Site:
    text, tree = await doc.parsed()
    if doc.version != version:
        raise Changed(f"{doc.uri} changed while dglsp looked at it; ask again")
    return Site(text, start, end, doc.grammar, tree, ls.settings, ls.context_chars, chosen)


async def offers(ls: DglspServer, doc: Document, start: int, end: int, chosen: bool = True) -> list[Offer]:
    """`chosen`: the range is the user's selection, not one the client guessed (see `plan_actions`)."""
    if not ls.settings.language_on(doc.language_id):
        return []
    end, version = max(start, end), doc.version
    site = await _site(ls, doc, start, end, version, chosen)
    data = {"uri": doc.uri, "version": version, "start": start, "end": end}
    return [Offer(plan.title, {**data, "kind": plan.kind}, plan.preferred) for plan in plan_actions(site)]


async def action_edits(ls: DglspServer, data: Any) -> tuple[Document, list[Edit]]:
    """Run an offered action on the worker, for the document version it was offered for and no other."""
    if not _well_formed(data):
        raise BadRequest("this code action carries no dglsp data")
    doc, version = ls.documents.get(data["uri"]), data["version"]
    if doc.version != version:
        raise Changed(f"{doc.uri} changed since the action was offered; ask again")
    site = await _site(ls, doc, data["start"], data["end"], version)
    plan = next((p for p in plan_actions(site) if p.kind == data["kind"]), None)
    if plan is None:
        raise Changed(f"the {data['kind']} action no longer applies at this place")
    proposal = await _run(ls, site, plan, origin(ls.documents, ls.host.engine, doc))
    if doc.version != version:
        raise Changed(f"{doc.uri} changed while the model worked; ask again")
    if not proposal.confident:
        ls.tell(
            "info",
            f"dglsp: the model is not confident here (confidence {proposal.score:.2f}, under {proposal.floor:.2f}), "
            "so nothing was changed; set minConfidence to 0 to apply its fill anyway",
            show=True,
        )
        return doc, []
    if not proposal.edits:
        ls.tell("info", "dglsp: the model found nothing to put there", show=True)
    return doc, proposal.edits


def _well_formed(data: Any) -> bool:
    if not isinstance(data, dict) or not set(DATA_KEYS) <= set(data):
        return False
    numbers = [data[k] for k in ("version", "start", "end")]
    return (
        isinstance(data["uri"], str)
        and isinstance(data["kind"], str)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers)
    )


async def _run(ls: DglspServer, site: Site, plan: ActionPlan, at: Origin) -> Proposal:
    text, grammar, settings = site.text, site.grammar, site.settings
    outcome, value = await run_job(
        ls, lambda cancel: run_action(Job(ls.host.require(), text, plan, grammar, settings, cancel, at))
    )
    if outcome in ("cancelled", "no_model"):
        raise Changed(f"dglsp: {value}")
    if outcome == "out_of_memory":
        raise CouldNotRun(f"dglsp: {value}")
    if outcome == "error":
        raise value
    return value
