"""textDocument/codeAction, codeAction/resolve and dglsp.runAction: the actions of server/actions/ for a selection.

Clients that resolve edits get a lazy CodeAction (the model runs on resolve); others get a plain Command, which
every client runs, and the server applies the edit itself (workspace/applyEdit).
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from ..app import DglspServer
from ..code_actions import action_edits, offers
from ..contract import ACTION_KIND, RUN_ACTION
from ..documents import Document
from ..fills import Edit
from .errors import offset, translated

KIND = types.CodeActionKind(ACTION_KIND)


@translated
async def code_action(ls: DglspServer, params: types.CodeActionParams) -> list[types.CodeAction | types.Command]:
    doc = ls.documents.get(params.text_document.uri)
    start, end = offset(doc, params.range.start, ls.encoding), offset(doc, params.range.end, ls.encoding)
    if _resolves_edits(ls):
        return [types.CodeAction(title=o.title, kind=KIND, data=o.data) for o in await offers(ls, doc, start, end)]
    return [types.Command(o.title, RUN_ACTION, arguments=[o.data]) for o in await offers(ls, doc, start, end)]


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
    result = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=workspace_edit(ls, doc, edits), label="dglsp")
    )
    return {"applied": result.applied}


def _resolves_edits(ls: DglspServer) -> bool:
    caps = ls.client_capabilities
    support = caps.text_document and caps.text_document.code_action and caps.text_document.code_action.resolve_support
    return bool(support and "edit" in support.properties)


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
