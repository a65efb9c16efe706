"""Absorbing-state (masked) diffusion LMs: prefix | canvas | suffix in one bidirectional pass."""

from __future__ import annotations

import torch

from .base import Denoiser, ModelError, PrefixState


class MaskedDenoiser(Denoiser):
    noise = "absorbing"
    layout = "infill"

    def __init__(self, model, mask_id: int | None, bos_id: int | None, eos_id: int | None) -> None:
        super().__init__()
        if mask_id is None:
            raise ModelError("this masked LM has no mask token: its tokenizer must define mask_token")
        self.model = model.eval()
        config = model.config
        self.vocab_size = config.vocab_size
        self.mask_id = mask_id
        self.bos_id = bos_id
        self._eos = [] if eos_id is None else [eos_id]
        self.max_positions = getattr(config, "max_position_embeddings", 512)
        self.max_canvas = 256

    @property
    def device(self) -> torch.device:
        return self.model.device

    def extend(self, state: PrefixState, ids: list[int]) -> None:
        # Nothing to encode ahead: every pass sees the whole sequence bidirectionally.
        state.ids.extend(ids)
        self.encoded_tokens += len(ids)

    def fork(self, state: PrefixState, length: int) -> PrefixState:
        return PrefixState(ids=state.ids[:length])

    @torch.inference_mode()
    def logits(
        self,
        state: PrefixState,
        canvas: torch.Tensor,
        self_conditioning: torch.Tensor | None,
        slots: torch.Tensor | None = None,
    ) -> torch.Tensor:
        prefix = torch.tensor([state.ids], dtype=torch.long, device=self.device)
        tail = torch.tensor([self._eos], dtype=torch.long, device=self.device)
        seq = torch.cat([prefix, canvas, tail], dim=1)
        out = self.model(input_ids=seq, attention_mask=torch.ones_like(seq))
        start = prefix.shape[1]
        logits = out.logits[:, start : start + canvas.shape[1]].float()
        logits[..., self.mask_id] = float("-inf")  # a slot is never filled with the noise token itself
        return logits
