"""Measure dglsp: `--suite engine-speed` times the engine; `--suite humaneval-*` scores infilling and its speed."""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .. import __version__
from ..bench import calibration
from ..bench.calibration import PRECISION_TARGET
from ..bench.engine_speed import measure
from ..bench.humaneval_tasks import SUITES as HUMANEVAL_SUITES
from ..bench.humaneval_tasks import build_tasks
from ..bench.infill_report import table, write_json, write_plot
from ..bench.infill_run import BUDGETS, MODEL_FREE, DiffusionFiller, Filler, ModelFreeFiller, run_tasks
from ..engine.engine import Engine
from ..engine.types import parse_config
from ..models.base import DECODERS, ModelError
from ..models.blank import SIZES, make_blank_model
from ..models.loader import write_threshold
from ..report.plots import save_plot
from .options import CliError, add_model_flags, load

SUITES = ("engine-speed", "typing", "gpu-shape", "serve", *HUMANEVAL_SUITES)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", choices=SUITES, default="engine-speed")
    parser.add_argument("--size", choices=sorted(SIZES), help="use an untrained model of this size instead")
    parser.add_argument("--out", metavar="DIR", help="write the report files here (humaneval: default runs/...)")
    speed = parser.add_argument_group("engine-speed")
    speed.add_argument("--prefix-tokens", type=int, default=512)
    speed.add_argument("--suffix-tokens", type=int, default=64)
    speed.add_argument("--canvas", default="32,64", help="canvas sizes, comma-separated")
    speed.add_argument("--steps", type=int, default=16, help="denoising steps per timed fill")
    speed.add_argument("--repeats", type=int, default=10)
    speed.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    speed.add_argument(
        "--profile", action="store_true", help="also show where a decoder step's time goes, by kind of operator"
    )
    speed.add_argument(
        "--backends",
        metavar="LIST",
        help="compare decoder steps side by side, each DECODER[:DTYPE][+slots] (e.g. dynamic,lean,lean:bfloat16,"
        "compiled): prefill, decoder step and a warm fill at --steps, timed in turn, with each one's logits against "
        "the first's; +slots times the step of a model that conditions its slots only (its logits are not this "
        "model's)",
    )
    _add_typing_args(parser)
    shape = parser.add_argument_group("gpu-shape: DiffusionGemma 26B-A4B's shape, random weights, vs autoregressive")
    shape.add_argument(
        "--gpu-shape",
        nargs="?",
        const="26b-a4b",
        choices=["26b-a4b", "tiny"],
        help="run this suite at this shape (default 26b-a4b; tiny runs anywhere and checks the bench)",
    )
    shape.add_argument("--prefills", default="2048,8192", help="prompt lengths to time the encoder on")
    shape.add_argument("--canvases", default="256,32,64", help="decoder canvases; all but the largest pin a suffix")
    shape.add_argument("--decoders", default=",".join(DECODERS), help="decoder step modes to compare")
    shape.add_argument("--ar-tokens", type=int, default=128, help="tokens the autoregressive baseline decodes")
    stress = parser.add_argument_group("stress: fuzz, heavy documents and a soak against the real server")
    stress.add_argument("--stress", action="store_true", help="run this suite (prints the figures; exit 1 on a defect)")
    stress.add_argument("--fuzz-cases", type=int, default=3000, help="hypothesis-generated message sequences")
    stress.add_argument(
        "--soak-requests",
        type=int,
        default=100_000,
        help="mixed requests in the soak (with --size tiny: about an hour)",
    )
    stress.add_argument("--minutes", type=float, default=120.0, help="time bound of the soak")
    served = parser.add_argument_group("serve: concurrent clients of `dglsp serve-model` on a local Ray cluster")
    served.add_argument("--clients", type=int, default=8, help="clients sending at once (default 8)")
    served.add_argument("--max-batch", type=int, default=8, help="most requests denoised together (default 8)")
    served.add_argument("--pairs", type=int, default=16, help="requests timed remote vs local, side by side")
    _add_infill_args(parser)
    add_model_flags(parser)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="dglsp-bench-") as tmp:
        if args.size:
            args.model = str(make_blank_model(Path(tmp) / args.size, size=args.size))
        if args.stress:
            return _stress(args)
        if args.gpu_shape or args.suite == "gpu-shape":
            return _gpu_shape(args)
        if args.suite == "engine-speed":
            return _engine_speed(args)
        if args.suite == "typing":
            return _typing(args)
        if args.suite == "serve":
            from .bench_serve import run_serve

            return run_serve(args)
        return _humaneval(args)


