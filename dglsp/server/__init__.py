"""The language server: LSP in, offsets to the core, LSP out (pygls)."""

from __future__ import annotations


def make_server():
    """A DglspServer with every feature registered (imported here so `dglsp fill` never loads pygls)."""
    from .app import DglspServer
    from .features import register

    server = DglspServer()
    register(server)
    return server
