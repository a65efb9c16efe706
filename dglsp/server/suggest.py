"""One suggestion at the cursor, shared by inline completion and the completion fallback, in plain offsets.

The plan (gap, cache) runs on the event loop; the fill runs on the model's worker. An automatic request waits
out the debounce and is dropped when a newer one for the same document arrives; a request whose document
changed while the model worked is dropped too, since its positions no longer point where they did. A fill under
the confidence threshold is shown only to a request the user made (marked low-confidence), never while typing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from ..syntax.gap import find_gap
from .app import DglspServer
from .documents import Document
from .fills import Fill, fill_gap, min_confidence, origin
from .jobs import run_job

log = logging.getLogger("dglsp")


@dataclass(frozen=True)
class Selected:
    """The completion the editor's popup has selected (LSP 3.18): fill after it as if it were inserted."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Suggestion:
    start: int  # the document range the text replaces: the cursor (or a selected completion), and past
    end: int  # any auto-closed characters after it so they are not doubled
    text: str
    fill: str  # what the model added
    score: float | None = None  # its confidence score
    low_confidence: bool = False  # under `min_confidence`: shown only because the user asked


async def suggest(
    ls: DglspServer, feature: str, doc: Document, cursor: int, *, invoked: bool, selected: Selected | None = None
) -> Suggestion | None:
    start_time = time.perf_counter()
    settings, version = ls.settings, doc.version

    def done(outcome: str, result: Suggestion | None = None) -> Suggestion | None:
        ls.stats.record(feature, (time.perf_counter() - start_time) * 1000, outcome)
        return result

    if not settings.language_on(doc.language_id):
        return done("disabled")
    text, tree = await doc.parsed()
    if doc.version != version:  # typed on while a big file was parsed
        return done("stale")
    head, start, end = "", cursor, cursor
    if selected is not None:
        start, end, head = selected.start, selected.end, selected.text
        text, tree = text[:start] + head + text[end:], None
        cursor = start + len(head)
    gap = find_gap(
        text,
        cursor,
        doc.grammar,
        tree=tree.copy() if tree else None,
        invoked=invoked,
        multiline=settings.multiline,
        line_tokens=settings.line_tokens,
        block_tokens=settings.max_tokens,
        context_chars=ls.context_chars,
    )
    if gap.kind == "none":
        log.debug("no gap at %s:%d (%s)", doc.uri, cursor, gap.reason)
        return done("empty")

    seq = ls.next_request(doc.uri)
    if not invoked and settings.debounce_ms:
        await asyncio.sleep(settings.debounce_ms / 1000)
        if ls.latest_request(doc.uri) != seq:
            return done("superseded")

    scope = (ls.host.status.generation, tuple(sorted(settings.sampler.items())), gap.kind, gap.max_tokens)
    scope += (settings.parse_trim,)  # what else makes the same gap fill differently
    hit = ls.cache.lookup(scope, gap.prefix, gap.suffix)
    outcome = "cached"
    if hit is not None:
        fill = Fill(hit[0], hit[1], min_confidence(ls.host.engine, settings))
    else:
        grammar, at = doc.grammar, origin(ls.documents, ls.host.engine, doc)

        def work(cancel):
            return fill_gap(ls.host.require(), text, gap, grammar, settings, cancel, at, unasked=not invoked)

        try:
            job, fill = await run_job(ls, work, doc.uri)
        except asyncio.CancelledError:
            done("cancelled")
            raise
        if job == "cancelled":
            return done("stale" if doc.version != version else "superseded")
        if job == "no_model":
            ls.tell_once("warning", f"dglsp: no completions: {fill}")
        elif job == "error":
            ls.tell("error", f"dglsp: the fill failed: {type(fill).__name__}: {fill}")
        if job != "done":
            return done(job)
        if not fill.given_up:  # a fill cut short is no answer to an explicit request for the same place
            ls.cache.put(scope, gap.prefix, gap.suffix, fill.text, fill.score)
        outcome = "served"
    if ls.documents.get_or_none(doc.uri) is not doc or doc.version != version:
        return done("stale")
    if not fill.text:
        return done("empty")
    if not fill.confident and not invoked:
        return done("low_confidence")
    # The fill replaces the cursor..gap.end span (auto-closed characters it ends with again), in the document's
    # own offsets: a selected completion's text is not in the buffer yet.
    found = Suggestion(start, end + (gap.end - cursor), head + fill.text, fill.text, fill.score, not fill.confident)
    return done(outcome, found)
