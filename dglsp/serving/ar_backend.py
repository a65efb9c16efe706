"""Autoregressive model servers people already run (llama.cpp, Ollama, OpenAI-compatible) as dglsp's engine.

Each server's client says how to ask it for the middle between a prefix and a suffix (`complete`); this base
answers `fill` as the engine does: several holes one after another (each sees the ones before it filled, the
rest as the user left them), cancellation while the server works, and greedy decoding, so that the same gap
gets the same fill and dglsp's cache, trimming and code actions work on top unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..engine.fill_json import MAX_FILL_TOKENS
from ..engine.types import FillRequest, FillResult, SamplerConfig
from .client import RemoteDenoiser
from .http_json import BackendError, JsonEndpoint

DEFAULT_CONTEXT = 2048  # positions assumed until the server says how many it takes


@dataclass(frozen=True)
class Middle:
    text: str
    tokens: int  # generated, one per forward pass
    prompt_tokens: int
    ended: bool  # the model ended the middle itself, not the token limit


class ArBackend:
    label = "model server"

    def __init__(self, url: str, token: str | None = None, model: str = "", timeout: float = 60.0) -> None:
        self.http = JsonEndpoint(url, self.label, token, timeout)
        self.url, self.model = self.http.url, model
        self.sampler = SamplerConfig()  # of its fields, only the seed means something to an AR server
        self.denoiser = RemoteDenoiser(DEFAULT_CONTEXT, f"{self.label} {self.url}")
        self.connected = False

    @property
    def context_tokens(self) -> int:
        return self.denoiser.max_positions  # the server's context: it cuts a longer prompt itself

    def connect(self) -> dict:
        """Ask the server what it serves (the model, its context); raises when it does not answer."""
        answer = self.ask_server()
        self.connected = True
        return answer

    def ask_server(self) -> dict:
        raise NotImplementedError

    def complete(self, prefix: str, suffix: str, request: FillRequest, seed: int, on_step) -> Middle | None:
        """The middle the server writes between `prefix` and `suffix`; None when `on_step` cancelled it."""
        raise NotImplementedError

    def fill(self, request: FillRequest, sampler: SamplerConfig | None = None, on_step=None) -> FillResult:
        if not 1 <= request.max_tokens <= MAX_FILL_TOKENS:
            raise ValueError(f"max_tokens must be between 1 and {MAX_FILL_TOKENS}, got {request.max_tokens}")
        if not self.connected:
            self.connect()  # the server was down when the backend was set up: what it serves is asked now
        seed = (sampler or self.sampler).seed
        start = time.perf_counter()
        after = (*request.between, request.suffix)  # the fixed code after each hole
        prefix, middles = request.prefix, []
        for hole in range(request.holes):
            middle = self.complete(prefix, "".join(after[hole:]), request, seed, on_step)
            if middle is None:
                return FillResult(("",) * request.holes, 0, 0, (time.perf_counter() - start) * 1000, "cancelled")
            middles.append(middle)
            prefix += middle.text + after[hole]
        tokens = sum(m.tokens for m in middles)
        return FillResult(
            fills=tuple(m.text for m in middles),
            steps=tokens,
            tokens=tokens,
            ms=(time.perf_counter() - start) * 1000,
            stop="converged" if all(m.ended for m in middles) else "max_steps",
            blocks=len(middles),
            prefix_tokens_encoded=sum(m.prompt_tokens for m in middles),
        )

    def pick_model(self, served: list[str], pull_hint: str) -> None:
        """Use the model the settings name, or the server's first when none is named."""
        if not served:
            raise BackendError(f"the {self.label} at {self.url} serves no model ({pull_hint})")
        if not self.model:
            self.model = served[0]
        elif self.model not in served:
            raise BackendError(f"the {self.label} at {self.url} has no model {self.model!r}; it has {served}")
