"""textDocument/completion: the same suggestion as one completion item, for clients without ghost text."""

from __future__ import annotations

import re

from lsprotocol import types

from ..app import DglspServer
from ..suggest import suggest
from .commands import accepted
from .errors import offset, translated

WORD_END = re.compile(r"\w*$")


@translated
async def completion(ls: DglspServer, params: types.CompletionParams) -> types.CompletionList:
    doc = ls.documents.get(params.text_document.uri)
    invoked = params.context is None or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
    found = await suggest(ls, "completion", doc, offset(doc, params.position, ls.encoding), invoked=invoked)
    if found is None:
        return types.CompletionList(is_incomplete=True, items=[])
    # Start at the word being typed so the client's filtering keeps the item while the user types on.
    start = found.start - len(WORD_END.search(doc.text, max(0, found.start - 200), found.start).group())
    new_text = doc.text[start : found.start] + found.text
    label = new_text.strip().splitlines()[0][:80] if new_text.strip() else new_text
    item = types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Snippet,
        detail=f"dglsp (low confidence {found.score:.2f})" if found.low_confidence else "dglsp",
        sort_text="0",
        filter_text=new_text,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=doc.range(start, found.end, ls.encoding), new_text=new_text),
        command=accepted("completion", found.fill, found.score, found.low_confidence),
    )
    return types.CompletionList(is_incomplete=True, items=[item])


def register(ls: DglspServer) -> None:
    options = types.CompletionOptions(trigger_characters=[".", "("])
    ls.feature(types.TEXT_DOCUMENT_COMPLETION, options)(completion)
