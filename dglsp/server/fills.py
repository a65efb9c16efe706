"""A fill on the model's worker, in plain offsets: what suggestions and code actions ask of the engine."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from ..engine.engine import Engine
from ..engine.types import FillRequest
from ..syntax.gap import Gap
from ..syntax.trim import trim_fill
from .documents import Document, Documents
from .settings import Settings
from .worker import Cancelled

log = logging.getLogger("dglsp")

# Other open files a backend may show its model: the most recently edited, each cut to its start.
OTHER_FILES, OTHER_FILE_CHARS = 3, 8000


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


def run_fill(engine: Engine, request: FillRequest, settings: Settings, cancel: threading.Event) -> tuple[str, ...]:
    sampler = settings.sampler_config(engine.sampler)
    if log.isEnabledFor(logging.DEBUG) and isinstance(engine, Engine):
        log.debug("what the model sees:\n%s", engine.prompt(request))
    result = engine.fill(request, sampler, on_step=lambda _view: cancel.is_set())
    if result.stop == "cancelled":
        raise Cancelled("cancelled between denoising steps")
    return result.fills


@dataclass(frozen=True)
class Origin:
    """Where a fill is asked from, for the backends that use it: the document's URI (a server with replicas keeps
    one document on one) and the other open files of its language (a llama.cpp server shows them to its model)."""

    document: str = ""
    other_files: tuple[tuple[str, str], ...] = ()


def origin(documents: Documents, engine: object, doc: Document) -> Origin:
    if not getattr(engine, "shows_other_files", False):
        return Origin(doc.uri)  # the local engine does not read them: not a character copied for nothing
    others = documents.others(doc, OTHER_FILES)
    return Origin(doc.uri, tuple((PurePosixPath(urlsplit(d.uri).path).name, d.text[:OTHER_FILE_CHARS]) for d in others))


def fill_gap(
    engine: Engine, text: str, gap: Gap, grammar: str | None, settings: Settings, cancel, at: Origin = Origin()
) -> str:
    """Denoise one gap and trim the fill to what should go into the buffer."""
    request = FillRequest(
        gap.prefix,
        gap.suffix,
        grammar,
        gap.max_tokens,
        document=at.document,
        other_files=at.other_files,
        single_line=gap.kind == "line",
    )
    (raw,) = run_fill(engine, request, settings, cancel)
    return trim_fill(text, gap, raw, grammar, parse=settings.parse_trim)
