"""textDocument/inlineCompletion: the ghost text."""

from __future__ import annotations

from lsprotocol import types

from ..app import DglspServer
from ..suggest import Selected, suggest
from .commands import accepted
from .errors import offset, translated


@translated
async def inline_completion(ls: DglspServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    doc = ls.documents.get(params.text_document.uri)
    context, encoding = params.context, ls.encoding
    info = context.selected_completion_info
    selected = None
    if info is not None:
        start, end = offset(doc, info.range.start, encoding), offset(doc, info.range.end, encoding)
        selected = Selected(start, end, info.text)
    invoked = context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    found = await suggest(ls, "inline", doc, offset(doc, params.position, encoding), invoked=invoked, selected=selected)
    if found is None:
        return types.InlineCompletionList(items=[])
    command = accepted("inline", found.fill, found.score, found.low_confidence)
    item = types.InlineCompletionItem(found.text, range=doc.range(found.start, found.end, encoding), command=command)
    return types.InlineCompletionList(items=[item])


def register(ls: DglspServer) -> None:
    ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(inline_completion)
