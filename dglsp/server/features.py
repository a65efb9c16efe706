"""The LSP handlers: each turns LSP types into offsets, calls the core, and turns the answer back."""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams

from .. import __version__
from ..syntax.languages import UnknownLanguage
from .app import DglspServer
from .documents import Document, UnknownDocument
from .fills import ActionPlan, Edit, plan_actions, run_action
from .jobs import run_job
from .suggest import document, offset, suggest

log = logging.getLogger("dglsp")
ACCEPTED, TOGGLE, RUN_ACTION, RELOAD = "dglsp.accepted", "dglsp.toggle", "dglsp.runAction", "dglsp.reloadModel"
STATS = "dglsp/stats"
WORD_END = re.compile(r"\w*$")
ACTION_KIND = types.CodeActionKind.RefactorRewrite


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was sound, the server could not do it (e.g. out of memory)."""

    CODE = -32803
    MESSAGE = "Request Failed"


def register(ls: DglspServer) -> None:
    @ls.feature(types.INITIALIZE)
    def initialize(ls: DglspServer, params: types.InitializeParams) -> None:
        ls.start(params)

    @ls.feature(types.INITIALIZED)
    def initialized(ls: DglspServer, _params: types.InitializedParams) -> None:
        ls.load_model()
        ls.watch_workspace_file()

    @ls.feature(types.SHUTDOWN)
    def shutdown(ls: DglspServer, _params: None) -> None:
        ls.stop()

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: DglspServer, params: types.DidChangeConfigurationParams) -> None:
        ls.set_client_settings(params.settings)

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DglspServer, params: types.DidOpenTextDocumentParams) -> None:
        try:
            ls.documents.open(params.text_document)
        except UnknownLanguage as exc:
            ls.tell_once("warning", f"dglsp: {exc}; plain-text rules for {params.text_document.language_id}")
        except ValueError as exc:
            ls.tell("warning", f"dglsp: {exc}")

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DglspServer, params: types.DidChangeTextDocumentParams) -> None:
        doc = params.text_document
        ls.worker.cancel(doc.uri)  # a fill for the old text could only be dropped as stale when it ends
        try:
            ls.documents.change(doc.uri, doc.version, list(params.content_changes), ls.encoding)
        except (UnknownDocument, ValueError) as exc:
            ls.tell("warning", f"dglsp: {exc}")

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DglspServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.close(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: DglspServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        context = params.context
        found = await suggest(
            ls,
            "inline",
            params.text_document.uri,
            params.position,
            invoked=context.trigger_kind == types.InlineCompletionTriggerKind.Invoked,
            selected=context.selected_completion_info,
        )
        if found is None:
            return types.InlineCompletionList(items=[])
        doc = ls.documents.get(params.text_document.uri)
        item = types.InlineCompletionItem(
            found.text, range=doc.range(found.start, found.end, ls.encoding), command=accepted("inline", found.fill)
        )
        return types.InlineCompletionList(items=[item])

    @ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "("]))
    async def completion(ls: DglspServer, params: types.CompletionParams) -> types.CompletionList:
        invoked = params.context is None or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        found = await suggest(ls, "completion", params.text_document.uri, params.position, invoked=invoked)
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        doc = ls.documents.get(params.text_document.uri)
        # Start at the word being typed so the client's filtering keeps the item while the user types on.
        start = found.start - len(WORD_END.search(doc.text, max(0, found.start - 200), found.start).group())
        new_text = doc.text[start : found.start] + found.text
        label = new_text.strip().splitlines()[0][:80] if new_text.strip() else new_text
        item = types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Snippet,
            detail="dglsp",
            sort_text="0",
            filter_text=new_text,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=doc.range(start, found.end, ls.encoding), new_text=new_text),
            command=accepted("completion", found.fill),
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[ACTION_KIND], resolve_provider=True),
    )
    async def code_action(ls: DglspServer, params: types.CodeActionParams) -> list[types.CodeAction | types.Command]:
        doc = document(ls, params.text_document.uri)
        if not ls.settings.language_on(doc.language_id):
            return []
        start, end = offset(ls, doc, params.range.start), offset(ls, doc, params.range.end)
        end, version = max(start, end), doc.version
        text, tree = await doc.parsed()
        if doc.version != version:
            raise JsonRpcContentModified(f"{doc.uri} changed while dglsp looked at it; ask again")
        plans = plan_actions(text, start, end, doc.grammar, tree, ls.settings, ls.context_chars)
        lazy = _resolves_edits(ls)
        actions: list[types.CodeAction | types.Command] = []
        for plan in plans:
            data = {"uri": doc.uri, "version": doc.version, "kind": plan.kind, "start": start, "end": end}
            if lazy:
                actions.append(types.CodeAction(title=plan.title, kind=ACTION_KIND, data=data))
            else:  # a plain command, which every client runs; the server then applies the edit itself
                actions.append(types.Command(plan.title, RUN_ACTION, arguments=[data]))
        return actions

    @ls.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: DglspServer, action: types.CodeAction) -> types.CodeAction:
        doc, edits = await _compute_action(ls, action.data)
        action.edit = workspace_edit(ls, doc, edits)
        return action

    @ls.command(RUN_ACTION)
    async def run_action_command(ls: DglspServer, data: dict) -> dict:
        doc, edits = await _compute_action(ls, data)
        if not edits:
            return {"applied": False}
        result = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=workspace_edit(ls, doc, edits), label="dglsp")
        )
        return {"applied": result.applied}

    @ls.command(ACCEPTED)
    def on_accepted(ls: DglspServer, info: dict | None = None) -> None:
        feature = info.get("feature", "inline") if isinstance(info, dict) else "inline"
        ls.stats.count(feature, "accepted")

    @ls.command(TOGGLE)
    def toggle(ls: DglspServer, *_args: Any) -> dict:
        return {"enabled": ls.toggle()}

    @ls.command(RELOAD)
    def reload_model(ls: DglspServer, *_args: Any) -> dict:
        """Read the model again, e.g. after a new checkpoint was saved over it; the answer comes as messages."""
        ls.load_model()
        return {"queued": True}

    @ls.feature(STATS)
    def stats(ls: DglspServer, _params: Any = None) -> dict:
        return {
            "version": __version__,
            "model": dataclasses.asdict(ls.host.status),
            "settings": dataclasses.asdict(ls.settings),
            "worker_pending": ls.worker.pending,
            "worker_running": ls.worker.running,  # a job's key while the model runs it, else None
            **ls.stats.snapshot(),
        }


def accepted(feature: str, fill: str) -> types.Command:
    """Run by the client after the user takes a suggestion: how `dglsp/stats` counts acceptance."""
    return types.Command("dglsp: accepted", ACCEPTED, arguments=[{"feature": feature, "chars": len(fill)}])


def _resolves_edits(ls: DglspServer) -> bool:
    caps = ls.client_capabilities
    support = caps.text_document and caps.text_document.code_action and caps.text_document.code_action.resolve_support
    return bool(support and "edit" in support.properties)


async def _compute_action(ls: DglspServer, data: Any) -> tuple[Document, list[Edit]]:
    """Run a listed action on the worker, for the document version it was listed for and no other."""
    if not isinstance(data, dict) or not {"uri", "version", "kind", "start", "end"} <= set(data):
        raise JsonRpcInvalidParams("this code action carries no dglsp data")
    doc = document(ls, data["uri"])
    if doc.version != data["version"]:
        raise JsonRpcContentModified(f"{doc.uri} changed since the action was offered; ask again")
    text, tree = await doc.parsed()
    if doc.version != data["version"]:
        raise JsonRpcContentModified(f"{doc.uri} changed while dglsp looked at it; ask again")
    plans = [
        p
        for p in plan_actions(text, data["start"], data["end"], doc.grammar, tree, ls.settings, ls.context_chars)
        if p.kind == data["kind"]
    ]
    if not plans:
        raise JsonRpcContentModified(f"the {data['kind']} action no longer applies at this place")
    plan: ActionPlan = plans[0]
    grammar, settings = doc.grammar, ls.settings
    outcome, edits = await run_job(
        ls, lambda cancel: run_action(ls.host.require(), text, plan, grammar, settings, cancel)
    )
    if outcome in ("cancelled", "no_model"):
        raise JsonRpcContentModified(f"dglsp: {edits}")
    if outcome == "out_of_memory":
        raise RequestFailed(f"dglsp: {edits}")
    if outcome == "error":
        raise edits
    if doc.version != data["version"]:
        raise JsonRpcContentModified(f"{doc.uri} changed while the model worked; ask again")
    if not edits:
        ls.tell("info", "dglsp: the model found nothing to put there", show=True)
    return doc, edits


def workspace_edit(ls: DglspServer, doc: Document, edits: list[Edit]) -> types.WorkspaceEdit:
    """Edits tied to the document version they were computed for: a client refuses them if the text changed."""
    text_edits = [types.TextEdit(range=doc.range(e.start, e.end, ls.encoding), new_text=e.text) for e in edits]
    identifier = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
    return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=identifier, edits=text_edits)])
