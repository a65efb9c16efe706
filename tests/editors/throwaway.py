"""A copy of this checkout with one more code action, added the way the contract says a newcomer adds one: a
module in dglsp/server/actions/ and an entry in dglsp/server/contract.py, then `dglsp describe --write-editors`.
Both editors' tests run their unchanged client code against the copy and must offer the action.

    python tests/editors/throwaway.py DIR   # makes DIR/dglsp, DIR/editors; prints DIR
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KIND, TITLE, VSCODE_COMMAND, VIM_COMMAND = "shout", "Shout selection", "dglsp.shoutSelection", "DglspShout"

MODULE = '''"""Upper-case the selection: a throwaway action, made by a test to show that editors pick up new actions."""

from __future__ import annotations

from ...syntax.gap import selection_gap
from ..fills import Edit
from . import ActionPlan, Job, Proposal, Site


def plan(site: Site) -> ActionPlan | None:
    if site.end <= site.start:
        return None
    gap = selection_gap(site.text, site.start, site.end, site.grammar, tree=site.tree, context_chars=site.context_chars)
    return ActionPlan("shout", "dglsp: Shout selection", gap)


def run(job: Job) -> Proposal:
    gap = job.plan.gap
    return Proposal([Edit(gap.start, gap.end, job.text[gap.start : gap.end].upper())], score=None, floor=0.0)
'''

ENTRY = f'''    Action(
        "{KIND}",
        "{VSCODE_COMMAND.removeprefix("dglsp.")}",
        "{VIM_COMMAND}",
        "{TITLE}",
        selection=True,
        context_menu=True,
        not_offered="select some code first",
    ),
)
'''


def make(dest: Path) -> Path:
    """DIR with a copy of the package (the shipped model linked, not copied) and of editors/, both regenerated."""
    ignore = shutil.ignore_patterns("__pycache__", "node_modules", "out", "*.vsix", "artifacts", "default")
    shutil.copytree(REPO / "dglsp", dest / "dglsp", ignore=ignore)
    (dest / "dglsp" / "models" / "default").symlink_to(REPO / "dglsp" / "models" / "default")
    shutil.copytree(REPO / "editors", dest / "editors", ignore=ignore, symlinks=True)
    modules = REPO / "editors" / "vscode" / "node_modules"
    if modules.is_dir():
        (dest / "editors" / "vscode" / "node_modules").symlink_to(modules)
    (dest / "dglsp" / "server" / "actions" / f"{KIND}.py").write_text(MODULE)
    contract = dest / "dglsp" / "server" / "contract.py"
    text = contract.read_text()
    end = text.index("\n)\n", text.index("ACTIONS = ("))
    contract.write_text(text[: end + 1] + ENTRY + text[end + 3 :])
    env = {**os.environ, "PYTHONPATH": str(dest)}
    subprocess.run(
        [sys.executable, "-m", "dglsp", "describe", "--write-editors", str(dest / "editors")],
        env=env,
        cwd=dest,
        check=True,
    )
    return dest


if __name__ == "__main__":
    print(make(Path(sys.argv[1]).resolve()))
