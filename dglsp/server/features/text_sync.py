"""The editor's buffers: open, change (incrementally), close. Notifications: problems are told, not raised."""

from __future__ import annotations

from lsprotocol import types

from ...syntax.languages import UnknownLanguage
from ..app import DglspServer
from ..documents import UnknownDocument


def did_open(ls: DglspServer, params: types.DidOpenTextDocumentParams) -> None:
    try:
        ls.documents.open(params.text_document)
    except UnknownLanguage as exc:
        ls.tell_once("warning", f"dglsp: {exc}; plain-text rules for {params.text_document.language_id}")
    except ValueError as exc:
        ls.tell("warning", f"dglsp: {exc}")


def did_change(ls: DglspServer, params: types.DidChangeTextDocumentParams) -> None:
    doc = params.text_document
    ls.worker.cancel(doc.uri)  # a fill for the old text could only be dropped as stale when it ends
    try:
        ls.documents.change(doc.uri, doc.version, list(params.content_changes), ls.encoding)
    except (UnknownDocument, ValueError) as exc:
        ls.tell("warning", f"dglsp: {exc}")


def did_close(ls: DglspServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.documents.close(params.text_document.uri)


def register(ls: DglspServer) -> None:
    ls.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
