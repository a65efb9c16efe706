"""DiffusionGemma: an encoder writes the prefix into a KV cache, a bidirectional decoder denoises the canvas."""

from __future__ import annotations

import torch
from transformers import DiffusionGemmaForBlockDiffusion, DynamicCache

from .base import Decoder, Denoiser, Layout, PrefixState
from .batched_step import BatchedStep
from .lean_step import LeanStep
from .self_conditioning import from_slots
from .static_decoder import StaticDecoder


class DiffusionGemmaDenoiser(Denoiser):
    noise = "uniform"

    def __init__(
        self,
        model: DiffusionGemmaForBlockDiffusion,
        layout: Layout = "infill",
        decoder: Decoder = "lean",
        slots_only: bool = False,
    ) -> None:
        super().__init__()
        self.model = model.eval()
        self.text_config = model.config.text_config
        self.vocab_size = self.text_config.vocab_size
        self.bos_id = self.text_config.bos_token_id
        self.max_positions = self.text_config.max_position_embeddings
        self.max_canvas = model.config.canvas_length or 256
        self.layout = layout
        self._embed_dtype = model.model.decoder.embed_tokens.weight.dtype
        self.slots_only = slots_only
        # lean: dglsp's own step (quantized weights keep transformers'); static/compiled: fixed shapes per bucket
        # (see static_decoder); dynamic: transformers' forward over the cache as it is.
        if decoder == "lean" and not LeanStep.supported(model):
            decoder = "dynamic"
        self.decoder = decoder
        self._lean = LeanStep(model) if decoder == "lean" else None
        self._static = (
            StaticDecoder(model, compile=decoder == "compiled") if decoder in ("static", "compiled") else None
        )
        self._batched = BatchedStep(model) if BatchedStep.supported(model) else None

    @property
    def device(self) -> torch.device:
        return self.model.device

    def new_state(self) -> PrefixState:
        # A cache without a config keeps every layer whole, so a state can be cut back anywhere (a sliding-window
        # layer keeps only its window and cannot be cropped). The decoder gets the windowed view it was built for.
        return PrefixState(ids=[], kv=DynamicCache())

    @torch.inference_mode()
    def extend(self, state: PrefixState, ids: list[int]) -> None:
        if not ids:
            return
        start = len(state.ids)
        tokens = torch.tensor([ids], dtype=torch.long, device=self.device)
        positions = torch.arange(start, start + len(ids), device=self.device)[None]
        self.model.model.encoder(input_ids=tokens, cache=state.kv, position_ids=positions)
        state.ids.extend(ids)
        state.view = None
        self.encoded_tokens += len(ids)

    def encode_bytes(self, new: int, cached: int) -> int:
        # Attention as transformers runs it on a CPU materialises each layer's scores, their softmax and the
        # sliding and full masks: (2 * heads + 2) maps of new x (cached + new); the rest grows linearly. On a GPU,
        # SDPA's fused kernels keep only the masks.
        c = self.text_config
        itemsize = torch.finfo(self._embed_dtype).bits // 8
        fused = self.device.type == "cuda" and self.model.config._attn_implementation != "eager"
        maps = (2 if fused else 2 * c.num_attention_heads + 2) * new * (cached + new)
        kv = 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim
        per_token = 6 * c.hidden_size + 3 * c.intermediate_size + kv
        return itemsize * (maps + new * per_token)

    def fork(self, state: PrefixState, length: int) -> PrefixState:
        if length > len(state.ids):
            raise ValueError(f"cannot fork {length} tokens from a state of {len(state.ids)}")
        kv = DynamicCache()
        for src in state.kv.layers:
            kv.layers.append(_layer_slice(src, length))
        return PrefixState(ids=state.ids[:length], kv=kv)

    def _decoder_view(self, state: PrefixState) -> DynamicCache:
        if state.view is None:
            view = DynamicCache(config=self.text_config)
            for layer, src in zip(view.layers, state.kv.layers, strict=False):
                keys, values = src.keys, src.values
                if layer.is_sliding:
                    layer.cumulative_length = keys.shape[-2]
                    keep = layer.sliding_window - 1
                    keys, values = keys[:, :, -keep:], values[:, :, -keep:]
                layer.lazy_initialization(keys, values)
                layer.keys, layer.values = keys, values
            state.view = view
        return state.view

    @torch.inference_mode()
    def logits(
        self,
        state: PrefixState,
        canvas: torch.Tensor,
        self_conditioning: torch.Tensor | None,
        slots: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if not state.ids:
            raise ValueError("DiffusionGemma needs at least one prefix token (the bos token)")
        start = len(state.ids)
        positions = torch.arange(start, start + canvas.shape[1], device=self.device)[None]
        if self._lean is not None:
            rows = slots if self.slots_only else None
            return self._lean.logits(canvas, positions, self._decoder_view(state).layers, self_conditioning, rows)
        if self.slots_only and self_conditioning is not None:
            self_conditioning = from_slots(self_conditioning, canvas, slots)
        if self._static is not None:
            out = self._static.logits(state, canvas, self_conditioning)
            return out[:, slots] if self.slots_only else out
        if self_conditioning is not None:
            self_conditioning = self_conditioning.to(self._embed_dtype)
        out = self.model(
            decoder_input_ids=canvas,
            cache=self._decoder_view(state),
            self_conditioning_logits=self_conditioning,
            decoder_position_ids=positions,
        ).logits
        return out[:, slots] if self.slots_only else out

    def logits_many(
        self,
        states: list[PrefixState],
        canvases: list[torch.Tensor],
        self_conditioning: list[torch.Tensor | None],
        slots: list[torch.Tensor | None],
    ) -> list[torch.Tensor]:
        # One canvas alone takes the single step (the one checked against transformers' generate()).
        if len(canvases) == 1 or self._batched is None:
            return super().logits_many(states, canvases, self_conditioning, slots)
        if any(not s.ids for s in states):
            raise ValueError("DiffusionGemma needs at least one prefix token (the bos token)")
        if self.slots_only:
            self_conditioning = [
                sc if sc is None else from_slots(sc, c, s)
                for sc, c, s in zip(self_conditioning, canvases, slots, strict=True)
            ]
        out = self._batched.logits(states, canvases, self_conditioning)
        return [o[:, s] for o, s in zip(out, slots, strict=True)] if self.slots_only else out

    def state_bytes(self, state: PrefixState) -> int:
        return sum(
            layer.keys.numel() * layer.keys.element_size() * 2
            for layer in state.kv.layers
            if getattr(layer, "is_initialized", False)
        )


def _layer_slice(src, length: int):
    layer = type(src)()
    if getattr(src, "is_initialized", False):
        keys, values = src.keys[:, :, :length], src.values[:, :, :length]
        layer.lazy_initialization(keys, values)
        # Views, not copies: DynamicLayer.update concatenates into new tensors, so a shared view is never written.
        layer.keys, layer.values = keys, values
    return layer
