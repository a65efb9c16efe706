"""A fill on the model's worker, in plain offsets: what suggestions and code actions ask of the engine."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from ..engine.confidence import confident
from ..engine.confidence import min_confidence as least_confidence
from ..engine.engine import Engine
from ..engine.types import FillRequest, FillResult
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


@dataclass(frozen=True)
class Fill:
    text: str
    score: float | None  # the fill's confidence score; None from a backend that gives none
    floor: float  # the least score shown unasked (`min_confidence`)
    given_up: bool = False  # stopped part-way as too unsure: a half-done fill, not one to keep

    @property
    def confident(self) -> bool:
        return confident(self.score, self.floor)


def min_confidence(engine: object, settings: Settings) -> float:
    return least_confidence(settings.min_confidence, engine)


def score_of(result: FillResult) -> float | None:
    return None if result.confidence is None else result.confidence.score


def run_fill(
    engine: Engine, request: FillRequest, settings: Settings, cancel: threading.Event, give_up: float = 0.0
) -> FillResult:
    """`give_up`: stop a fill still scoring under it at half its steps (nobody would see it)."""
    sampler = settings.sampler_config(engine.sampler)
    if give_up:
        sampler = sampler.with_overrides(give_up=give_up)
    if log.isEnabledFor(logging.DEBUG) and isinstance(engine, Engine):
        log.debug("what the model sees:\n%s", engine.prompt(request))
    result = engine.fill(request, sampler, on_step=lambda _view: cancel.is_set())
    if result.stop == "cancelled":
        raise Cancelled("cancelled between denoising steps")
    return result


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
    engine: Engine,
    text: str,
    gap: Gap,
    grammar: str | None,
    settings: Settings,
    cancel,
    at: Origin = Origin(),
    unasked: bool = False,
) -> Fill:
    """Denoise one gap and trim the fill to what should go into the buffer. `unasked`: a suggestion shown only
    when confident, so one that cannot get there stops early."""
    request = FillRequest(
        gap.prefix,
        gap.suffix,
        grammar,
        gap.max_tokens,
        document=at.document,
        other_files=at.other_files,
        single_line=gap.kind == "line",
    )
    floor = min_confidence(engine, settings)
    result = run_fill(engine, request, settings, cancel, give_up=floor if unasked else 0.0)
    trimmed = trim_fill(text, gap, result.text, grammar, parse=settings.parse_trim)
    return Fill(trimmed, score_of(result), floor, given_up=result.stop == "low_confidence")
