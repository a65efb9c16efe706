"""Make an untrained model directory (random weights) to try dglsp before a trained model is installed."""

from __future__ import annotations

import argparse

from ..models.blank import SIZES, make_blank_model


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write the model")
    parser.add_argument("--family", choices=["diffusion_gemma", "masked"], default="diffusion_gemma")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    path = make_blank_model(args.out, family=args.family, size=args.size, seed=args.seed)
    print(f"wrote an untrained {args.size} {args.family} model to {path} (random weights: fills are noise)")
    return 0
