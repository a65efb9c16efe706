"""`dglsp` command line: each subcommand lives in its own module; `serve` (`dglsp --stdio`) runs the server."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from . import bench, describe, doctor, fill, init_model, serve, serve_model, train
from .options import CliError

COMMANDS = {
    "serve": serve,
    "fill": fill,
    "doctor": doctor,
    "init-model": init_model,
    "bench": bench,
    "train": train,
    "describe": describe,
    "serve-model": serve_model,
}
# Editors start `dglsp --stdio` (or --tcp): those mean the language server.
SERVER_FLAGS = ("--stdio", "--tcp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dglsp", description="Fill code with a text-diffusion model.")
    parser.add_argument("--version", action="version", version=f"dglsp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_parser(sub.add_parser(name, help=module.__doc__.splitlines()[0], description=module.__doc__))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SERVER_FLAGS:
        argv = ["serve", *argv]
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args) or 0
    except CliError as exc:
        print(f"dglsp {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
