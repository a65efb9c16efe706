"""`dglsp train --ship MODEL --bench NEW --against OLD`: the ship rule, applied by a command, not by eye.

A model replaces the shipped one only when the full `dglsp bench --suite humaneval-single` (every task, no
--limit) of MODEL scores a higher pass@1 than that of the shipped model, with a parse rate no lower. Then its
files replace the shipped directory's, both bench tables go into its model card, and its bench's calibrated
confidence threshold into its dglsp.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..models.base import ModelError
from ..models.loader import DEFAULT_MODEL_DIR, check_model_dir, write_threshold
from .options import CliError

SUITE = "humaneval-single"
CONFIG = "default"  # the sampler the model ships with
CURVE = "coverage_precision.png"  # the bench's plot of the confidence gate, kept beside the model it calibrated


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ship a trained model: the full bench decides")
    group.add_argument("--ship", type=Path, metavar="MODEL", help="the model directory to ship (an unpacked round)")
    group.add_argument("--bench", type=Path, metavar="DIR", help=f"`dglsp bench --suite {SUITE} --model MODEL` output")
    group.add_argument("--against", type=Path, metavar="DIR", help="the same bench of the shipped model")
    # The directory shipped to is --export (default: dglsp/models/default).


@dataclass(frozen=True)
class Score:
    model: Path
    tasks: int
    pass_at_1: float
    parses: float
    report: str
    calibration: dict | None = None  # the `default` config's confidence calibration, from a bench that has one


def score(bench_dir: Path) -> Score:
    """The `default` row of a full humaneval-single run, refusing partial or other runs."""
    try:
        data = json.loads((bench_dir / "results.json").read_text(encoding="utf-8"))
        report = (bench_dir / "report.txt").read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise CliError(f"{bench_dir}: not a dglsp bench output ({exc})") from exc
    settings = data["settings"]
    row = next((s for s in data["summaries"] if s["config"] == CONFIG), None)
    full = settings.get("limit") is None and settings.get("tasks_run", settings["tasks"]) == settings["tasks"]
    if settings["suite"] != SUITE or row is None or not full or row["tasks"] != settings["tasks"]:
        raise CliError(
            f"{bench_dir}: the rule needs a full `dglsp bench --suite {SUITE}` with the `{CONFIG}` config "
            f"(every task, no --limit or --stop-after); this one is {settings['suite']}, {row and row['tasks']} tasks"
        )
    calibration = (settings.get("calibration") or {}).get(CONFIG)
    model = Path(settings["model"]["path"]).resolve()
    return Score(model, row["tasks"], row["pass_at_1"], row["parses"], report, calibration)


def run(args: argparse.Namespace) -> int:
    if args.bench is None or args.against is None:
        raise CliError("--ship needs --bench (the new model's full bench) and --against (the shipped model's)")
    model, target = args.ship.resolve(), (args.export or DEFAULT_MODEL_DIR).resolve()
    try:
        check_model_dir(model)
        check_model_dir(target)  # its files are about to be replaced: it must be a model directory
    except ModelError as exc:
        raise CliError(str(exc)) from exc
    if model == target:
        raise CliError(f"{model} is already the shipped model")
    new, old = score(args.bench), score(args.against)
    for name, s, path in (("--bench", new, model), ("--against", old, target)):
        if s.model != path:
            raise CliError(f"{name} benched {s.model}, not {path}")
    if new.tasks != old.tasks:
        raise CliError(f"the two benches ran {new.tasks} and {old.tasks} tasks: run both in full")
    print(f"{'':10} {'pass@1':>7} {'parses':>7}\nshipped    {old.pass_at_1:7.1%} {old.parses:7.1%}")
    print(f"candidate  {new.pass_at_1:7.1%} {new.parses:7.1%}")
    if not (new.pass_at_1 > old.pass_at_1 and new.parses >= old.parses):
        print("not shipped: the rule wants a higher pass@1 and a parse rate no lower")
        return 1
    for stale in target.iterdir():
        if stale.is_file():
            stale.unlink()
    for path in model.iterdir():
        shutil.copy(path, target / path.name)
    card = target / "MODEL_CARD.md"
    text = card.read_text(encoding="utf-8") if card.exists() else ""
    text += f"\n## Shipped by the full {SUITE} bench\n\nThis model:\n\n```\n{new.report.rstrip()}\n```\n"
    text += f"\nThe model it replaced:\n\n```\n{old.report.rstrip()}\n```\n"
    card.write_text(text, encoding="utf-8")
    if new.calibration is not None:  # its own bench calibrates the shipped model's confidence gate
        fields = {k: v for k, v in new.calibration.items() if k != "curve"}
        write_threshold(target, fields, SUITE)
        curve = args.bench / CURVE
        if curve.exists():
            shutil.copy(curve, target / CURVE)
        print(f"confidence threshold {new.calibration['threshold']:.4f}, from its bench")
    print(f"shipped: {model} -> {target}")
    return 0
