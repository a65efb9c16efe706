"""Fixed-shape DiffusionGemma decoder steps, so `torch.compile` traces once per bucket and CUDA graphs replay.

The dynamic step concatenates the canvas onto a prefix cache of whatever length the user's file gives, so every
keystroke is a new shape. Here the prefix keys/values are copied once per fill into persistent buffers padded to
a bucket (sliding layers keep their window), the decoder sequence is padded to a canvas bucket, and 4-D masks hide
the padding. Padded canvas rows are never attended to, so the real rows' logits equal the dynamic step's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache

from .base import ModelError, PrefixState

PREFIX_BUCKET = 256  # the smallest prefix buffer; larger ones double, so a long file compiles a few shapes only
MASKED_ATTENTION = ("sdpa", "eager")  # implementations that take a 4-D mask


def as_additive(visible: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean mask as eager attention takes it: 0 where visible, the dtype's lowest value elsewhere."""
    return torch.zeros(visible.shape, dtype=dtype, device=visible.device).masked_fill(~visible, torch.finfo(dtype).min)


def prefix_bucket(n: int) -> int:
    return max(PREFIX_BUCKET, 1 << (n - 1).bit_length())


def canvas_bucket(n: int) -> int:
    """The decoder sequence (slots and pinned code) padded to a power of two, at least 16."""
    return max(16, 1 << (n - 1).bit_length())


@dataclass
class StaticView:
    cache: DynamicCache  # read-only: padded per-layer buffers
    prefix: int  # real prefix tokens
    kept: dict[str, tuple[int, int]]  # per layer type: (real tokens after the window's cut, buffer length)
    owner: PrefixState  # the state copied into the buffers (held, so its id cannot be reused by another)


class StaticDecoder:
    def __init__(self, model, compile: bool = False) -> None:
        self.model = model
        self.text_config = model.config.text_config
        impl = self.text_config._attn_implementation
        if impl not in MASKED_ATTENTION:
            raise ModelError(
                f"the static decoder needs attention with masks ({', '.join(MASKED_ATTENTION)}), not {impl}"
            )
        self.additive = impl == "eager"
        self.sliding_keep = self.text_config.sliding_window - 1
        self._buffers: dict[int, DynamicCache] = {}
        self._view: StaticView | None = None
        self.compiled = compile
        self._step = self._forward
        if compile:
            cuda = next(model.parameters()).device.type == "cuda"
            # One graph per prefix bucket x canvas bucket x first step (no self-conditioning) or not; dynamo's
            # default limit of 8 graphs per function is too few for a long file.
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
            # reduce-overhead = CUDA graphs; shapes are fixed per bucket, so no dynamic-shape tracing either.
            mode = "reduce-overhead" if cuda else None
            self._step = torch.compile(self._forward, mode=mode, dynamic=False)

    def view(self, state: PrefixState) -> StaticView:
        """Copy `state`'s cache into the buffers of its bucket, unless they hold it already."""
        current = self._view
        if current is not None and current.owner is state and current.prefix == len(state.ids):
            return current
        self._view = None  # until the copy below completes: a failure half-way must not leave a stale view
        length = len(state.ids)
        size = prefix_bucket(length)
        cache = self._buffers.get(size)
        if cache is None:
            cache = self._buffers[size] = self._allocate(state, size)
        kept: dict[str, int] = {}
        for layer, src in zip(cache.layers, state.kv.layers, strict=True):
            keys, values = src.keys, src.values
            if layer.is_sliding:
                keys, values = keys[:, :, -self.sliding_keep :], values[:, :, -self.sliding_keep :]
            n = keys.shape[-2]
            kept["sliding_attention" if layer.is_sliding else "full_attention"] = (n, layer.keys.shape[-2])
            layer.keys[:, :, :n].copy_(keys)
            layer.values[:, :, :n].copy_(values)
            # Stale keys past `n` are masked out, but zero them so they can never turn into NaN under a mask.
            layer.keys[:, :, n:].zero_()
            layer.values[:, :, n:].zero_()
        self._view = StaticView(cache, length, kept, state)
        return self._view

    def _allocate(self, state: PrefixState, size: int) -> DynamicCache:
        cache = DynamicCache(config=self.text_config)
        for layer, src in zip(cache.layers, state.kv.layers, strict=True):
            length = min(size, self.sliding_keep) if layer.is_sliding else size
            batch, heads, _, dim = src.keys.shape
            keys = src.keys.new_zeros(batch, heads, length, dim)
            values = src.values.new_zeros(batch, heads, length, src.values.shape[-1])
            if self.compiled:
                torch._dynamo.mark_static_address(keys)
                torch._dynamo.mark_static_address(values)
            layer.lazy_initialization(keys, values)
            layer.keys, layer.values = keys, values
            if layer.is_sliding:
                layer.cumulative_length = length
        return cache

    def masks(self, view: StaticView, real: int, padded: int, device: torch.device, dtype: torch.dtype) -> dict:
        """Per layer type, (1, 1, padded, cache + padded): the real prefix and the real canvas are visible."""
        masks = {}
        canvas = torch.arange(padded, device=device) < real
        for kind, (kept, length) in view.kept.items():
            visible = torch.cat([torch.arange(length, device=device) < kept, canvas])
            mask = visible.expand(1, 1, padded, length + padded)
            if self.additive:
                mask = as_additive(mask, dtype)
            masks[kind] = mask
        return masks

    @torch.inference_mode()
    def logits(self, state: PrefixState, canvas: torch.Tensor, self_conditioning: torch.Tensor | None) -> torch.Tensor:
        view = self.view(state)
        real = canvas.shape[1]
        padded = canvas_bucket(real)
        device = canvas.device
        tokens = torch.nn.functional.pad(canvas, (0, padded - real))
        positions = torch.arange(view.prefix, view.prefix + padded, device=device)[None]
        dtype = self.model.model.decoder.embed_tokens.weight.dtype
        if self_conditioning is not None:
            self_conditioning = torch.nn.functional.pad(self_conditioning.to(dtype), (0, 0, 0, padded - real))
        masks = self.masks(view, real, padded, device, dtype)
        return self._step(tokens, view.cache, self_conditioning, positions, masks)[:, :real]

    def _forward(self, tokens, cache, self_conditioning, positions, masks) -> torch.Tensor:
        return self.model(
            decoder_input_ids=tokens,
            cache=cache,
            self_conditioning_logits=self_conditioning,
            decoder_position_ids=positions,
            decoder_attention_mask=masks,
        ).logits
