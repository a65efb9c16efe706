"""A virtual environment with only the GPU machine's packages (dglsp/train/carry.py's GPU_PACKAGES), to rehearse
what the carried wheels must make importable there.

Built once under a folder the caller keeps (the tests use pytest's cache), then reused while its marker file says it
is complete and holds the same requirements. torch is this interpreter's own build (pip here takes the +cpu wheel
from a local folder), installed without its needs so that no CUDA package comes along.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from dglsp.train.carry import GPU_ABSENT, GPU_PACKAGES, canonical

MARKER = "complete.json"
LOG = "pip.log"


def requirements() -> tuple[str, list[str]]:
    """(torch's pin, the other GPU packages' requirements): pinned where GPU_PACKAGES knows the version."""
    torch = f"torch=={metadata.version('torch')}"
    others = [name if version is None else f"{name}=={version}" for name, version in GPU_PACKAGES.items()]
    return torch, [r for r in others if canonical(r.split("==")[0]) != "torch"]


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _step(command: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:])
        raise RuntimeError(f"building the GPU-like venv failed (exit {done.returncode}); {log}:\n{tail}")


def gpu_like_venv(root: Path) -> Path:
    """The python executable of a venv (no system site packages) holding only the GPU machine's packages."""
    root = Path(root)
    venv = root / "venv"
    python = _python(venv)
    torch, others = requirements()
    want = {"python": sys.version.split()[0], "torch": torch, "requirements": others}
    marker = root / MARKER
    if marker.is_file() and python.is_file():
        try:
            if json.loads(marker.read_text(encoding="utf-8")) == want:
                return python
        except ValueError:
            pass
    marker.unlink(missing_ok=True)
    shutil.rmtree(venv, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    log = root / LOG
    log.write_text("", encoding="utf-8")
    _step([sys.executable, "-m", "venv", str(venv)], log)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    _step([*pip, "--no-deps", "--only-binary=:all:", torch], log)
    _step([*pip, "--only-binary=:all:", *others], log)
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    there = {canonical(row["name"]) for row in json.loads(listed.stdout)}
    stray = sorted(there & {canonical(name) for name in GPU_ABSENT})
    if stray:
        raise RuntimeError(f"the GPU-like venv has {stray}, which the GPU machine lacks")
    marker.write_text(json.dumps(want), encoding="utf-8")
    return python
