"""Write a model directory: what the loader reads, from a live model (training exports, untrained models)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

from .loader import DGLSP_FILE


def save_model_dir(
    model,
    tokenizer,
    out: str | Path,
    notes: dict,
    *,
    dtype: torch.dtype | None = None,
    max_shard_size: str | int | None = None,
) -> Path:
    """What every dglsp model directory holds: weights (safetensors), tokenizer, generation config, notes.

    `dtype` writes the floating-point weights in that dtype (config.json says so) from a cast copy: `model`
    itself is left as it is. `max_shard_size` ("2GB", or bytes) splits big weights into shards plus an index.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = {} if max_shard_size is None else {"max_shard_size": max_shard_size}
    (model if dtype is None else cast_copy(model, dtype)).save_pretrained(out, **kwargs)
    tokenizer.save_pretrained(out)
    (out / DGLSP_FILE).write_text(json.dumps(notes, indent=2) + "\n", encoding="utf-8")
    return out


def cast_copy(model, dtype: torch.dtype):
    """A copy of `model` whose floating-point parameters and buffers are in `dtype`, for saving.

    Only the cast tensors are new memory (a deep copy of the model's own weights is never made), tied weights
    stay tied, and the copy's config and sub-configs name the new dtype. `model` is not changed.
    """
    memo: dict[int, object] = {}
    with torch.no_grad():
        for tensor in (*model.parameters(), *model.buffers()):
            if tensor.is_floating_point() and id(tensor) not in memo:
                cast = tensor.detach().to(dtype)
                memo[id(tensor)] = (
                    torch.nn.Parameter(cast, requires_grad=False) if isinstance(tensor, torch.nn.Parameter) else cast
                )
    clone = copy.deepcopy(model, memo)
    name = str(dtype).removeprefix("torch.")
    clone.config.dtype = name
    for key in getattr(clone.config, "sub_configs", {}):
        if (sub := getattr(clone.config, key, None)) is not None:
            sub.dtype = name
    return clone
