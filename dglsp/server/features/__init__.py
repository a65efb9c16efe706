"""The LSP handlers, one module per feature; each handler turns LSP types into a plain call and back."""

from __future__ import annotations

from ..app import DglspServer
from . import code_actions, commands, completion, describe, inline_completion, lifecycle, stats, text_sync

FEATURES = (lifecycle, text_sync, inline_completion, completion, code_actions, commands, stats, describe)


def register(ls: DglspServer) -> None:
    for feature in FEATURES:
        feature.register(ls)
