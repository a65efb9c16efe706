"""A real Emacs (28.2, Debian's eglot 1.9) drives `dglsp --stdio` headless: `completion-at-point` after `return `
inserts the model's fill, and M-x eglot-code-actions on a `...` runs "Fill 1 hole", which changes the hole and
nothing else. Emacs runs once (the model loads once); emacs/dglsp_session.el records what eglot showed and what
the buffers hold, and every JSON-RPC message that crossed the pipe; the checks here hold the buffers against the
files' own text and the server's own answers as they went over the wire, not against what the elisp says.

eglot's events buffer and the server's stderr are written to `events.txt` in the run's directory, pass or fail (the
failure messages give its path), and the messages as JSON lines to `wire.jsonl` beside it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_nvim import apply_edits, offset_of

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "emacs" / "dglsp_session.el"
DGLSP = Path(sys.executable).parent / "dglsp"

INLINE = "import math\n\n\ndef circle_area(radius):\n    return \n\n\nprint(circle_area(2.0))\n"
INLINE_CURSOR = INLINE.index("    return ") + len("    return ")
HOLES = "def area(r):\n    ...\n\n\nprint(area(2.0))\n"
HOLE = HOLES.index("...")


@dataclass
class Run:
    result: dict[str, Any]  # what dglsp_session.el recorded
    wire: list[dict[str, Any]]  # {"direction": "client" | "server" | "internal", "message": {...}}, in order
    events: Path

    def why(self) -> str:
        return f"(eglot's events and the server's stderr: {self.events})"

    def sent(self, method: str) -> list[dict[str, Any]]:
        """What eglot sent with this method, in order."""
        return [m["message"] for m in self.wire if m["direction"] == "client" and m["message"].get("method") == method]

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The server's reply to one of eglot's requests."""
        (reply,) = [
            m["message"]
            for m in self.wire
            if m["direction"] == "server" and "method" not in m["message"] and m["message"].get("id") == request["id"]
        ]
        return reply

    def server_requests(self, method: str) -> list[dict[str, Any]]:
        return [m["message"] for m in self.wire if m["direction"] == "server" and m["message"].get("method") == method]


