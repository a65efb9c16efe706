"""The one operation behind every feature: denoise the gap(s) between a prefix and a suffix."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import groupby

from ..models import chat
from ..models.base import CHAT_LAYOUTS, error_summary
from ..models.loader import LoadedModel
from .cache import PrefixCache
from .canvas import Layout as CanvasLayout
from .canvas import SpecialIds, canvas_size, lay_out, lay_out_chat
from .fill_json import MAX_FILL_TOKENS
from .memory import OutOfMemory, check_fits, is_out_of_memory, release_memory
from .sampler import Canvasing, Denoised, OnStep, denoise_many
from .types import Confidence, FillRequest, FillResult, SamplerConfig, StopReason

# Characters kept on each side before tokenizing: enough for any context window, cheap for a 100k-line file.
CHARS_PER_POSITION = 16
# Positions a fill may use (prefix, canvas and suffix) when not told: a model's own positions can be 262,144, and
# an encoder pass over that many tokens takes tens of GB (README, "How much context").
DEFAULT_CONTEXT_TOKENS = {"cpu": 2048, "cuda": 8192, "mps": 4096}
MIN_CONTEXT_TOKENS = 512  # a 256-slot canvas, its suffix and some prefix


def context_budget(asked: int | None, device: str, max_positions: int) -> int:
    """The positions a fill may use: what was asked (0 or None: the device's default), never above the model's."""
    wanted = asked or DEFAULT_CONTEXT_TOKENS.get(device, DEFAULT_CONTEXT_TOKENS["cpu"])
    return min(max(wanted, MIN_CONTEXT_TOKENS), max_positions)


class Engine:
    def __init__(
        self,
        model: LoadedModel,
        sampler: SamplerConfig | None = None,
        *,
        prefix_cache: bool = True,
        cache_bytes: int = 512 << 20,
        context_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.denoiser = model.denoiser
        self.context_tokens = context_budget(context_tokens, self.denoiser.device.type, self.denoiser.max_positions)
        self.sampler = sampler or SamplerConfig.from_generation_config(model.generation_config)
        self.cache = PrefixCache(self.denoiser, cache_bytes, before_encode=self._check_encode) if prefix_cache else None
        vocab = model.tokenizer.get_vocab()
        self.special = SpecialIds(
            bos=self.denoiser.bos_id, fim_prefix=vocab.get("<|fim_prefix|>"), fim_suffix=vocab.get("<|fim_suffix|>")
        )
        self.chat = self.denoiser.layout in CHAT_LAYOUTS
        self.thinking = [(vocab[a], vocab[b]) for a, b in chat.THINKING if a in vocab and b in vocab]
        self._system_turn = True  # until the chat template refuses one

    @property
    def min_confidence(self) -> float:
        """The model's calibrated confidence threshold (`LoadedModel.min_confidence`)."""
        return self.model.min_confidence

    def encode(self, text: str) -> list[int]:
        # split_special_tokens: a file that contains `<|endoffill|>` or `<turn|>` as text keeps it as text, and
        # the model never reads the user's code as its own control tokens.
        return self.model.tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True) if text else []

    def decode(self, ids: list[int]) -> str:
        return self.model.tokenizer.decode(ids, skip_special_tokens=True)

    def fill(
        self, request: FillRequest, sampler: SamplerConfig | None = None, on_step: OnStep | None = None
    ) -> FillResult:
        """Denoise the request's gap(s). Out of memory raises `OutOfMemory` after giving the memory back."""
        (result,) = self.fill_many([request], [sampler], [on_step])
        return result

    def fill_many(
        self,
        requests: list[FillRequest],
        samplers: list[SamplerConfig | None] | None = None,
        on_steps: list[OnStep | None] | None = None,
    ) -> list[FillResult]:
        """Several requests denoised together, their canvases sharing each decoder call (canvas-level
        batching); each result is what `fill` would give it alone, up to float rounding in the batched step."""
        for request in requests:
            if not 1 <= request.max_tokens <= MAX_FILL_TOKENS:
                raise ValueError(f"max_tokens must be between 1 and {MAX_FILL_TOKENS}, got {request.max_tokens}")
        configs = [s or self.sampler for s in samplers or [None] * len(requests)]
        try:
            return self._fill_many(requests, configs, on_steps or [None] * len(requests))
        except OutOfMemory:
            raise  # refused before anything was allocated: nothing to give back
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            most = max(r.max_tokens for r in requests)
            fills = "a fill" if len(requests) == 1 else f"{len(requests)} fills"
            detail = f"{fills} of up to {most} tokens ({error_summary(exc)})"
        # Outside the except block, whose traceback held the failed step's tensors: now they can be freed.
        if self.cache is not None:
            self.cache.clear()
        release_memory(self.denoiser.device)
        raise OutOfMemory(self.denoiser.device, detail)

    def _fill_many(
        self, requests: list[FillRequest], configs: list[SamplerConfig], on_steps: list[OnStep | None]
    ) -> list[FillResult]:
        start = time.perf_counter()
        fills = [self._start(r, c, s, start) for r, c, s in zip(requests, configs, on_steps, strict=True)]
        active = fills
        while active:
            canvases = [self._canvas(fill) for fill in active]
            for fill, out in zip(active, denoise_many(self.denoiser, canvases), strict=True):
                self._take(fill, out)
            active = [fill for fill in active if not fill.done]
        return [fill.result(lambda ids, r=fill.request: self.answer(r, ids)) for fill in fills]

    def prompt(self, request: FillRequest) -> str:
        """What the model sees for the first block of `request`: the encoder's input, then the decoder's canvas
        with its slots marked and the pinned tokens as they are (special tokens shown)."""
        layout = self._lay_out(self._start(request, self.sampler, None, time.perf_counter()))
        canvas = layout.canvas

        def shown(ids) -> str:
            return self.model.tokenizer.decode(list(ids), skip_special_tokens=False)

        pieces = []
        for free, run in groupby(zip(canvas.free, canvas.tokens, strict=True), key=lambda pair: pair[0]):
            ids = [token for _, token in run]
            pieces.append(f"[{len(ids)} slots]" if free else shown(ids))
        pinned = len(canvas) - sum(canvas.free)
        return (
            f"--- encoder: {len(layout.prefix)} tokens (the prefix state) ---\n{shown(layout.prefix)}\n"
            f"--- decoder canvas: {len(canvas)} positions, {pinned} pinned ---\n{''.join(pieces)}\n"
        )

    def _start(self, request: FillRequest, config: SamplerConfig, on_step: OnStep | None, start: float) -> _Fill:
        window = self.context_tokens * CHARS_PER_POSITION
        fill = _Fill(
            request, config, on_step, self.encode(request.prefix[-window:]), self.encode(request.suffix[:window]), start
        )
        fill.between = [self.encode(text) for text in request.between]
        return fill

    def _lay_out(self, fill: _Fill) -> CanvasLayout:
        slots = canvas_size(fill.remaining, self.denoiser.max_canvas)
        if self.chat:
            if fill.request.holes > 1:
                raise ValueError(f"several holes need the infill layout, not {self.denoiser.layout}")
            return lay_out_chat(
                fill.prefix,
                fill.suffix,
                slots,
                # The answer so far follows the prompt: a long fill goes on in the model's own turn.
                lambda prefix, suffix: self._chat_prompt(prefix, suffix, fill.request.language) + fill.pieces[0],
                max_positions=self.context_tokens,
                pinned=self.denoiser.layout == "chat-pinned",
            )
        return lay_out(
            fill.prefix + fill.pieces[0],
            fill.suffix,
            [slots] * fill.request.holes,
            self.special,
            max_positions=self.context_tokens,
            between=fill.between,
            layout=self.denoiser.layout,
        )

    def _chat_prompt(self, prefix: list[int], suffix: list[int], language: str | None) -> list[int]:
        """The model's chat template around the gap's conversation (models/chat.py), thinking off; code that
        contains the template's control tokens stays text."""
        from jinja2 import TemplateError

        conversation = chat.messages(self.decode(prefix), self.decode(suffix), language)

        def render(turns: list[dict]) -> list[int]:
            return self.model.tokenizer.apply_chat_template(
                turns,
                add_generation_prompt=True,
                enable_thinking=False,
                sanitize_control_tokens=True,
                return_dict=False,
            )

        if self._system_turn:
            try:
                return list(render(conversation))
            except TemplateError:  # "System role not supported" (Gemma 2 and 3, Mistral)
                self._system_turn = False
        return list(render(chat.merged(conversation)))

    def answer(self, request: FillRequest, ids: list[int]) -> str:
        """A fill's text from its tokens: decoded, and for a chat layout cleaned of thinking, a code fence and
        echoes of the code around the gap."""
        if not self.chat:
            text = self.decode(ids)
            return text.split("\n", 1)[0] if self._single_line(request) else text
        said = self.decode(chat.without_thinking(ids, self.thinking))
        return chat.answer_text(said, request.prefix, request.suffix)

    def _canvas(self, fill: _Fill) -> Canvasing:
        """The next block of `fill` laid out, its prefix encoded (or found in the cache)."""
        fill.layout = self._lay_out(fill)
        encoded_before = self.denoiser.encoded_tokens
        state = self._state(list(fill.layout.prefix))
        fill.encoded += self.denoiser.encoded_tokens - encoded_before
        config = replace(fill.config, seed=fill.config.seed + fill.blocks)
        ends = self.model.stop_ids | self.newline_ids if self._single_line(fill.request) else self.model.stop_ids
        return Canvasing.start(self.denoiser, state, fill.layout.canvas, config, fill.on_step, ends)

    def _take(self, fill: _Fill, out: Denoised) -> None:
        request = fill.request
        fill.steps, fill.blocks, fill.stop = fill.steps + out.steps, fill.blocks + 1, out.stop
        fill.logprobs += out.logprobs
        fill.settled = fill.settled and out.stop == "converged"
        ended = True
        for i, hole in enumerate(fill.layout.canvas.holes):
            piece, ended_here = self._cut(out.tokens[hole.start : hole.stop], self._single_line(request))
            fill.pieces[i] += piece[: fill.remaining]
            ended = ended and ended_here
        fill.remaining = request.max_tokens - len(fill.pieces[0])
        # Several holes fill in one canvas; a single fill goes on block by block until it ends itself.
        stopped = out.stop in ("cancelled", "low_confidence")
        fill.done = ended or request.holes > 1 or stopped or fill.remaining <= 0
        if fill.done:
            fill.ms = (time.perf_counter() - fill.started) * 1000

    def _state(self, ids: list[int]):
        if self.cache is not None:
            return self.cache.state_for(ids)
        state = self.denoiser.new_state()
        self._check_encode(len(ids), 0)
        self.denoiser.extend(state, ids)
        return state

    def _check_encode(self, new: int, cached: int) -> None:
        """Refuse an encoder pass that cannot fit before it starts, not when the kernel kills the process."""
        need = self.denoiser.encode_bytes(new, cached)
        check_fits(self.denoiser.device, need, f"encoding {new} prefix tokens")

    def _cut(self, ids: list[int], single_line: bool = False) -> tuple[list[int], bool]:
        for i, token in enumerate(ids):
            if token in self.model.stop_ids:
                return ids[:i], True
            if single_line and token in self.newline_ids:
                return ids[: i + 1], True  # the text before the newline is in this token; answer() cuts it there
        return ids, False

    def _single_line(self, request: FillRequest) -> bool:
        # A chat model's answer may open with a code fence and its newline: the cut is left to answer_text.
        return request.single_line and not self.chat

    @cached_property
    def newline_ids(self) -> frozenset[int]:
        """The tokens whose text holds a line break (many do: "\n    " and the like)."""
        tokenizer = self.model.tokenizer
        texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        return frozenset(i for i, text in enumerate(texts) if "\n" in text)


@dataclass
class _Fill:
    """One request's progress through its blocks."""

    request: FillRequest
    config: SamplerConfig
    on_step: OnStep | None
    prefix: list[int]
    suffix: list[int]
    started: float
    between: list[list[int]] = field(default_factory=list)
    pieces: list[list[int]] = field(default_factory=list)
    remaining: int = 0
    steps: int = 0
    blocks: int = 0
    encoded: int = 0
    stop: StopReason = "converged"
    logprobs: list[float] = field(default_factory=list)
    settled: bool = True
    done: bool = False
    ms: float = 0.0
    layout: CanvasLayout | None = None

    def __post_init__(self) -> None:
        self.pieces = [[] for _ in range(self.request.holes)]
        self.remaining = self.request.max_tokens

    def result(self, decode) -> FillResult:
        return FillResult(
            fills=tuple(decode(p) for p in self.pieces),
            steps=self.steps,
            tokens=sum(len(p) for p in self.pieces),
            ms=self.ms,
            stop=self.stop,
            blocks=self.blocks,
            prefix_tokens_encoded=self.encoded,
            confidence=Confidence.of(self.logprobs, self.settled),
        )
