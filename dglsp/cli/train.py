"""Train a DiffusionGemma for infilling on code (the shipped default model, or a fine-tune of it on yours).

Resumable: --resume continues from OUT/checkpoint exactly where the run stopped.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from ..bench.humaneval_tasks import canonical_solutions
from ..engine.types import SamplerConfig, parse_config
from ..models.loader import pick_device
from ..train.config import CONFIGS
from . import prepare_gpu, ship
from .options import CliError


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus",
        nargs="+",
        default=["stdlib", "site-packages"],
        metavar="SRC",
        help="stdlib, site-packages (permissive licences only) or directories (default: both)",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="run directory: data, log, checkpoint (with --round: what comes back)"
    )
    parser.add_argument(
        "--config", choices=sorted(CONFIGS), help="recipe (default: `default`; on --resume the run's own)"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        type=Path,
        const=True,
        metavar="CKPT",
        help="continue from CKPT (default: OUT/checkpoint)",
    )
    parser.add_argument("--init", type=Path, metavar="DIR", help="fine-tune this model instead of a fresh one")
    parser.add_argument("--minutes", type=float, help="stop after this much training (a checkpoint is saved)")
    parser.add_argument("--steps", type=int, help="stop at this step (counting the resumed ones); 0: only export")
    parser.add_argument("--batch-size", type=int, help="override the config's batch size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (cuda > cpu), cpu, cuda")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--export", type=Path, metavar="DIR", help="where to write the model (default: OUT/model)")
    parser.add_argument(
        "--bench-report",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a `dglsp bench` report.txt to put in the model card (repeatable)",
    )
    parser.add_argument(
        "--sampler",
        metavar="SPEC",
        help="sampler defaults to record in the model (key=value,... as `dglsp bench --configs`)",
    )
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--workers", type=int, metavar="N", help="processes building batches and packing the corpus (default 0)"
    )
    gpu = parser.add_argument_group("a GPU round: pack, resume the shipped model, train, export, bench, in one go")
    gpu.add_argument(
        "--round",
        action="store_true",
        help="the whole round, leaving in --out only what a rented GPU machine hands back (README: Training on a GPU)",
    )
    gpu.add_argument("--rehearse", action="store_true", help="the same round at toy scale on the CPU (about a minute)")
    gpu.add_argument("--deadline-minutes", type=float, metavar="M", help="the whole round ends in M minutes")
    gpu.add_argument("--work", type=Path, metavar="DIR", help="packed corpus and checkpoints (default: a temp dir)")
    gpu.add_argument("--bench-tasks", type=int, metavar="N", help="humaneval-single tasks to bench (default 300)")
    gpu.add_argument(
        "--data-speed",
        action="store_true",
        help="measure examples/s that 1 and --workers processes build from --corpus (no training)",
    )
    prepare_gpu.add_arguments(parser)
    ship.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.prepare_gpu:
        return prepare_gpu.run(args)
    if args.ship:
        return ship.run(args)
    if args.data_speed:
        return _data_speed(args)
    if args.out is None:
        raise CliError("--out DIR is required")
    if args.rehearse and not args.round:
        raise CliError("--rehearse rehearses a round: pass --round --rehearse")
    if args.round:
        from .train_round import run_round

        return run_round(args)
    return _train(args)


def _data_speed(args: argparse.Namespace) -> int:
    """Examples and tokens per second the batch workers deliver, per core: what feeds a GPU."""
    import tempfile
    import time

    from transformers import AutoTokenizer

    from ..models.loader import DEFAULT_MODEL_DIR
    from ..train.examples import ExampleMaker
    from ..train.loop import packed
    from ..train.pipeline import default_workers, examples_per_second

    config = CONFIGS[args.config or "round"]
    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory(prefix="dglsp-data-speed-") as tmp:
        started = time.monotonic()
        try:
            docs, valid = packed(
                Path(tmp), args.corpus, args.seed, args.quiet, workers=workers, held_out=canonical_solutions()
            )
        except FileNotFoundError as exc:
            raise CliError(str(exc)) from exc
        chars = (docs.cum[-1] + valid.cum[-1]) / 1e6
        print(f"packed {len(docs) + len(valid)} files, {chars:.0f}M characters, in {time.monotonic() - started:.1f} s")
        print(f"on {workers} processes; config {args.config or 'round'}: batch {config.batch_size}")
        tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
        maker = ExampleMaker(tokenizer, config, len(tokenizer))
        print("workers  examples/s  tokens/s    examples/s per worker")
        for n in sorted({1, workers}):
            examples, tokens = examples_per_second(maker, docs, n, seconds=args.minutes * 60 if args.minutes else 10)
            print(f"{n:7d}  {examples:10.0f}  {tokens:10.0f}  {examples / n:10.0f}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from ..train.card import model_card, write_plot
    from ..train.loop import CHECKPOINT, Trainer, TrainOptions

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "mps":
        device = torch.device("cpu")
    config = CONFIGS[args.config] if args.config else None
    resume = args.out / CHECKPOINT if args.resume is True else args.resume
    if args.sampler:
        try:
            parse_config(args.sampler, SamplerConfig())  # a typo must fail now, not after the training
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    for report in args.bench_report:
        if not report.is_file():
            raise CliError(f"no bench report at {report}")
    if resume is None and (args.out / CHECKPOINT).exists():
        raise CliError(f"{args.out} already holds a run: pass --resume to continue it, or another --out")
    if args.init is not None and not (args.init / "config.json").exists():
        raise CliError(f"--init {args.init}: not a model directory (no config.json)")
    options = TrainOptions(
        out=args.out,
        config=config,
        sources=args.corpus,
        resume=resume,
        init=args.init,
        minutes=args.minutes,
        steps=args.steps,
        seed=args.seed,
        batch_size=args.batch_size,
        device=str(device),
        quiet=args.quiet,
        workers=args.workers or 0,
        held_out=canonical_solutions(),
    )
    try:
        trainer = Trainer(options)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    state = trainer.run()
    if state.step:
        trainer.validate()
    sampler = None
    if args.sampler:
        base = SamplerConfig.from_generation_config(json.loads(trainer.model.generation_config.to_json_string()))
        sampler = parse_config(args.sampler, base)[1]
    plot = write_plot(args.out)
    card = model_card(trainer, args.bench_report, with_plot=plot is not None)
    path = trainer.export(args.export or args.out / "model", card, sampler)
    if plot:
        shutil.copy(plot, path / plot.name)
    print(
        f"step {state.step}, {state.tokens / 1e6:.2f}M tokens; model: {path}" + (f"; loss plot: {plot}" if plot else "")
    )
    return 0