def emacs_with_eglot() -> str:
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.skip("no emacs on PATH (apt-get install emacs-nox elpa-eglot)")
    probe = subprocess.run(
        [emacs, "--batch", "--eval", "(require 'eglot)"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"emacs has no eglot (apt-get install elpa-eglot): {probe.stderr.strip()[-300:]}")
    return emacs


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Run:
    emacs = emacs_with_eglot()  # before the model is made: a machine without Emacs skips at once
    dg_dir: Path = request.getfixturevalue("dg_dir")
    assert DGLSP.exists(), f"no {DGLSP}: install dglsp into this environment (pip install -e .)"
    work = tmp_path_factory.mktemp("emacs")
    (work / "inline.py").write_text(INLINE)
    (work / "holes.py").write_text(HOLES)
    out, wire, events = work / "result.json", work / "wire.jsonl", work / "events.txt"
    # Emacs's own state under a throw-away HOME; one torch thread for the server (the tiny model needs no more,
    # and OpenMP threads spinning against other processes on a small, busy machine make a 0.1 s fill take 30 s).
    env = {**os.environ, "HOME": str(work / "home"), "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"}
    (work / "home").mkdir()
    command = [emacs, "--batch", "-l", str(SCRIPT), str(out), str(wire), str(events), str(DGLSP), str(dg_dir)]
    try:
        # No stdin: a question eglot asks (which a test must never need) fails at once instead of waiting.
        proc = subprocess.run(
            [*command, str(work)],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired as exc:
        sent = wire.read_text(encoding="utf-8")[-6000:] if wire.exists() else "(no messages)"
        pytest.fail(f"emacs still ran after {exc.timeout} s; the last messages ({wire}):\n{sent}")
    recorded = Run(
        json.loads(out.read_text(encoding="utf-8")) if out.exists() else {},
        [json.loads(line) for line in wire.read_text(encoding="utf-8").splitlines()] if wire.exists() else [],
        events,
    )
    tail = events.read_text(encoding="utf-8", errors="replace")[-6000:] if events.exists() else "(no events written)"
    assert proc.returncode == 0, (
        f"emacs exited {proc.returncode}: {recorded.result.get('error')}\nstderr:\n{proc.stderr[-3000:]}\n"
        f"{recorded.why()}\n{tail}"
    )
    return recorded


def test_completion_at_point_inserts_the_models_fill_at_the_cursor_and_nothing_else(run: Run) -> None:
    """One candidate, the server's item; eglot replaces nothing and inserts exactly the item's text edit."""
    result, encoding = run.result, "utf-16"  # eglot 1.9 speaks UTF-16 only, and the server agreed to it
    assert run.answer(run.sent("initialize")[0])["result"]["capabilities"]["positionEncoding"] == encoding
    opened = [m["params"]["textDocument"] for m in run.sent("textDocument/didOpen")]
    assert opened[0]["uri"].endswith("/inline.py") and opened[0]["text"] == INLINE
    assert result["inline_before"] == INLINE and result["inline_cursor"] == INLINE_CURSOR
    (request,) = run.sent("textDocument/completion")  # one request: the candidates came from eglot's cache
    assert offset_of(INLINE, request["params"]["position"], encoding) == INLINE_CURSOR
    items = run.answer(request)["result"]["items"]
    assert len(items) == 1, f"{items} {run.why()}"
    (item,) = items
    edit = item["textEdit"]
    start, end = (offset_of(INLINE, edit["range"][side], encoding) for side in ("start", "end"))
    assert start == end == INLINE_CURSOR  # nothing after `return ` to replace: a pure insertion at the cursor
    fill = edit["newText"]
    assert fill.strip() and "\n" not in fill, f"the model's fill {fill!r} {run.why()}"
    # What the user is offered: the one fill (eglot shows the label, left-trimmed, and inserts the text edit).
    assert result["inline_candidates"] == [item["label"].lstrip(" \t\n\r")]
    assert result["inline_after"] == INLINE[:INLINE_CURSOR] + fill + INLINE[INLINE_CURSOR:], run.why()
    assert result["inline_point"] == INLINE_CURSOR + len(fill)  # point ends after the insertion
    assert result["stats"]["counts"]["completion"] == {"served": 1}  # one fill, by the model, not from a cache
    # The server was told of the insertion: eglot's changes, replayed on the file, give the buffer.
    server_text = INLINE
    for change in run.sent("textDocument/didChange"):
        assert change["params"]["textDocument"]["uri"].endswith("/inline.py")
        for content in change["params"]["contentChanges"]:
            server_text = apply_edits(server_text, [{"range": content["range"], "newText": content["text"]}], encoding)
    assert server_text == result["inline_after"]


def test_fill_one_hole_from_eglots_menu_changes_the_hole_and_nowhere_else(run: Run) -> None:
    """M-x eglot-code-actions on `...`: "Fill 1 hole" is offered and is the prompt's default, and running it
    (a command, then the server's workspace/applyEdit) replaces the `...` and leaves every other character."""
    result, encoding = run.result, "utf-16"
    assert result["holes_before"] == HOLES and result["holes_point"] == HOLE
    (listing,) = run.sent("textDocument/codeAction")
    assert listing["params"]["textDocument"]["uri"].endswith("/holes.py")
    # With no region, eglot sends python-mode's sexp at point, which on this `...` is the whole function.
    sent = [offset_of(HOLES, listing["params"]["range"][side], encoding) for side in ("start", "end")]
    assert sent == result["holes_region_bounds"] and HOLES[slice(*sent)] == "def area(r):\n    ...", sent
    titles = [action["title"] for action in run.answer(listing)["result"]]
    assert result["actions_titles"] == titles and "dglsp: Fill 1 hole" in titles
    # A range eglot guessed: filling the hole is RET's default, and rewriting the whole function is not offered.
    assert result["actions_default"] == "dglsp: Fill 1 hole"
    assert "dglsp: Rewrite selection" not in titles
    (command,) = run.sent("workspace/executeCommand")
    assert command["params"]["command"] == "dglsp.runAction"
    assert command["params"]["arguments"][0]["kind"] == "holes"
    (apply,) = run.server_requests("workspace/applyEdit")
    (change,) = apply["params"]["edit"]["documentChanges"]
    assert change["textDocument"]["uri"].endswith("/holes.py") and change["textDocument"]["version"] == 0
    (edit,) = change["edits"]
    start, end = (offset_of(HOLES, edit["range"][side], encoding) for side in ("start", "end"))
    assert (start, end) == (HOLE, HOLE + len("...")), f"the edit covers {HOLES[start:end]!r}, not the hole"
    fill = edit["newText"]
    assert fill.strip() and fill != "...", f"the model's fill {fill!r} {run.why()}"
    (applied,) = [m["message"] for m in run.wire if m["message"].get("id") == apply["id"] and "result" in m["message"]]
    assert applied["result"] == {"applied": True}, run.why()  # no "Proceed?" question: eglot applied it
    assert run.answer(command)["result"] == {"applied": True}
    after = result["holes_after"]
    assert after == apply_edits(HOLES, change["edits"], encoding), run.why()
    assert after == HOLES[:HOLE] + fill + HOLES[HOLE + len("...") :]  # the hole's text changed, and only it
    assert after.startswith("def area(r):\n    ") and after.endswith("\n\n\nprint(area(2.0))\n")
