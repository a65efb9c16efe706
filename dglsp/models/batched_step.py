"""One DiffusionGemma decoder step for several canvases at once: canvas-level batching.

Each canvas has its own prefix (its own KV cache, of its own length) and its own length. The prefixes' keys and
values are copied into one padded cache per batch (sliding layers keep their window), the canvases are padded
to the longest, and 4-D masks show each row only its own prefix and its own canvas. Keys are stored already
rotated to their positions, so where a row's padding sits does not matter; each row gets its own position ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache

from .base import PrefixState

MASKED_ATTENTION = ("sdpa", "eager")  # implementations that take a 4-D mask


@dataclass
class BatchCache:
    cache: DynamicCache
    kept: dict[str, tuple[list[int], int]]  # per layer type: each row's real tokens, the buffer length
    owners: list[tuple[PrefixState, int]]  # the states it was built from, with their lengths then (held, so an
    # id is never reused by another state while this lives)

    def holds(self, states: list[PrefixState]) -> bool:
        return len(states) == len(self.owners) and all(
            s is owner and len(s.ids) == n for s, (owner, n) in zip(states, self.owners, strict=True)
        )


def batch_cache(text_config, states: list[PrefixState]) -> BatchCache:
    keep = text_config.sliding_window - 1
    cache = DynamicCache(config=text_config)
    kept: dict[str, tuple[list[int], int]] = {}
    for layer, *sources in zip(cache.layers, *(s.kv.layers for s in states), strict=True):
        rows = [
            (src.keys[:, :, -keep:], src.values[:, :, -keep:]) if layer.is_sliding else (src.keys, src.values)
            for src in sources
        ]
        lengths = [k.shape[-2] for k, _ in rows]
        longest = max(lengths)
        first_keys, first_values = rows[0]
        keys = first_keys.new_zeros(len(rows), first_keys.shape[1], longest, first_keys.shape[-1])
        values = first_values.new_zeros(len(rows), first_values.shape[1], longest, first_values.shape[-1])
        for i, (k, v) in enumerate(rows):
            keys[i, :, : k.shape[-2]] = k[0]
            values[i, :, : v.shape[-2]] = v[0]
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
        if layer.is_sliding:
            layer.cumulative_length = longest
        kept["sliding_attention" if layer.is_sliding else "full_attention"] = (lengths, longest)
    return BatchCache(cache, kept, [(s, len(s.ids)) for s in states])


def masks(batch: BatchCache, lengths: list[int], padded: int, device: torch.device, dtype, additive: bool) -> dict:
    """Per layer type, (rows, 1, padded, buffer + padded): each row sees its real prefix and its real canvas."""
    out = {}
    canvas = torch.arange(padded, device=device)[None] < torch.tensor(lengths, device=device)[:, None]
    for kind, (kept, longest) in batch.kept.items():
        prefix = torch.arange(longest, device=device)[None] < torch.tensor(kept, device=device)[:, None]
        visible = torch.cat([prefix, canvas], dim=1)[:, None, None, :].expand(len(lengths), 1, padded, -1)
        if additive:
            visible = torch.zeros(visible.shape, dtype=dtype, device=device).masked_fill(
                ~visible, torch.finfo(dtype).min
            )
        out[kind] = visible
    return out


class BatchedStep:
    """`logits_many` for DiffusionGemma; the padded cache is rebuilt only when the set of canvases changes."""

    def __init__(self, model) -> None:
        self.model = model
        self.text_config = model.config.text_config
        self.additive = self.text_config._attn_implementation == "eager"
        self.dtype = model.model.decoder.embed_tokens.weight.dtype
        self._batch: BatchCache | None = None

    @staticmethod
    def supported(model) -> bool:
        return model.config.text_config._attn_implementation in MASKED_ATTENTION

    @torch.inference_mode()
    def logits(
        self, states: list[PrefixState], canvases: list[torch.Tensor], self_conditioning: list[torch.Tensor | None]
    ) -> list[torch.Tensor]:
        if self._batch is None or not self._batch.holds(states):
            self._batch = batch_cache(self.text_config, states)
        lengths = [c.shape[1] for c in canvases]
        padded = max(lengths)
        device = canvases[0].device
        tokens = torch.cat([torch.nn.functional.pad(c, (0, padded - c.shape[1])) for c in canvases])
        starts = torch.tensor([len(s.ids) for s in states], device=device)
        positions = starts[:, None] + torch.arange(padded, device=device)[None]
        conditioning = None
        if all(sc is not None for sc in self_conditioning):
            conditioning = torch.cat(
                [
                    torch.nn.functional.pad(sc.to(self.dtype), (0, 0, 0, padded - sc.shape[1]))
                    for sc in self_conditioning
                ]
            )
        out = self.model(
            decoder_input_ids=tokens,
            past_key_values=self._batch.cache,
            self_conditioning_logits=conditioning,
            decoder_position_ids=positions,
            decoder_attention_mask=masks(self._batch, lengths, padded, device, self.dtype, self.additive),
        ).logits
        return [out[i : i + 1, : lengths[i]] for i in range(len(canvases))]
