"""A `dglsp serve-model` server used as the engine: what the language server and `dglsp fill --backend` call
instead of a local model. The same `fill(request, sampler, on_step)` as `Engine.fill`, over HTTP.

Cancellation reaches the server: a cancelled fill closes its connection (`http_json`), which the server's
replica sees and stops that canvas between two denoising steps. A fill names its document in a header, so that
a server with several replicas sends one document's fills to one replica, whose prefix cache keeps hitting.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, fields

from ..engine.fill_json import MAX_FILL_TOKENS, confidence_of
from ..engine.types import FillRequest, FillResult, SamplerConfig
from .http_json import JsonEndpoint

DOCUMENT_HEADER = "X-Dglsp-Document"


@dataclass(frozen=True)
class RemoteDenoiser:
    """What the callers read from a local denoiser: how much context is worth sending, and where it runs."""

    max_positions: int
    device: str


class RemoteEngine:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        self.http = JsonEndpoint(url, "dglsp server", token, timeout)
        self.url = self.http.url
        # The server's model decides the defaults: only what differs from SamplerConfig()'s is sent.
        self.sampler = SamplerConfig()
        self.denoiser = RemoteDenoiser(2048, f"remote {self.url}")  # until the server says its own
        self.min_confidence: float | None = None  # the server's model's calibrated threshold, once it says

    def connect(self) -> dict:
        """Ask the server how it is (and how much context its model takes); raises when it does not answer."""
        health = self.http.call("GET", "/health") or {}
        budget = health.get("context_tokens", health.get("max_positions", 2048))
        self.denoiser = RemoteDenoiser(int(budget), f"remote {self.url}")
        self.min_confidence = health.get("min_confidence")
        return health

    @property
    def context_tokens(self) -> int:
        return self.denoiser.max_positions  # the server's own budget: more would be cut off there

    def fill(self, request: FillRequest, sampler: SamplerConfig | None = None, on_step=None) -> FillResult:
        if not 1 <= request.max_tokens <= MAX_FILL_TOKENS:
            raise ValueError(f"max_tokens must be between 1 and {MAX_FILL_TOKENS}, got {request.max_tokens}")
        task = {"prefix": request.prefix, "suffix": request.suffix, "max_tokens": request.max_tokens}
        if request.language:
            task["language"] = request.language
        if request.between:
            task["between"] = list(request.between)
        if request.single_line:
            task["single_line"] = True
        task |= _overrides(sampler or self.sampler, SamplerConfig())
        start = time.perf_counter()
        answer = self.http.call("POST", "/fill", task, on_step, document_header(request))
        if answer is None:
            return FillResult(fills=("",) * request.holes, steps=0, tokens=0, ms=0.0, stop="cancelled")
        fills = tuple(answer.get("fills") or [answer["completion"]])
        tokens = round(answer["tokens_per_step"] * answer["steps"])
        ms = (time.perf_counter() - start) * 1000
        return FillResult(fills, answer["steps"], tokens, ms, answer["stop"], confidence=confidence_of(answer))


def document_header(request: FillRequest) -> dict[str, str]:
    """The routing key of the fill's document: a digest, so the server learns no file names."""
    if not request.document:
        return {}
    return {DOCUMENT_HEADER: hashlib.sha256(request.document.encode()).hexdigest()[:32]}


def _overrides(config: SamplerConfig, base: SamplerConfig) -> dict:
    return {f.name: getattr(config, f.name) for f in fields(config) if getattr(config, f.name) != getattr(base, f.name)}
