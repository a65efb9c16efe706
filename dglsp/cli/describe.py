"""Print what the server offers (settings, languages, code actions, commands) as JSON, or write the editors' files.

`dglsp describe` prints the description the server also answers to `dglsp/describe`. In a checkout,
`--write-editors editors` regenerates VS Code's package.json parts and contract.ts and the Neovim plugin's
contract.lua from it; `--check-editors editors` exits 1 when they differ (the tests run it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .options import CliError


def add_parser(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write-editors", type=Path, metavar="DIR", help="regenerate the editors' files under DIR")
    group.add_argument("--check-editors", type=Path, metavar="DIR", help="exit 1 if the files under DIR drifted")


def run(args: argparse.Namespace) -> int:
    from ..server.contract import describe
    from .editor_files import drifted, write

    target = args.write_editors or args.check_editors
    if target is None:
        json.dump(describe(), sys.stdout, indent=2)
        print()
        return 0
    if not (target / "vscode" / "package.json").is_file():
        raise CliError(f"{target} is not an editors/ folder (no vscode/package.json in it)", code=2)
    if args.write_editors:
        for rel in write(target):
            print(f"wrote {target / rel}")
        return 0
    stale = drifted(target)
    for rel in stale:
        print(f"{target / rel} differs from the server's description; run: dglsp describe --write-editors {target}")
    return 1 if stale else 0
