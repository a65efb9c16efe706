"""A `dglsp serve-model` server used as the engine: what the language server and `dglsp fill --backend` call
instead of a local model. The same `fill(request, sampler, on_step)` as `Engine.fill`, over HTTP.

Cancellation reaches the server: while the answer is awaited, `on_step` is asked every few milliseconds, and a
cancelled fill closes its connection, which the server's replica sees and stops that canvas between two
denoising steps. A server that does not answer raises `BackendUnavailable` with the reason (the caller says it
once, not per keystroke) and the next fill tries again.
"""

from __future__ import annotations

import http.client
import json
import select
import time
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from ..engine.fill_json import MAX_FILL_TOKENS
from ..engine.types import FillRequest, FillResult, SamplerConfig

POLL_S = 0.02  # how often a waiting fill checks whether it was cancelled
CONNECT_S = 3.0


class BackendUnavailable(RuntimeError):
    """The server could not be reached or did not answer in time."""


class BackendError(RuntimeError):
    """The server answered with an error (its message is the reason)."""


@dataclass(frozen=True)
class RemoteDenoiser:
    """What the callers read from a local denoiser: how much context is worth sending, and where it runs."""

    max_positions: int
    device: str


class RemoteEngine:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"backend must be local or an http(s):// URL of a dglsp serve-model, got {url!r}")
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        self._parts = parts
        # The server's model decides the defaults: only what differs from SamplerConfig()'s is sent.
        self.sampler = SamplerConfig()
        self.denoiser = RemoteDenoiser(2048, f"remote {self.url}")  # until the server says its own

    def connect(self) -> dict:
        """Ask the server how it is (and how much context its model takes); raises when it does not answer."""
        health = self._call("GET", "/health", None, None) or {}
        self.denoiser = RemoteDenoiser(int(health.get("max_positions", 2048)), f"remote {self.url}")
        return health

    def fill(self, request: FillRequest, sampler: SamplerConfig | None = None, on_step=None) -> FillResult:
        if not 1 <= request.max_tokens <= MAX_FILL_TOKENS:
            raise ValueError(f"max_tokens must be between 1 and {MAX_FILL_TOKENS}, got {request.max_tokens}")
        task = {"prefix": request.prefix, "suffix": request.suffix, "max_tokens": request.max_tokens}
        if request.language:
            task["language"] = request.language
        if request.between:
            task["between"] = list(request.between)
        task |= _overrides(sampler or self.sampler, SamplerConfig())
        start = time.perf_counter()
        answer = self._call("POST", "/fill", task, on_step)
        if answer is None:
            return FillResult(fills=("",) * request.holes, steps=0, tokens=0, ms=0.0, stop="cancelled")
        fills = tuple(answer.get("fills") or [answer["completion"]])
        tokens = round(answer["tokens_per_step"] * answer["steps"])
        return FillResult(fills, answer["steps"], tokens, (time.perf_counter() - start) * 1000, answer["stop"])

    def _connection(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        return kind(self._parts.hostname, self._parts.port, timeout=CONNECT_S)

    def _call(self, method: str, path: str, body: dict | None, on_step) -> dict | None:
        """The server's JSON answer; None when `on_step` cancelled the wait."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        connection = self._connection()
        try:
            try:
                data = json.dumps(body).encode() if body is not None else None
                connection.request(method, self._parts.path.rstrip("/") + path, data, headers)
                if not _wait(connection, self.timeout, on_step):
                    return None
                response = connection.getresponse()
                payload = json.loads(response.read() or b"{}")
            except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
                # One wording per kind of failure: the language server says each once, not per keystroke.
                reason = type(exc).__name__
                raise BackendUnavailable(f"the dglsp server at {self.url} does not answer ({reason})") from exc
        finally:
            connection.close()  # a cancelled fill's closed connection is what stops it on the server
        if response.status != 200:
            raise BackendError(f"the dglsp server at {self.url} said {response.status}: {payload.get('error')}")
        return payload


def _wait(connection: http.client.HTTPConnection, timeout: float, on_step) -> bool:
    """Until the answer starts to arrive (True), the fill is cancelled (False), or the timeout (TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([connection.sock], [], [], POLL_S)
        if ready:
            return True
        if on_step is not None and on_step(None):
            return False
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer within {timeout:.0f} s")


def _overrides(config: SamplerConfig, base: SamplerConfig) -> dict:
    return {f.name: getattr(config, f.name) for f in fields(config) if getattr(config, f.name) != getattr(base, f.name)}
