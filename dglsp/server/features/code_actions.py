"""textDocument/codeAction, codeAction/resolve and dglsp.runAction: the actions of server/actions/ for a selection.

Clients that resolve edits get a lazy CodeAction (the model runs on resolve); others get the `dglsp.runAction`
command, which every client runs, and the server applies the edit itself (workspace/applyEdit): inside a CodeAction
literal where the client takes them (so it can mark the preferred one), else a plain Command.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..app import DglspServer
from ..code_actions import action_edits, offers
from ..contract import ACTION_KIND, RUN_ACTION
from ..documents import Document
from ..fills import Edit
from ..protocol import ClientTimeout
from .errors import offset, translated

log = logging.getLogger("dglsp")
KIND = types.CodeActionKind(ACTION_KIND)


@translated
async def code_action(ls: DglspServer, params: types.CodeActionParams) -> list[types.CodeAction | types.Command]:
    doc = ls.documents.get(params.text_document.uri)
    start, end = offset(doc, params.range.start, ls.encoding), offset(doc, params.range.end, ls.encoding)
    # LSP 3.17 clients say how the user asked, and send their selection; older ones (eglot 1.9) may send a range
    # they guessed (the sexp at point).
    chosen = params.context.trigger_kind is not None
    listed = await offers(ls, doc, start, end, chosen)
    if _resolves_edits(ls):
        return [types.CodeAction(o.title, kind=KIND, data=o.data, is_preferred=o.preferred or None) for o in listed]
    commands = [(o, types.Command(o.title, RUN_ACTION, arguments=[o.data])) for o in listed]
    if _takes_literals(ls):
        return [types.CodeAction(o.title, kind=KIND, command=c, is_preferred=o.preferred or None) for o, c in commands]
    return [c for _, c in commands]


@translated
async def code_action_resolve(ls: DglspServer, action: types.CodeAction) -> types.CodeAction:
    doc, edits = await action_edits(ls, action.data)
    action.edit = workspace_edit(ls, doc, edits)
    return action


@translated
async def run_action_command(ls: DglspServer, data: Any = None, *_rest: Any) -> dict:
    doc, edits = await action_edits(ls, data)
    if not edits:
        return {"applied": False}
    try:
        result = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=workspace_edit(ls, doc, edits), label="dglsp")
        )
    except ClientTimeout as timeout:
        ls.tell_once(
            "warning",
            f"dglsp: {timeout}, so dglsp stopped waiting for it. If the editor asks before applying a server's "
            "edit (Emacs' eglot does), answer sooner, or let it apply them (eglot-confirm-server-initiated-edits nil)",
        )
        return {"applied": False, "reason": "timeout"}
    except JsonRpcException as refused:  # eglot answers an error when the user says no to its "Proceed?"
        log.info("the editor did not apply dglsp's edit: %s", refused)
        return {"applied": False, "reason": str(refused)}
    return {"applied": result.applied}


def _resolves_edits(ls: DglspServer) -> bool:
    caps = ls.client_capabilities
    support = caps.text_document and caps.text_document.code_action and caps.text_document.code_action.resolve_support
    return bool(support and "edit" in support.properties)


def _takes_literals(ls: DglspServer) -> bool:
    caps = ls.client_capabilities
    return bool(
        caps.text_document
        and caps.text_document.code_action
        and caps.text_document.code_action.code_action_literal_support
    )


def workspace_edit(ls: DglspServer, doc: Document, edits: list[Edit]) -> types.WorkspaceEdit:
    """Edits tied to the document version they were computed for: a client refuses them if the text changed."""
    text_edits = [types.TextEdit(range=doc.range(e.start, e.end, ls.encoding), new_text=e.text) for e in edits]
    identifier = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
    return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=identifier, edits=text_edits)])


def register(ls: DglspServer) -> None:
    options = types.CodeActionOptions(code_action_kinds=[KIND], resolve_provider=True)
    ls.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)(code_action)
    ls.feature(types.CODE_ACTION_RESOLVE)(code_action_resolve)
    ls.command(RUN_ACTION)(run_action_command)
