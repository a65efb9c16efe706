"""One DiffusionGemma decoder step for several canvases at once: canvas-level batching, packed.

Each canvas has its own prefix (its own KV cache, of its own length) and its own length (slots and pinned
suffix). Padding them to the longest would spend most of a batch of real code on padding, so they are packed
instead: the canvases one after another in one sequence, the prefixes' keys and values one after another in one
cache (sliding layers keep their window), and a mask that shows each canvas token only its own prefix and its
own canvas. Keys are stored already rotated to their positions, and each token gets its own row's position ids,
so the packing changes nothing but the float rounding of the batched matrix products.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache

from .base import PrefixState
from .static_decoder import MASKED_ATTENTION, as_additive


@dataclass
class PackedCache:
    cache: DynamicCache
    key_rows: dict[str, torch.Tensor]  # per layer type: which canvas each cached key belongs to
    owners: list[tuple[PrefixState, int]]  # the states it was packed from, with their lengths then (held, so an
    # id is never reused by another state while this lives)

    def holds(self, states: list[PrefixState]) -> bool:
        return len(states) == len(self.owners) and all(
            s is owner and len(s.ids) == n for s, (owner, n) in zip(states, self.owners, strict=True)
        )


def pack_cache(text_config, states: list[PrefixState]) -> PackedCache:
    keep = text_config.sliding_window - 1
    cache = DynamicCache(config=text_config)
    key_rows: dict[str, torch.Tensor] = {}
    for layer, *sources in zip(cache.layers, *(s.kv.layers for s in states), strict=True):
        keys = [src.keys[:, :, -keep:] if layer.is_sliding else src.keys for src in sources]
        values = [src.values[:, :, -keep:] if layer.is_sliding else src.values for src in sources]
        packed_keys, packed_values = torch.cat(keys, dim=-2), torch.cat(values, dim=-2)
        layer.lazy_initialization(packed_keys, packed_values)
        layer.keys, layer.values = packed_keys, packed_values
        if layer.is_sliding:
            layer.cumulative_length = packed_keys.shape[-2]
        lengths = torch.tensor([k.shape[-2] for k in keys], device=packed_keys.device)
        kind = "sliding_attention" if layer.is_sliding else "full_attention"
        key_rows[kind] = torch.repeat_interleave(torch.arange(len(keys), device=lengths.device), lengths)
    return PackedCache(cache, key_rows, [(s, len(s.ids)) for s in states])


def packed_masks(packed: PackedCache, canvas_rows: torch.Tensor, dtype, additive: bool) -> dict:
    """Per layer type, (1, 1, canvas tokens, cached keys + canvas tokens): a token sees its own canvas's keys."""
    out = {}
    for kind, key_rows in packed.key_rows.items():
        visible = torch.cat([key_rows, canvas_rows])[None, :] == canvas_rows[:, None]
        if additive:
            visible = as_additive(visible, dtype)
        out[kind] = visible[None, None]
    return out


class BatchedStep:
    """`logits_many` for DiffusionGemma; the packed cache is rebuilt only when the set of canvases changes."""

    def __init__(self, model) -> None:
        self.model = model
        self.text_config = model.config.text_config
        self.additive = self.text_config._attn_implementation == "eager"
        self.dtype = model.model.decoder.embed_tokens.weight.dtype
        self._packed: PackedCache | None = None

    @staticmethod
    def supported(model) -> bool:
        return model.config.text_config._attn_implementation in MASKED_ATTENTION

    @torch.inference_mode()
    def logits(
        self, states: list[PrefixState], canvases: list[torch.Tensor], self_conditioning: list[torch.Tensor | None]
    ) -> list[torch.Tensor]:
        if self._packed is None or not self._packed.holds(states):
            self._packed = pack_cache(self.text_config, states)
        device = canvases[0].device
        lengths = [c.shape[1] for c in canvases]
        canvas_rows = torch.repeat_interleave(torch.arange(len(canvases), device=device), torch.tensor(lengths))
        starts = [len(s.ids) for s in states]
        positions = torch.cat([a + torch.arange(n, device=device) for a, n in zip(starts, lengths, strict=True)])
        conditioning = None
        if all(sc is not None for sc in self_conditioning):
            conditioning = torch.cat([sc.to(self.dtype) for sc in self_conditioning], dim=1)
        out = self.model(
            decoder_input_ids=torch.cat(canvases, dim=1),
            cache=self._packed.cache,
            self_conditioning_logits=conditioning,
            decoder_position_ids=positions[None],
            decoder_attention_mask=packed_masks(self._packed, canvas_rows, self.dtype, self.additive),
        ).logits
        return list(torch.split(out, lengths, dim=1))