def _engine_speed(args: argparse.Namespace) -> int:
    if args.threads < 0:
        raise CliError("--threads must be at least 0")
    if args.threads:
        torch.set_num_threads(args.threads)  # on this thread, which runs the model (OpenMP counts per thread)
    if args.backends:
        return _compare_backends(args)
    model = load(args)
    report = measure(
        model,
        prefix_tokens=args.prefix_tokens,
        suffix_tokens=args.suffix_tokens,
        canvases=tuple(int(c) for c in args.canvas.split(",")),
        steps=args.steps,
        repeats=args.repeats,
        profile=args.profile,
    )
    print(report.table())
    payload = {"model": report.model, "prefix_tokens": report.prefix_tokens, "rows": dict(report.rows)}
    if report.profile is not None:
        payload["profile"] = asdict(report.profile)
    _write_report(args, "engine-speed.json", payload)
    return 0


def _write_report(args: argparse.Namespace, name: str, payload: dict) -> None:
    """The suite's figures as JSON in --out, when given."""
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _add_infill_args(parser: argparse.ArgumentParser) -> None:
    infill = parser.add_argument_group("humaneval-single | humaneval-multi | humaneval-span")
    infill.add_argument("--limit", type=int, help="run N tasks spread evenly over the suite")
    infill.add_argument("--seed", type=int, default=0, help="sampler seed, and the random spans' seed")
    infill.add_argument(
        "--configs",
        nargs="+",
        default=["default", "sequential"],
        metavar="CONFIG",
        help="sampler configurations side by side: default, sequential (one token per step), "
        "key=value,... (e.g. entropy_bound=0.3,max_steps=16), or, needing no model, oracle (the reference "
        "middles: checks the harness) and empty (fills nothing: the floor)",
    )
    infill.add_argument(
        "--lsp",
        action="store_true",
        help="fill through the real server (`dglsp --stdio`) as an editor does, timing each request end to end",
    )
    infill.add_argument("--ar-baseline", metavar="DIR", help="also run this autoregressive FIM model")
    infill.add_argument(
        "--precision",
        type=float,
        default=PRECISION_TARGET,
        help="the precision (pass@1 among suggestions shown) the calibrated confidence threshold must reach "
        f"(default {PRECISION_TARGET})",
    )
    infill.add_argument(
        "--calibrate",
        action="store_true",
        help="write the `default` config's calibrated threshold into the model directory's dglsp.json",
    )
    infill.add_argument("--max-tokens", type=int, help=f"token budget per fill (default {BUDGETS})")
    infill.add_argument("--jobs", type=int, default=2, help="test processes running at once")
    infill.add_argument("--timeout", type=float, default=5.0, help="seconds per test run")
    infill.add_argument("--quiet", action="store_true", help="no progress bar")
    infill.add_argument(
        "--stop-after",
        type=float,
        metavar="SECONDS",
        help="start no task after this long; the report counts the tasks that ran (a time-boxed run)",
    )


def _add_typing_args(parser: argparse.ArgumentParser) -> None:
    typing = parser.add_argument_group("typing: a file's lines typed again, a suggestion asked at each keystroke")
    typing.add_argument("--file", metavar="PATH", help="the file to retype lines of (default: textwrap.py)")
    typing.add_argument("--lines", type=int, default=6, help="how many lines to type (default 6)")
    typing.add_argument("--first-line", type=int, help="1-based first line (default: a definition a third in)")
    typing.add_argument(
        "--sampler", default="default", metavar="SPEC", help="the model's sampler, or key=value,... over it"
    )


def _typing(args: argparse.Namespace) -> int:
    from ..bench.typing_replay import DEFAULT_FILE, replay
    from ..server.settings import Settings

    if args.lines < 1 or (args.first_line is not None and args.first_line < 1):
        raise CliError("--lines and --first-line must be at least 1")
    path = Path(args.file) if args.file else DEFAULT_FILE
    if not path.is_file():
        raise CliError(f"no file {path}")
    engine = Engine(load(args))
    floor = engine.min_confidence
    try:
        # An automatic request, as the server makes it: given up on when it cannot reach the threshold.
        _, sampler = parse_config(args.sampler, engine.sampler.with_overrides(give_up=floor))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    first = None if args.first_line is None else args.first_line - 1
    defaults = Settings()  # the server's budgets, so a replayed keystroke asks what an editor's would
    budgets = (defaults.line_tokens, defaults.max_tokens)
    report = replay(engine, sampler, budgets, path, args.lines, first, progress=not args.quiet, floor=floor)
    info, s = engine.model.info, sampler
    print(
        f"{info['family']} ({info.get('decoder')} step), max_steps {s.max_steps}, stop_on {s.stop_on}, "
        f"give_up {s.give_up:g}"
    )
    print(report.table())
    _write_report(args, "typing.json", {"summary": report.summary(), **asdict(report)})
    return 0


