"""Flags shared by the subcommands: which model, how to load it, how to sample."""

from __future__ import annotations

import argparse

from ..engine.engine import Engine
from ..engine.types import SamplerConfig
from ..models.base import DECODERS, LAYOUTS, QUANTIZE, ModelError
from ..models.loader import LoadedModel, LoadOptions, load_model


class CliError(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", metavar="DIR", help="model directory (default: $DGLSP_MODEL, then the shipped one)")
    group.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    group.add_argument("--dtype", default="auto", help="auto (bfloat16 on CUDA, else float32), float32, bfloat16")
    group.add_argument(
        "--quantize",
        choices=QUANTIZE,
        help="quantize the weights (CUDA only): fp8 (experts included), 4bit or 8bit (bitsandbytes)",
    )
    group.add_argument(
        "--decoder",
        choices=DECODERS,
        default="lean",
        help="DiffusionGemma decoder step: lean (dglsp's own, the default), transformers' forward with dynamic "
        "shapes, bucketed static shapes, or those under torch.compile (CUDA graphs on a GPU; each new bucket "
        "compiles once)",
    )
    group.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="override the model directory's layout (default: its dglsp.json, else FIM tokens give prompt, a chat "
        "template without them gives chat)",
    )
    group.add_argument("--allow-pickle", action="store_true", help="also load *.bin weights (can run code)")
    group.add_argument("--trust-remote-code", action="store_true", help="run Python code shipped with the model")


def add_sampler_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sampler (defaults: the model's generation_config.json)")
    group.add_argument("--steps", type=int, help="maximum denoising steps per canvas")
    group.add_argument("--entropy-bound", type=float, help="larger commits more tokens per step")
    group.add_argument("--temperature", metavar="T or TMAX:TMIN", help="constant, or a linear schedule")
    group.add_argument("--seed", type=int, help="random seed (same seed, same fill)")
    group.add_argument("--max-tokens", type=int, default=64, help="longest fill in tokens (default 64)")
    group.add_argument("--no-cache", action="store_true", help="re-encode the prefix every time")
    group.add_argument(
        "--context-tokens",
        type=int,
        default=0,
        help="tokens of code around the gap, canvas included (default 0: 2048 on a CPU, 8192 on a GPU; at most the "
        "model's positions)",
    )


def load(args: argparse.Namespace) -> LoadedModel:
    try:
        return load_model(args.model, LoadOptions.from_attributes(args))
    except ModelError as exc:
        raise CliError(str(exc)) from exc


def sampler_config(args: argparse.Namespace, base: SamplerConfig) -> SamplerConfig:
    t_max = t_min = None
    if args.temperature:
        try:
            values = [float(part) for part in args.temperature.split(":")]
        except ValueError:
            values = []
        if len(values) not in (1, 2):
            raise CliError(f"--temperature wants T or TMAX:TMIN, got {args.temperature!r}")
        t_max, t_min = values[0], values[-1]
    try:
        return base.with_overrides(
            max_steps=args.steps, entropy_bound=args.entropy_bound, t_max=t_max, t_min=t_min, seed=args.seed
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def engine(args: argparse.Namespace) -> Engine:
    model = load(args)
    if args.context_tokens < 0:
        raise CliError(f"--context-tokens must be 0 (the device's default) or more, got {args.context_tokens}")
    built = Engine(model, prefix_cache=not args.no_cache, context_tokens=args.context_tokens)
    built.sampler = sampler_config(args, built.sampler)
    return built
