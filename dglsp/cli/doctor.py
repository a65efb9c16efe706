"""Check the set-up: versions, devices, the model dglsp would use, and one timed fill."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata

import torch

from ..engine.engine import Engine
from ..engine.types import FillRequest
from ..models.base import ModelError
from ..models.loader import resolve_model_path
from ..models.weights import WeightKind, unquantized_note, weight_breakdown
from ..report.tables import render_table
from .options import CliError, add_model_flags, load

SMOKE = FillRequest(prefix="def add(a, b):\n    return ", suffix="\n\n\nprint(add(1, 2))\n", max_tokens=16)


def add_parser(parser: argparse.ArgumentParser) -> None:
    add_model_flags(parser)


def run(args: argparse.Namespace) -> int:
    say = print
    say(f"python        {platform.python_version()} ({sys.executable})")
    for package in ("dglsp", "torch", "transformers", "tokenizers", "safetensors"):
        try:
            say(f"{package:<13} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            say(f"{package:<13} not installed")
    say(f"devices       {', '.join(devices())}")
    try:
        say(f"model         {resolve_model_path(args.model)}")
    except ModelError as exc:
        raise CliError(str(exc), code=1) from exc
    try:
        model = load(args)
    except CliError as exc:
        raise CliError(f"the model does not load: {exc}", code=1) from exc
    info = model.info
    say(
        f"loaded        {info['family']} ({info['layout']} layout), "
        f"{info['parameters'] / 1e6:.1f}M parameters, "
        f"{info['dtype']} on {info['device']}, {info['bytes_on_disk'] / 1e6:.1f} MB on disk"
    )
    kinds = weight_breakdown(model.denoiser.model)
    for line in weight_table(kinds).splitlines():
        say(f"weights       {line}")
    note = unquantized_note(kinds, info["quantize"])
    if note:
        say(f"note          {note}")
    engine = Engine(model)
    try:
        engine.fill(SMOKE)  # the first call pays one-time costs; time the second
        result = engine.fill(SMOKE)
    except Exception as exc:
        raise CliError(f"a test fill failed: {type(exc).__name__}: {exc}", code=1) from exc
    say(
        f"test fill     {result.ms:.0f} ms, {result.steps} steps, {result.tokens} tokens, "
        f"stop: {result.stop}: {result.text!r}"
    )
    if result.confidence is not None:
        shown = "shown" if result.confidence.score >= engine.min_confidence else "not shown while typing"
        say(f"confidence    {result.confidence.score:.3f}, threshold {engine.min_confidence:.3f}: {shown}")
    say("ok")
    return 0


def weight_table(kinds: list[WeightKind]) -> str:
    rows = [["kind", "parameters", "MB", "dtype", "quantized"]]
    for k in kinds:
        rows.append(
            [
                k.kind,
                f"{k.parameters:,}",
                f"{k.bytes / 1e6:.1f}",
                "/".join(sorted(k.dtypes)),
                "yes" if k.quantized else "no",
            ]
        )
    total, size = sum(k.parameters for k in kinds), sum(k.bytes for k in kinds)
    rows.append(["total", f"{total:,}", f"{size / 1e6:.1f}", "", ""])
    return render_table(rows, "plain", "<>><<")


def devices() -> list[str]:
    found = []
    if torch.cuda.is_available():
        found += [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    found.append(f"cpu ({torch.get_num_threads()} threads)")
    return found