def _compare_backends(args: argparse.Namespace) -> int:
    from ..bench.engine_speed import compare_backends

    models, dtype_asked = {}, args.dtype
    for backend in args.backends.split(","):
        spec, slots, _ = backend.partition("+slots")
        decoder, _, dtype = spec.partition(":")
        args.decoder, args.dtype = decoder, dtype or dtype_asked
        models[backend] = load(args)
        if slots:  # the cost of a step for a model trained to condition its slots only (not this model's logits)
            models[backend].denoiser.slots_only = True
    report = compare_backends(
        models,
        prefix_tokens=args.prefix_tokens,
        suffix_tokens=args.suffix_tokens,
        canvas=int(args.canvas.split(",")[0]),
        steps=args.steps,
        repeats=args.repeats,
    )
    print(report.table())
    _write_report(args, "engine-backends.json", asdict(report))
    return 0


def _gpu_shape(args: argparse.Namespace) -> int:
    from ..bench.gpu_shape import measure
    from ..models.loader import pick_device, pick_dtype

    try:
        device = pick_device(args.device)
        report = measure(
            shape=args.gpu_shape or "26b-a4b",
            device=str(device),
            dtype=pick_dtype(args.dtype, device),
            prefills=_ints(args.prefills, "--prefills"),
            canvases=_ints(args.canvases, "--canvases"),
            decoders=tuple(args.decoders.split(",")),
            ar_tokens=args.ar_tokens,
            repeats=args.repeats,
        )
    except ModelError as exc:
        raise CliError(str(exc)) from exc
    except torch.OutOfMemoryError as exc:
        raise CliError(f"out of GPU memory at this shape: {str(exc).splitlines()[0]}") from exc
    print(report.table())
    _write_report(args, "gpu-shape.json", {"header": report.header, "rows": [asdict(r) for r in report.rows]})
    return 0


