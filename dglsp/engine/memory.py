"""Out of memory on any device: recognised as such, and the memory the failed work held given back."""

from __future__ import annotations

import gc

import torch

# The CPU allocator raises a plain RuntimeError; CUDA raises torch.OutOfMemoryError; MPS says "out of memory".
OOM_TEXT = ("can't allocate memory", "out of memory")


class OutOfMemory(RuntimeError):
    """A fill needed more memory than the device had; the fill is lost, the model is not."""

    def __init__(self, device: torch.device, detail: str) -> None:
        super().__init__(f"out of memory on {device}: {detail}")
        self.device = device


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(text in str(exc) for text in OOM_TEXT)


def release_memory(device: torch.device) -> None:
    """Give cached blocks back, so the next (smaller) fill, or another program, can have them."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()
