"""A DglspServer in the test's own process, initialized as an editor would, with a scripted stand-in for the
model: for the core (suggest, code actions) and the handlers, without starting a server or loading a model."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace

from lsprotocol import types

from dglsp.engine.types import Confidence, FillRequest, FillResult, SamplerConfig
from dglsp.server import make_server
from dglsp.server.app import DglspServer
from dglsp.server.model_host import ModelState


class ScriptedEngine:
    """Answers each fill with `answer(request)`; with `hold`, a fill waits until it is set (or is cancelled). With
    `score`, each fill has that confidence score and the model a calibrated `min_confidence`."""

    def __init__(
        self,
        answer: Callable[[FillRequest], tuple[str, ...]],
        hold: threading.Event | None = None,
        score: float | None = None,
        min_confidence: float = 0.5,
    ):
        self.answer, self.hold, self.score = answer, hold, score
        if score is not None:
            self.min_confidence = min_confidence
        self.sampler = SamplerConfig()
        self.denoiser = SimpleNamespace(max_positions=512)
        self.context_tokens = 512
        self.requests: list[FillRequest] = []
        self.samplers: list[SamplerConfig] = []
        self.started = threading.Event()

    def fill(self, request: FillRequest, sampler: SamplerConfig, on_step=None) -> FillResult:
        self.requests.append(request)
        self.samplers.append(sampler)
        self.started.set()
        while self.hold is not None and not self.hold.wait(0.01):
            if on_step is not None and on_step(None):
                return FillResult((), 0, 0, 0.0, "cancelled")
        if self.score is None:
            return FillResult(tuple(self.answer(request)), 1, 1, 0.0, "converged")
        # As the engine does: a fill under `give_up` stops part-way.
        stop = "low_confidence" if self.score < sampler.give_up else "converged"
        return FillResult(tuple(self.answer(request)), 1, 1, 0.0, stop, confidence=Confidence(self.score, 0, True, 1))


def initialized(
    capabilities: types.ClientCapabilities | None = None, options: dict | None = None
) -> tuple[DglspServer, types.InitializeResult]:
    """A server past `initialize` (with `options` as its initializationOptions), through pygls' own handshake
    (call inside a running event loop)."""
    ls = make_server()
    params = types.InitializeParams(
        capabilities=capabilities or types.ClientCapabilities(), process_id=None, initialization_options=options
    )
    handshake = ls.protocol.lsp_initialize(params)
    handler, args, _ = next(handshake)
    handler(*args)
    try:
        handshake.send(None)
    except StopIteration as done:
        ls.protocol.initialize_seen = True  # as handle_message marks it for an initialize off the wire
        return ls, done.value
    raise AssertionError("initialize did not finish")


def with_engine(ls: DglspServer, engine: ScriptedEngine) -> ScriptedEngine:
    ls.host.engine = engine  # type: ignore[assignment]
    ls.host.status = ModelState(state="ready", generation=1)
    return engine


def open_doc(ls: DglspServer, text: str, uri: str = "file:///t.py", language: str = "python"):
    return ls.documents.open(types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text))


def edit(ls: DglspServer, uri: str, version: int, text: str) -> None:
    ls.documents.change(uri, version, [types.TextDocumentContentChangeWholeDocument(text=text)])
