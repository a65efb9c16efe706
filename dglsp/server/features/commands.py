"""workspace/executeCommand: the switch, a model reload, and the count of accepted suggestions."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from ..app import DglspServer
from ..contract import ACCEPTED, RELOAD, TOGGLE


def accepted(feature: str, fill: str, score: float | None = None, low_confidence: bool = False) -> types.Command:
    """Run by the client after the user takes a suggestion: how `dglsp/stats` counts acceptance. It carries the
    fill's confidence, so a client can mark a low-confidence suggestion (the title says it too)."""
    info = {"feature": feature, "chars": len(fill), "confidence": score, "low_confidence": low_confidence}
    title = "dglsp: accepted" + (f" (low confidence {score:.2f})" if low_confidence and score is not None else "")
    return types.Command(title, ACCEPTED, arguments=[info])


def on_accepted(ls: DglspServer, info: Any = None, *_rest: Any) -> None:
    feature = info.get("feature", "inline") if isinstance(info, dict) else "inline"
    ls.stats.count(feature, "accepted")


def toggle(ls: DglspServer, *_args: Any) -> dict:
    return {"enabled": ls.toggle()}


def reload_model(ls: DglspServer, *_args: Any) -> dict:
    """Read the model again, e.g. after a new checkpoint was saved over it; the answer comes as messages."""
    ls.load_model()
    return {"queued": True}


def register(ls: DglspServer) -> None:
    ls.command(ACCEPTED)(on_accepted)
    ls.command(TOGGLE)(toggle)
    ls.command(RELOAD)(reload_model)
