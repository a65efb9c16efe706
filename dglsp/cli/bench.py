"""Measure dglsp: `--suite engine-speed` times prefill, decoder steps and the prefix cache."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ..bench.engine_speed import measure
from ..models.blank import SIZES, make_blank_model
from .options import add_model_flags, load

SUITES = ("engine-speed",)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", choices=SUITES, default="engine-speed")
    parser.add_argument("--size", choices=sorted(SIZES), help="time an untrained model of this size instead")
    parser.add_argument("--prefix-tokens", type=int, default=512)
    parser.add_argument("--suffix-tokens", type=int, default=64)
    parser.add_argument("--canvas", default="32,64", help="canvas sizes, comma-separated")
    parser.add_argument("--steps", type=int, default=16, help="denoising steps per timed fill")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", metavar="FILE", help="also write the numbers as JSON")
    add_model_flags(parser)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="dglsp-bench-") as tmp:
        if args.size:
            args.model = str(make_blank_model(Path(tmp) / args.size, size=args.size))
        model = load(args)
        report = measure(
            model,
            prefix_tokens=args.prefix_tokens,
            suffix_tokens=args.suffix_tokens,
            canvases=tuple(int(c) for c in args.canvas.split(",")),
            steps=args.steps,
            repeats=args.repeats,
        )
    print(report.table())
    if args.out:
        payload = {"model": report.model, "prefix_tokens": report.prefix_tokens, "rows": dict(report.rows)}
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0
