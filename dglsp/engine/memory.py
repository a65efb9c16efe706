"""Out of memory on any device: recognised as such, and the memory the failed work held given back."""

from __future__ import annotations

import gc
import os
import resource
from pathlib import Path

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


def free_bytes(device: torch.device) -> int | None:
    """Memory a new allocation can still get on `device`, or None where that cannot be known.

    On Linux the lower of what the kernel says is available (beyond it, overcommitted pages end in the OOM killer,
    not in an error) and what the process's address-space limit leaves."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu" or not Path("/proc/meminfo").exists():
        return None
    available = _meminfo_kb("MemAvailable") * 1024
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit != resource.RLIM_INFINITY:
        available = min(available, limit - _status_kb("VmSize") * 1024)
    return max(0, available)


def check_fits(device: torch.device, need: int, what: str) -> None:
    """Raise OutOfMemory before work that needs about `need` bytes the device does not have."""
    free = free_bytes(device)
    if need and free is not None and need > free:
        raise OutOfMemory(device, f"{what} needs about {need / 2**30:.1f} GiB and {free / 2**30:.1f} GiB is free")


def _meminfo_kb(key: str) -> int:
    return _field_kb(Path("/proc/meminfo"), key)


def _status_kb(key: str) -> int:
    return _field_kb(Path(f"/proc/{os.getpid()}/status"), key)


def _field_kb(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0
