"""A fill on the model's worker, in plain offsets: what suggestions and code actions ask of the engine."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..engine.engine import Engine
from ..engine.types import FillRequest
from ..syntax.gap import Gap
from ..syntax.trim import trim_fill
from .settings import Settings
from .worker import Cancelled


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


def run_fill(engine: Engine, request: FillRequest, settings: Settings, cancel: threading.Event) -> tuple[str, ...]:
    sampler = settings.sampler_config(engine.sampler)
    result = engine.fill(request, sampler, on_step=lambda _view: cancel.is_set())
    if result.stop == "cancelled":
        raise Cancelled("cancelled between denoising steps")
    return result.fills


def fill_gap(
    engine: Engine, text: str, gap: Gap, grammar: str | None, settings: Settings, cancel, document: str = ""
) -> str:
    """Denoise one gap and trim the fill to what should go into the buffer."""
    request = FillRequest(gap.prefix, gap.suffix, grammar, gap.max_tokens, document=document)
    (raw,) = run_fill(engine, request, settings, cancel)
    return trim_fill(text, gap, raw, grammar, parse=settings.parse_trim)