def _stress(args: argparse.Namespace) -> int:
    from ..bench import stress
    from ..models.loader import resolve_model_path

    if args.fuzz_cases < 0 or args.soak_requests < 0 or args.minutes <= 0:
        raise CliError("--fuzz-cases and --soak-requests must be at least 0, --minutes above 0")
    # Short fills keep the soak about the server, not about the model's speed.
    options = {"model": str(resolve_model_path(args.model)), "device": args.device, "sampler": {"max_steps": 8}}
    phases = []
    if args.fuzz_cases:
        phases.append(stress.fuzz(options, args.fuzz_cases, seed=args.seed))
    phases.append(stress.heavy(options))
    if args.soak_requests:
        phases.append(stress.soak(options, args.soak_requests, args.minutes, seed=args.seed))
    report = stress.table(phases)
    soaked = next((p.summary() for p in phases if p.name == "soak"), {})
    if "rss_slope_mb_per_1000" in soaked:
        report += (
            f"\nsoak RSS slope after warm-up: {soaked['rss_slope_mb_per_1000']:+.3f} MB per 1,000 requests "
            "(a linear fit over the second half of the run)"
        )
    print(report)
    out = Path(args.out or f"runs/stress-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    payload = [
        {**p.summary(), "notes": p.notes, "rss_mb": p.rss_mb, "footprints": p.footprints, "latencies": p.latencies}
        for p in phases
    ]
    (out / "stress.json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    plotted = stress.plot(phases, out / "soak.png")
    print(f"\nwrote {out}/report.txt, stress.json" + (", soak.png" if plotted else ""))
    return 1 if any(p.crashes or p.hangs or p.errors for p in phases) else 0


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise CliError(f"{flag} wants positive integers separated by commas, got {text!r}")
    return values


def _header(args, tasks: int, ran: int, budget: int, model_info: dict, device: str, lsp: bool) -> str:
    if lsp:
        what = f"dglsp --stdio end to end, {model_info['path']} on {model_info['device']}, the server's own budgets"
    elif model_info:
        what = f"{model_info['family']} {model_info['parameters'] / 1e6:.1f}M params, {model_info['dtype']} on {device}"
    else:
        what = "no model"
    count = f"{ran} of {tasks} tasks (stopped after {args.stop_after:g} s)" if ran < tasks else f"{ran} tasks"
    return f"{args.suite}: {count}, {what}, budget {budget} tokens, seed {args.seed}"


def _humaneval(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise CliError("--limit must be at least 1")
    if args.jobs < 1 or args.timeout <= 0:
        raise CliError("--jobs must be at least 1 and --timeout above 0")
    if args.stop_after is not None and args.stop_after <= 0:
        raise CliError("--stop-after must be above 0 seconds")
    if not 0 < args.precision <= 1:
        raise CliError("--precision must be above 0 and at most 1")
    if args.calibrate and (args.size or args.lsp or "default" not in args.configs):
        raise CliError("--calibrate writes the `default` config's threshold into the model: not with --size or --lsp")
    deadline = time.monotonic() + args.stop_after if args.stop_after else None
    try:
        tasks = build_tasks(args.suite, seed=args.seed, limit=args.limit)
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc
    fillers, model_info, ar_info, device = _fillers(args)
    budget = args.max_tokens or BUDGETS[args.suite]

    try:
        results, summaries = run_tasks(
            tasks,
            fillers,
            max_tokens=budget,
            jobs=args.jobs,
            timeout=args.timeout,
            device=device,
            progress=not args.quiet,
            deadline=deadline,
        )
    finally:
        for filler in fillers:
            if filler.name == "lsp":
                filler.close()
    lsp = next((f for f in fillers if f.name == "lsp"), None)
    if lsp is not None:
        model_info = {"path": lsp.model["path"], "device": lsp.model["device"], "via": "dglsp --stdio"}

    out = Path(args.out or f"runs/{args.suite}-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    ran = max(s.tasks for s in summaries)
    header = _header(args, len(tasks), ran, budget, model_info, device, lsp is not None)
    settings = {
        "suite": args.suite,
        "tasks": len(tasks),
        "tasks_run": ran,
        "limit": args.limit,
        "seed": args.seed,
        "max_tokens": budget,
        "timeout_s": args.timeout,
        "jobs": args.jobs,
        "configs": {f.name: asdict(f.sampler) if isinstance(f, DiffusionFiller) else None for f in fillers},
        "model": model_info,
        "ar_baseline": ar_info,
        "threads": torch.get_num_threads(),
        "dglsp": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    calibrations = _calibrations(results, summaries, args.precision)
    report = table(header, summaries)
    if calibrations:
        report += "\n\n" + calibration.table(calibrations)
    print(report)
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    settings["calibration"] = {c.config: c.summary() for c in calibrations}
    write_json(out / "results.json", settings, summaries, results)
    plotted = write_plot(out / "pass_vs_speed.png", header, summaries)
    plot = ", pass_vs_speed.png" if plotted else " (no plot: matplotlib is not installed)"
    plot += _plot_calibrations(out / "coverage_precision.png", header, calibrations)
    print(f"\nwrote {out}/report.txt, results.json{plot}")
    if args.calibrate:
        chosen = next(c for c in calibrations if c.config == "default")
        notes = write_threshold(Path(model_info["path"]), chosen.record(), args.suite)
        print(f"calibrated: confidence threshold {chosen.threshold:.4f} written to {notes}")
    return 0


def _plot_calibrations(path: Path, header: str, calibrations: list[calibration.Calibration]) -> str:
    """The coverage/precision curves as a PNG: its name for the `wrote` line, or "" when there is none."""
    drawn = calibrations and save_plot(
        path, lambda ax: calibration.draw(ax, header, calibrations), figsize=(8, 4.8), dpi=120
    )
    return f", {path.name}" if drawn else ""


def _calibrations(results, summaries, target: float) -> list[calibration.Calibration]:
    """A calibration per configuration whose every fill has a confidence score."""
    out = []
    for s in summaries:
        mine = [r for r in results if r.config == s.config]
        if mine and all(r.confidence is not None for r in mine):
            out.append(calibration.calibrate(s.config, [(r.confidence, r.passed) for r in mine], target))
    return out


def _fillers(args: argparse.Namespace) -> tuple[list[Filler], dict, dict, str]:
    """The configurations to run, side by side: (fillers, model info, AR baseline info, device)."""
    fillers: list[Filler] = []
    model_info: dict = {}
    device = "cpu"
    diffusion = [c for c in dict.fromkeys(args.configs) if c not in MODEL_FREE]
    if args.lsp:
        from ..bench.lsp_filler import LspFiller
        from ..models.loader import resolve_model_path

        options = {"model": str(resolve_model_path(args.model)), "device": args.device, "dtype": args.dtype}
        fillers.append(LspFiller("lsp", options))
        diffusion = []
    if diffusion:
        model = load(args)
        engine = Engine(model)
        model_info, device = {"path": str(model.path), **model.info}, model.info["device"]
        for spec in diffusion:
            try:
                name, sampler = parse_config(spec, engine.sampler.with_overrides(seed=args.seed))
            except ValueError as exc:
                raise CliError(str(exc)) from exc
            fillers.append(DiffusionFiller(name, engine, sampler))
    fillers[:0] = [ModelFreeFiller(c) for c in dict.fromkeys(args.configs) if c in MODEL_FREE]
    ar_info: dict = {}
    if args.ar_baseline:
        from ..bench.ar_baseline import ArFiller

        try:
            ar = ArFiller.load(args.ar_baseline, device=args.device, dtype=args.dtype)
        except ModelError as exc:
            raise CliError(str(exc)) from exc
        fillers.append(ar)
        ar_info, device = {"path": args.ar_baseline, "parameters": ar.parameters}, str(ar.device)
    return fillers, model_info, ar_info, device
