"""`dglsp train --ship`: a model replaces the shipped one only when the full bench says it is better."""

import json
import shutil
from pathlib import Path

import pytest

from dglsp.bench.calibration import calibrate
from dglsp.bench.infill_report import table, write_json
from dglsp.bench.infill_run import ConfigSummary
from dglsp.cli import main

TASKS = 1033


@pytest.fixture
def models(tmp_path, dg_dir) -> tuple[Path, Path]:
    shipped, candidate = tmp_path / "shipped", tmp_path / "candidate"
    shutil.copytree(dg_dir, shipped)
    shutil.copytree(dg_dir, candidate)
    (candidate / "dglsp.json").write_text(json.dumps({"layout": "infill", "trained": True, "steps": 5000}))
    return shipped, candidate


def bench(out: Path, model: Path, pass_at_1: float, parses: float, tasks: int = TASKS, limit=None) -> Path:
    """A bench output as `dglsp bench --suite humaneval-single` writes it (its own writers)."""
    summary = ConfigSummary("default", tasks, pass_at_1, 0.0, parses, 1, 1, 1, 1, 4.0, 2.0, 100.0, 500)
    # Its confidence calibration: the passing tasks score above the failing ones.
    passing = round(pass_at_1 * tasks)
    scored = [(0.95, True)] * passing + [(0.4, False)] * (tasks - passing)
    calibration = {"default": calibrate("default", scored).summary()}
    settings = {"suite": "humaneval-single", "tasks": TASKS, "tasks_run": tasks, "limit": limit,
                "model": {"path": str(model)}, "calibration": calibration}  # fmt: skip
    out.mkdir()
    write_json(out / "results.json", settings, [summary], [])
    (out / "report.txt").write_text(table(f"humaneval-single: {tasks} tasks, {model.name}", [summary]) + "\n")
    return out


def ship(candidate, new, old, shipped) -> int:
    args = ["--ship", candidate, "--bench", new, "--against", old, "--export", shipped]
    return main(["train", *map(str, args)])


def test_a_better_model_ships_with_both_tables_in_its_card(tmp_path, models, capsys):
    shipped, candidate = models
    new, old = bench(tmp_path / "new", candidate, 0.12, 0.6), bench(tmp_path / "old", shipped, 0.0, 0.12)
    assert ship(candidate, new, old, shipped) == 0
    notes = json.loads((shipped / "dglsp.json").read_text())
    assert notes["steps"] == 5000
    # Its own bench calibrated its confidence gate: the lowest score that passing fills had.
    assert notes["confidence"]["threshold"] == 0.95 and notes["confidence"]["met"]
    assert notes["confidence"]["tasks"] == TASKS and "curve" not in notes["confidence"]
    assert (shipped / "model.safetensors").read_bytes() == (candidate / "model.safetensors").read_bytes()
    card = (shipped / "MODEL_CARD.md").read_text()
    assert "Shipped by the full humaneval-single bench" in card and "candidate" in card and "shipped" in card
    assert "shipped: " in capsys.readouterr().out


@pytest.mark.parametrize(("new_pass", "new_parses"), [(0.0, 0.9), (0.05, 0.1)], ids=["no better", "parses less"])
def test_a_model_the_rule_does_not_favour_is_not_shipped(tmp_path, models, capsys, new_pass, new_parses):
    shipped, candidate = models
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    new, old = bench(tmp_path / "new", candidate, new_pass, new_parses), bench(tmp_path / "old", shipped, 0.0, 0.12)
    assert ship(candidate, new, old, shipped) == 1
    assert "not shipped" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before


@pytest.mark.parametrize(
    ("kind", "message"),
    [("partial", "needs a full"), ("limited", "needs a full"), ("other model", "benched"), ("swapped", "benched")],
)
def test_a_bench_that_cannot_decide_is_refused(tmp_path, models, capsys, kind, message):
    shipped, candidate = models
    new_model, old_model = (shipped, candidate) if kind == "swapped" else (candidate, shipped)
    if kind == "other model":
        new_model = tmp_path / "elsewhere"
    new = bench(tmp_path / "new", new_model, 0.2, 0.9, tasks=300 if kind == "partial" else TASKS,
                limit=300 if kind == "limited" else None)  # fmt: skip
    old = bench(tmp_path / "old", old_model, 0.0, 0.1)
    assert ship(candidate, new, old, shipped) == 2
    assert message in capsys.readouterr().err
