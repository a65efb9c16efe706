"""The one operation behind every feature: denoise the gap(s) between a prefix and a suffix."""

from __future__ import annotations

import time
from dataclasses import replace

from ..models.base import error_summary
from ..models.loader import LoadedModel
from .cache import PrefixCache
from .canvas import SpecialIds, canvas_size, lay_out
from .memory import OutOfMemory, is_out_of_memory, release_memory
from .sampler import OnStep, denoise
from .types import FillRequest, FillResult, SamplerConfig

MAX_FILL_TOKENS = 4096
# Characters kept on each side before tokenizing: enough for any context window, cheap for a 100k-line file.
CHARS_PER_POSITION = 16


class Engine:
    def __init__(
        self,
        model: LoadedModel,
        sampler: SamplerConfig | None = None,
        *,
        prefix_cache: bool = True,
        cache_bytes: int = 512 << 20,
    ) -> None:
        self.model = model
        self.denoiser = model.denoiser
        self.sampler = sampler or SamplerConfig.from_generation_config(model.generation_config)
        self.cache = PrefixCache(self.denoiser, max_bytes=cache_bytes) if prefix_cache else None
        vocab = model.tokenizer.get_vocab()
        self.special = SpecialIds(
            bos=self.denoiser.bos_id, fim_prefix=vocab.get("<|fim_prefix|>"), fim_suffix=vocab.get("<|fim_suffix|>")
        )

    def encode(self, text: str) -> list[int]:
        return self.model.tokenizer.encode(text, add_special_tokens=False) if text else []

    def decode(self, ids: list[int]) -> str:
        return self.model.tokenizer.decode(ids, skip_special_tokens=True)

    def fill(
        self, request: FillRequest, sampler: SamplerConfig | None = None, on_step: OnStep | None = None
    ) -> FillResult:
        """Denoise the request's gap(s). Out of memory raises `OutOfMemory` after giving the memory back."""
        if not 1 <= request.max_tokens <= MAX_FILL_TOKENS:
            raise ValueError(f"max_tokens must be between 1 and {MAX_FILL_TOKENS}, got {request.max_tokens}")
        try:
            return self._fill(request, sampler or self.sampler, on_step)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            detail = f"a fill of up to {request.max_tokens} tokens ({error_summary(exc)})"
        # Outside the except block, whose traceback held the failed step's tensors: now they can be freed.
        if self.cache is not None:
            self.cache.clear()
        release_memory(self.denoiser.device)
        raise OutOfMemory(self.denoiser.device, detail)

    def _fill(self, request: FillRequest, config: SamplerConfig, on_step: OnStep | None) -> FillResult:
        start = time.perf_counter()
        encoded_before = self.denoiser.encoded_tokens
        window = self.denoiser.max_positions * CHARS_PER_POSITION
        prefix = self.encode(request.prefix[-window:])
        suffix = self.encode(request.suffix[:window])
        between = [self.encode(text) for text in request.between]
        limit = self.denoiser.max_canvas

        pieces: list[list[int]] = [[] for _ in range(request.holes)]
        remaining, steps, blocks = request.max_tokens, 0, 0
        stop = "converged"
        while remaining > 0:
            size = canvas_size(remaining, limit)
            layout = lay_out(
                prefix + pieces[0],
                suffix,
                [size] * request.holes,
                self.special,
                max_positions=self.denoiser.max_positions,
                between=between,
                layout=self.denoiser.layout,
            )
            state = self._state(list(layout.prefix))
            out = denoise(self.denoiser, state, layout.canvas, replace(config, seed=config.seed + blocks), on_step)
            steps, blocks, stop = steps + out.steps, blocks + 1, out.stop
            ended = True
            for i, hole in enumerate(layout.canvas.holes):
                piece, ended_here = self._cut(out.tokens[hole.start : hole.stop])
                pieces[i] += piece[:remaining]
                ended = ended and ended_here
            remaining = request.max_tokens - len(pieces[0])
            # Several holes fill in one canvas; a single fill goes on block by block until it ends itself.
            if ended or request.holes > 1 or stop == "cancelled":
                break
        return FillResult(
            fills=tuple(self.decode(p) for p in pieces),
            steps=steps,
            tokens=sum(len(p) for p in pieces),
            ms=(time.perf_counter() - start) * 1000,
            stop=stop,
            blocks=blocks,
            prefix_tokens_encoded=self.denoiser.encoded_tokens - encoded_before,
        )

    def _state(self, ids: list[int]):
        if self.cache is not None:
            return self.cache.state_for(ids)
        state = self.denoiser.new_state()
        self.denoiser.extend(state, ids)
        return state

    def _cut(self, ids: list[int]) -> tuple[list[int], bool]:
        for i, token in enumerate(ids):
            if token in self.model.stop_ids:
                return ids[:i], True
        return ids, False
