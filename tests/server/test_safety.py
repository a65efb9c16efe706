"""Safe by default: no network at run time, and no buffer text in logs unless the user asks for debug."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dglsp.bench.wire import INLINE, Wire, inline_params

# Loaded before dglsp in the server process: every way out to the network fails, and each try is written down.
NETGUARD = """
import os, socket
def _refuse(*args, **kwargs):
    with open(os.environ["DGLSP_NET_LOG"], "a") as log:
        log.write(repr(args[1:] or args) + "\\n")
    raise OSError("network disabled by dglsp's test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""


@pytest.fixture
def guarded(tmp_path):
    (tmp_path / "netguard.py").write_text(NETGUARD)
    log = tmp_path / "net.log"
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DGLSP_NET_LOG": str(log),
    }
    return env, log


def test_the_guard_really_blocks_sockets(guarded):
    env, log = guarded
    probe = "import netguard, socket; socket.create_connection(('127.0.0.1', 9), timeout=1)"
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert "network disabled" in result.stderr and log.read_text()


def test_dglsp_loads_a_model_and_fills_with_no_network(guarded, dg_dir):
    env, log = guarded
    run = "import netguard, runpy, sys; sys.argv = ['dglsp', '--stdio']; runpy.run_module('dglsp', run_name='__main__')"
    w = Wire(command=[sys.executable, "-c", run], env=env)
    try:
        w.initialize({"model": str(dg_dir), "sampler": {"max_steps": 4}, "parseTrim": False})
        w.open("file:///n.py", "def add(a, b):\n    return ")
        answer = w.request(INLINE, inline_params("file:///n.py", 1, 11), timeout=120)
        assert answer["result"]["items"], answer
        assert w.request("dglsp/stats")["result"]["model"]["state"] == "ready"
    finally:
        w.close()
    assert not log.exists(), f"dglsp tried the network: {log.read_text()}"


SECRET = "hunter2_do_not_log"


def session_log(tmp_path, level: str, model) -> tuple[str, str]:
    """The server's stderr over a session with a secret in the buffer, and the fill it sent back."""
    err = tmp_path / f"stderr-{level}.txt"
    with err.open("wb") as sink:
        w = Wire("--log-level", level, stderr=sink)
        try:
            w.initialize({"model": str(model), "sampler": {"max_steps": 2}, "parseTrim": False})
            uri = "file:///secret.py"
            w.open(uri, f"password = '{SECRET}'\nx = ")
            items = w.request(INLINE, inline_params(uri, 1, 4), timeout=120)["result"]["items"]
            w.request(INLINE, {"textDocument": SECRET, "position": SECRET}, timeout=30)  # does not parse
            bad = {"range": {"start": {"line": 9, "character": 0}, "end": {"line": 9, "character": 1}}, "text": SECRET}
            w.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [bad]})
            w.request("dglsp/stats")
        finally:
            w.close()
    return err.read_text(errors="replace"), items[0]["insertText"]


def test_logs_carry_no_buffer_text_unless_the_level_is_debug(tmp_path, dg_dir):
    log, fill = session_log(tmp_path, "info", dg_dir)
    assert SECRET not in log and fill not in log
    # At debug the messages themselves are logged: the check above would see code if it were there.
    log, fill = session_log(tmp_path, "debug", dg_dir)
    assert f'"insertText": {json.dumps(fill)}' in log
