"""`dglsp train --prepare-gpu [DIR]`: the wheels the GPU machine lacks, the size of what travels, the line to run.

The GPU machine cannot install from the internet, so what `dglsp train --round` needs beyond its packages travels
with the checkout as wheels (dglsp/train/carry.py says which and why). This downloads them into DIR (default
.whl, git-ignored, so it travels as a carried folder), checks the checkout plus DIR against the 64 MiB a run may
take, and prints the shell line that installs them there and runs the round.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from ..train import carry
from .options import CliError

REPO = Path(__file__).resolve().parents[2]  # the checkout that travels (run from a git checkout, not an install)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("GPU machine (offline: what it lacks travels as wheels)")
    group.add_argument(
        "--prepare-gpu",
        nargs="?",
        const=carry.WHEEL_DIR,
        metavar="DIR",
        help=f"download the wheels the GPU machine lacks into DIR (default {carry.WHEEL_DIR}; relative to the "
        "checkout's root), check what travels against the 64 MiB budget, print the line to run there; no training",
    )
    group.add_argument(
        "--python",
        default=carry.GPU_PYTHON,
        metavar="X.Y",
        help=f"the GPU machine's Python, for which wheels are fetched (default {carry.GPU_PYTHON})",
    )


def _ignored(repo: Path, folder: Path) -> bool:
    done = subprocess.run(
        ["git", "-C", str(repo), "check-ignore", "-q", "--no-index", str(folder.relative_to(repo)) + "/"],
        capture_output=True,
    )
    return done.returncode == 0


def run(args: argparse.Namespace, repo: Path | None = None) -> int:
    repo = (repo or REPO).resolve()
    if not (repo / ".git").exists():
        raise CliError(f"{repo} is not a git checkout: --prepare-gpu measures and ships a checkout of dglsp")
    folder = Path(args.prepare_gpu)
    folder = (folder if folder.is_absolute() else repo / folder).resolve()
    if not folder.is_relative_to(repo) or folder == repo:
        raise CliError(f"{folder} is not a folder inside the checkout {repo}: only the checkout travels")
    relative = folder.relative_to(repo).as_posix()
    python = getattr(args, "python", None) or carry.GPU_PYTHON

    try:
        planned = carry.prepare_wheels(folder, python_version=python)
    except carry.CarryError as exc:
        raise CliError(str(exc)) from exc
    wheels = sorted(folder.glob("*.whl"))
    width = max(len(w.name) for w in wheels)
    print(f"{'wheel':<{width}}  {'MiB':>6}")
    for wheel in wheels:
        note = "" if wheel in planned else "  (not planned: it travels and is installed too)"
        print(f"{wheel.name:<{width}}  {wheel.stat().st_size / carry.MIB:6.2f}{note}")
    print(f"{'wheels':<{width}}  {sum(w.stat().st_size for w in wheels) / carry.MIB:6.2f}")
    for line in carry.left_behind(python):
        print(f"left behind: {line}")

    ignored = _ignored(repo, folder)
    total = carry.travelling_bytes(repo, [folder])  # a folder git does not ignore travels anyway: counted once
    budget = carry.TRAVEL_BUDGET / carry.MIB
    print(f"travelling: {total / carry.MIB:.1f} MiB of {budget:.0f} MiB (the checkout and {relative})")
    try:
        carry.check_budget(total)
    except carry.CarryError as exc:
        raise CliError(str(exc)) from exc

    minutes = getattr(args, "minutes", None) or 5
    deadline = getattr(args, "deadline_minutes", None) or 9
    if ignored:
        print(f"carry: {relative} (git ignores it, so name it among the carried folders)")
    print("run there, from the checkout's root:")
    print(carry.run_line(relative, minutes, deadline))
    return 0
