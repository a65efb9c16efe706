"""Why the core could not answer a request: plain exceptions, turned into LSP errors by the handlers only."""

from __future__ import annotations


class Changed(Exception):
    """The text (or what applies at a place) changed since the request was made: ask again (ContentModified)."""


class BadRequest(ValueError):
    """The request does not make sense for this server (InvalidParams), e.g. a forged code action."""


class CouldNotRun(Exception):
    """The request was sound, the server could not do it, e.g. out of memory (RequestFailed)."""
