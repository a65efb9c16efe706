"""What a rented GPU machine can hand back from its output folder, and a model directory packed to fit it.

The limits are the device tool's: at most 8 files of at most 16 MiB, 64 MiB in all, no deeper than two
folders, plain names. A round that leaves more loses files silently, so it checks before it ends.
"""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path

MAX_FILES = 8
MAX_FILE_BYTES = 16 << 20
MAX_TOTAL_BYTES = 64 << 20
MAX_FOLDERS = 2  # OUT/a/b/file comes back, OUT/a/b/c/file does not
SHARD_BYTES = 15 << 20  # safetensors shards that leave a tar room for the small files beside them
NAME = re.compile(r"[A-Za-z0-9._-]+")
TAR_END = 10240  # the most a tar adds after its last member (end blocks and record padding)


def problems(root: Path) -> list[str]:
    """Every way `root` breaks the limits, worded for a person; empty when it all comes back."""
    found, files, total = [], [], 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(not NAME.fullmatch(part) for part in rel.parts):
            found.append(f"{rel}: a name other than letters, digits, '.', '_' and '-'")
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            found.append(f"{rel}: not a plain file or folder")
            continue
        if path.is_dir():
            continue
        if len(rel.parts) - 1 > MAX_FOLDERS:
            found.append(f"{rel}: more than {MAX_FOLDERS} folders down")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            found.append(f"{rel}: {size / 2**20:.1f} MiB, over {MAX_FILE_BYTES >> 20} MiB")
        files.append(rel)
        total += size
    if len(files) > MAX_FILES:
        found.append(f"{len(files)} files, over {MAX_FILES}")
    if total > MAX_TOTAL_BYTES:
        found.append(f"{total / 2**20:.1f} MiB in all, over {MAX_TOTAL_BYTES >> 20} MiB")
    return found


def pack_model(model_dir: Path, out: Path, stem: str = "model") -> list[Path]:
    """The model directory as uncompressed tar files of at most MAX_FILE_BYTES each (`model.tar`, or
    `model-1.tar`, `model-2.tar` ... when it needs more), written beside and then renamed over the old ones,
    so a run killed mid-write still leaves the last whole export. Extract them all into one folder to use."""
    # First fit, biggest first. A tar spends a 512-byte header per file, pads each to 512 bytes, and ends in
    # padding to its 10 kB record.
    groups: list[list[Path]] = []
    room: list[int] = []
    for path in sorted(model_dir.iterdir(), key=lambda p: -p.stat().st_size):
        size = 512 + -(-path.stat().st_size // 512) * 512
        if size > MAX_FILE_BYTES - TAR_END:
            raise ValueError(f"{path.name} is {size / 2**20:.1f} MiB: save the model in smaller shards")
        at = next((i for i, left in enumerate(room) if size <= left), None)
        if at is None:
            groups.append([])
            room.append(MAX_FILE_BYTES - TAR_END)
            at = len(groups) - 1
        groups[at].append(path)
        room[at] -= size
    names = [f"{stem}.tar"] if len(groups) == 1 else [f"{stem}-{i}.tar" for i in range(1, len(groups) + 1)]
    written = []
    for name, group in zip(names, groups, strict=True):
        tmp = out / f".{name}.partial"
        with tarfile.open(tmp, "w") as tar:
            for path in group:
                tar.add(path, arcname=path.name)
        os.replace(tmp, out / name)
        written.append(out / name)
    for stale in out.glob(f"{stem}*.tar"):
        if stale not in written:
            stale.unlink()
    return written


def unpack_model(tars: list[Path], into: Path) -> Path:
    """Extract a packed model (every part) into one directory that dglsp loads."""
    into.mkdir(parents=True, exist_ok=True)
    for path in tars:
        with tarfile.open(path) as tar:
            tar.extractall(into, filter="data")
    return into
