"""The interface every model family implements for the engine."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch

Noise = Literal["uniform", "absorbing"]
# infill: dglsp's own (prefix in the encoder, suffix pinned after the canvas); prompt: FIM tokens in the encoder;
# chat / chat-pinned: an instruction-tuned model's chat template shows both sides (models/chat.py), the canvas is
# its answer, with the suffix pinned after it in chat-pinned.
Layout = Literal["infill", "prompt", "chat", "chat-pinned"]
LAYOUTS: tuple[str, ...] = get_args(Layout)
CHAT_LAYOUTS = ("chat", "chat-pinned")
# DiffusionGemma's decoder step: dglsp's own step over the model's weights (models/lean_step.py), transformers'
# forward with dynamic shapes, with fixed (bucketed) shapes, or those under torch.compile (CUDA graphs on a GPU;
# models/static_decoder.py).
Decoder = Literal["lean", "dynamic", "static", "compiled"]
DECODERS: tuple[str, ...] = get_args(Decoder)
# CUDA only. fp8: transformers' FineGrainedFP8, experts included; 4bit: bitsandbytes nf4 for nn.Linear layers and
# dglsp's own 4-bit packing for DiffusionGemma's 3-D experts (models/expert_quant.py), which bitsandbytes does not
# reach; 8bit: bitsandbytes, nn.Linear layers only (`dglsp doctor` says what stayed as it was).
Quantize = Literal["fp8", "4bit", "8bit"]
QUANTIZE: tuple[str, ...] = get_args(Quantize)


class ModelError(RuntimeError):
    """A model that cannot be found, read or run; the message says what to do."""


def error_summary(exc: BaseException) -> str:
    """An exception's first line: libraries' messages run to pages, a user's message should not."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@dataclass
class PrefixState:
    """The encoded prefix: its token ids and whatever the family keeps for them (a KV cache, or nothing)."""

    ids: list[int] = field(default_factory=list)
    kv: Any = None
    view: Any = None  # family-specific read-only form of `kv`, rebuilt after every change


class Denoiser(ABC):
    """Turns (prefix state, canvas tokens, self-conditioning logits) into logits over the canvas.

    The canvas is the decoder sequence: free slots the sampler fills, and fixed tokens (the suffix, code between
    holes) that it never changes.
    """

    noise: Noise
    vocab_size: int
    mask_id: int | None = None
    bos_id: int | None = None
    max_positions: int = 2048
    max_canvas: int = 256
    layout: Layout = "infill"
    # True: `logits` is given the canvas's slots and returns their rows only, and takes back self-conditioning in
    # that form (a model trained with fixed rows reading their own token; see models/self_conditioning.py).
    slots_only: bool = False

    def __init__(self) -> None:
        self.encoded_tokens = 0  # tokens run through the encoder since load: shows what the prefix cache saves

    @property
    @abstractmethod
    def device(self) -> torch.device: ...

    def new_state(self) -> PrefixState:
        return PrefixState()

    @abstractmethod
    def extend(self, state: PrefixState, ids: list[int]) -> None:
        """Append `ids` to the prefix, encoding only them."""

    def encode_bytes(self, new: int, cached: int) -> int:
        """Peak memory, roughly, of encoding `new` tokens after `cached` ones (0: not known for this family)."""
        return 0

    @abstractmethod
    def fork(self, state: PrefixState, length: int) -> PrefixState:
        """A new state holding the first `length` tokens of `state`, sharing its memory; `state` is unchanged."""

    @abstractmethod
    def logits(
        self,
        state: PrefixState,
        canvas: torch.Tensor,
        self_conditioning: torch.Tensor | None,
        slots: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Float logits of shape (1, len(canvas), vocab) for a (1, len) canvas; (1, len(slots), vocab) when
        `slots_only` (then `slots` are the canvas's free positions)."""

    def logits_many(
        self,
        states: list[PrefixState],
        canvases: list[torch.Tensor],
        self_conditioning: list[torch.Tensor | None],
        slots: list[torch.Tensor | None],
    ) -> list[torch.Tensor]:
        """`logits` for several canvases; a family that can batch them in one call overrides this."""
        return [self.logits(*args) for args in zip(states, canvases, self_conditioning, slots, strict=True)]

    def state_bytes(self, state: PrefixState) -> int:
        return 0
