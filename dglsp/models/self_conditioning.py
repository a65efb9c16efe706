"""What a DiffusionGemma decoder row reads as self-conditioning, for a model that conditions only its slots.

DiffusionGemma feeds every decoder row the previous step's prediction (softmax of its logits, through the
embeddings). A fixed row (the pinned suffix, code between holes) is known, so a model trained with those rows
reading a one-hot of their own token (`self_conditioning: "slots"` in dglsp.json) needs the vocabulary head over
the slots only; training and every inference path build the same input here.
"""

from __future__ import annotations

import torch

NOTE = "self_conditioning"  # the dglsp.json key: "slots", or "all" (the default: every row reads its logits)
ROWS = ("all", "slots")


def fixed_read_tokens(logits: torch.Tensor, tokens: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
    """`logits` (B, L, V) where `free` (B, L), else logits whose softmax is exactly the one-hot of `tokens`."""
    own = torch.full_like(logits, torch.finfo(logits.dtype).min).scatter_(-1, tokens[..., None], 0.0)
    return torch.where(free[..., None], logits, own)


def from_slots(slot_logits: torch.Tensor, tokens: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """The whole canvas's self-conditioning logits (1, L, V) from the slots' (1, S, V)."""
    full = slot_logits.new_zeros(*tokens.shape, slot_logits.shape[-1])
    full[:, slots] = slot_logits
    free = torch.zeros(tokens.shape, dtype=torch.bool, device=tokens.device)
    free[:, slots] = True
    return fixed_read_tokens(full, tokens, free)
