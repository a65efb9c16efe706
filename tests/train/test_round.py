"""`dglsp train --round`: rehearsed where only the GPU machine's packages and the carried wheels are, and each way
a round cannot do its job said in its first seconds, in round.json too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from dglsp.cli import main
from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest
from dglsp.models.loader import DEFAULT_MODEL_DIR, load_model
from dglsp.train import carry, outbox
from dglsp.train.config import CONFIGS
from dglsp.train.loop import lr_at

REPO = Path(__file__).resolve().parents[2]
ROUND_FILES = ["MODEL_CARD.md", "bench.json", "bench.txt", "log.jsonl", "loss.png", "model.tar", "round.json"]


@pytest.fixture(scope="module")
def carried(tmp_path_factory) -> Path:
    """The carried wheels, prepared for this machine's Python and installed as on the GPU machine."""
    wheels = tmp_path_factory.mktemp("whl")
    carry.prepare_wheels(wheels, python_version=f"{sys.version_info.major}.{sys.version_info.minor}")
    site = tmp_path_factory.mktemp("site")
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    subprocess.run([*install, "--upgrade", "--target", str(site), *map(str, wheels.glob("*.whl"))], check=True)
    return site


def in_gpu_like_venv(python: Path, args: list[str], pythonpath: list[Path]) -> subprocess.CompletedProcess:
    """As on the GPU machine: the checkout on PYTHONPATH, not installed; no network; unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=os.pathsep.join(map(str, pythonpath)), PYTHONUNBUFFERED="1")
    return subprocess.run(
        [str(python), "-m", "dglsp", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )


def record(out: Path) -> dict:
    return json.loads((out / "round.json").read_text(encoding="utf-8"))


def test_the_rehearsal_runs_the_round_end_to_end_with_only_the_gpu_machines_packages(
    tmp_path, gpu_like_python, carried
):
    out = tmp_path / "out"
    done = in_gpu_like_venv(
        gpu_like_python,
        ["train", "--round", "--rehearse", "--out", str(out), "--work", str(tmp_path / "work"), "--quiet"],
        [carried, REPO],
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "round done" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ROUND_FILES
    assert outbox.problems(out) == []
    state = record(out)
    assert state["status"] == "done" and list(state["stages"]) == [
        "check",
        "pack and load",
        "train",
        "bench",
        "load and fill",
    ]
    shipped = json.loads((DEFAULT_MODEL_DIR / "dglsp.json").read_text())
    train = state["train"]
    assert train["steps"] > shipped["steps"] and train["tokens_seen"] > shipped["tokens_seen"]
    assert train["exports"] >= 3  # at least one by the clock, the end of training, after the bench
    assert train["tokens_per_s"] > 0 and 0 <= train["data_wait"] <= 1
    assert state["fill"]["dtype"] == "float32" and state["fill"]["steps"] >= 1
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[0]["event"] == "resume" and log[0]["step"] == shipped["steps"]
    steps = [r for r in log if r["event"] == "train"]
    assert steps and all(r["tokens_per_s"] > 0 and 0 <= r["data_wait"] <= 1 for r in steps)
    # A fresh optimizer warms up again from the shipped step count.
    assert steps[0]["lr"] == lr_at(0, CONFIGS["round-rehearsal"])
    bench = json.loads((out / "bench.json").read_text())
    assert bench["settings"]["suite"] == "humaneval-single" and bench["summaries"][0]["tasks"] >= 1
    assert "humaneval-single" in (out / "bench.txt").read_text()
    assert "## Bench" in (out / "MODEL_CARD.md").read_text()

    model_dir = outbox.unpack_model(sorted(out.glob("model*.tar")), tmp_path / "model")
    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}  # noqa: SIM118
    notes = json.loads((model_dir / "dglsp.json").read_text())
    assert notes["steps"] == train["steps"] and notes["train"]["config"]["batch_size"] == 4
    model = load_model(model_dir)
    assert next(model.denoiser.model.parameters()).dtype == torch.float32
    result = Engine(model).fill(FillRequest(prefix="def double(x):\n    return ", suffix="\n", max_tokens=8))
    assert result.steps >= 1 and len(result.fills) == 1


def test_the_transformers_floor_is_the_one_the_package_asks_for():
    assert f'"transformers>={carry.TRANSFORMERS_FLOOR},' in (REPO / "pyproject.toml").read_text()


def test_without_the_carried_wheels_the_round_says_what_to_do_in_its_first_seconds(tmp_path, gpu_like_python):
    out = tmp_path / "out"
    done = in_gpu_like_venv(gpu_like_python, ["train", "--round", "--out", str(out), "--quiet"], [REPO])
    assert done.returncode == 2, done.stdout + done.stderr
    state = record(out)
    assert state["status"] == "failed" and state["stage"] == "check"
    assert f"older than the {carry.TRANSFORMERS_FLOOR} dglsp needs" in state["error"]
    assert "--prepare-gpu" in state["fix"]
    assert "what to do" in done.stdout


Case = namedtuple("Case", "args error")


def truncated_model(tmp: Path) -> Path:
    model = tmp / "broken"
    shutil.copytree(DEFAULT_MODEL_DIR, model)
    with open(model / "model.safetensors", "r+b") as f:
        f.truncate(1000)
    return model


@pytest.mark.parametrize(
    "case",
    [
        Case(lambda tmp, corpus, dg: ["--corpus", str(tmp / "missing")], "corpus directory not found"),
        Case(lambda tmp, corpus, dg: ["--corpus", str((tmp / "empty").mkdir() or tmp / "empty")], "no Python files"),
        Case(lambda tmp, corpus, dg: ["--corpus", str(corpus), "--resume", str(dg)], "not exported by `dglsp train`"),
        Case(lambda tmp, corpus, dg: ["--resume", str(truncated_model(tmp))], "does not load"),
        Case(lambda tmp, corpus, dg: ["--corpus", str(corpus), "--deadline-minutes", "0.01"], "no time left to train"),
    ],
    ids=["missing corpus", "empty corpus", "not a dglsp model", "damaged model", "no time to train"],
)
def test_a_round_that_cannot_do_its_job_says_why_and_what_to_do(tmp_path, corpus, dg_dir, capsys, case):
    out = tmp_path / "out"
    args = ["train", "--round", "--rehearse", "--out", str(out), "--work", str(tmp_path / "work"), "--quiet"]
    assert main([*args, *case.args(tmp_path, corpus, dg_dir)]) == 2
    state = record(out)
    assert state["status"] == "failed" and case.error in state["error"] and state["fix"]
    assert case.error in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_asked_for_and_absent_fails_at_once(tmp_path, capsys):
    assert main(["train", "--round", "--out", str(tmp_path), "--device", "cuda", "--quiet"]) == 2
    assert "CUDA" in record(tmp_path)["error"] and record(tmp_path)["stage"] == "check"


def test_too_little_disk_for_the_packed_corpus_fails_before_packing(tmp_path, corpus, monkeypatch):
    import dglsp.cli.train_round as train_round

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(train_round.shutil, "disk_usage", lambda path: usage._replace(free=1 << 20))
    out = tmp_path / "out"
    assert main(["train", "--round", "--rehearse", "--corpus", str(corpus), "--out", str(out), "--quiet"]) == 2
    assert "free in" in record(out)["error"] and "--work" in record(out)["fix"]


def test_an_out_folder_holding_other_files_is_refused_untouched(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "--round", "--rehearse", "--out", str(tmp_path), "--quiet"]) == 2
    assert "use an empty --out" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_round_that_breaks_after_training_leaves_its_model_and_says_where(tmp_path, corpus, monkeypatch):
    import dglsp.cli.train_round as train_round

    def broken_bench(*args):
        raise RuntimeError("the bench broke")

    monkeypatch.setattr(train_round, "_bench", broken_bench)
    out = tmp_path / "out"
    argv = ["train", "--round", "--rehearse", "--corpus", str(corpus), "--out", str(out), "--minutes", "0.02"]
    with pytest.raises(RuntimeError, match="the bench broke"):
        main([*argv, "--work", str(tmp_path / "work"), "--quiet"])
    state = record(out)
    assert state["status"] == "failed" and state["stage"] == "bench" and "the bench broke" in state["error"]
    model = load_model(outbox.unpack_model([out / "model.tar"], tmp_path / "model"))
    assert json.loads((model.path / "dglsp.json").read_text())["steps"] == state["train"]["steps"]
