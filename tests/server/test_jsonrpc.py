"""The wire itself, as a client other than pygls' may write it: framed JSON-RPC to `dglsp --stdio`."""

from __future__ import annotations

import pytest

from dglsp.bench.wire import INLINE, Wire, inline_params


@pytest.fixture
def wire():
    w = Wire()
    w.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
    assert "capabilities" in w.answer(1)["result"]
    yield w
    w.close()


def test_a_request_without_params_is_answered(wire):
    # JSON-RPC 2.0 lets a request leave out `params`; vscode-languageclient's sendRequest(method) does.
    wire.send({"jsonrpc": "2.0", "id": 2, "method": "dglsp/stats"})
    assert wire.answer(2)["result"]["model"]["state"] == "idle"


def test_an_unknown_method_is_an_error_and_the_server_goes_on(wire):
    wire.send({"jsonrpc": "2.0", "id": 3, "method": "dglsp/nope", "params": {}})
    assert wire.answer(3)["error"]["code"] == -32601
    wire.send({"jsonrpc": "2.0", "id": 4, "method": "dglsp/stats", "params": None})
    assert "result" in wire.answer(4)


def test_requests_before_initialize_are_refused_not_dropped():
    w = Wire()
    try:
        assert w.request("dglsp/stats", timeout=30)["error"]["code"] == -32002  # ServerNotInitialized
        w.open("file:///early.py", "x = 1\n")  # a notification before initialize is ignored
        assert "capabilities" in w.initialize()["result"]
        assert "not open" in w.request(INLINE, inline_params("file:///early.py"))["error"]["message"]
    finally:
        w.close()


@pytest.mark.parametrize(
    "params",
    [
        {"textDocument": "x", "position": 5},  # wrong types
        {"position": {"line": 0, "character": 0}},  # a field missing
        inline_params("file:///a.py", line=-1, character=-3),  # negative positions
        inline_params("file:///a.py", line=2**40),  # beyond a uinteger
    ],
)
def test_a_request_whose_params_do_not_parse_is_answered_with_invalid_params(wire, params):
    answer = wire.request(INLINE, params, timeout=10)
    assert answer["error"]["code"] == -32602 and INLINE in answer["error"]["message"]
    assert "result" in wire.request("dglsp/stats", timeout=10)


def test_malformed_json_and_a_garbled_header_do_not_make_the_server_deaf(wire):
    wire.raw(b"Content-Length: 5\r\n\r\n{abc}")  # not JSON
    assert "result" in wire.request("dglsp/stats", timeout=10)
    # A bad header, then a body with no newline: pygls alone would glue it to the next header and lose every
    # message after it.
    wire.raw(b"Content-Length: abc\r\n\r\n{}")
    assert "result" in wire.request("dglsp/stats", timeout=10)
    wire.raw(b"\x00\xff garbage without any newline")
    assert "result" in wire.request("dglsp/stats", timeout=10)


def test_after_shutdown_requests_are_refused_and_exit_ends_the_process(wire):
    assert wire.request("shutdown", timeout=10)["result"] is None
    assert wire.request("dglsp/stats", timeout=10)["error"]["code"] == -32600
    wire.notify("exit", None)
    assert wire.proc.wait(timeout=10) == 0


def test_a_change_that_cannot_apply_drops_the_document_instead_of_serving_a_wrong_copy(wire):
    uri = "file:///drift.py"
    wire.open(uri, "a = 1\nb = 2\n", version=3)
    bad_range = {"range": {"start": {"line": 50, "character": 0}, "end": {"line": 60, "character": 0}}, "text": "z"}
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 4}, "contentChanges": [bad_range]})
    assert "not open" in wire.request(INLINE, inline_params(uri), timeout=10)["error"]["message"]

    wire.open(uri, "a = 1\n", version=5)  # reopened: served again
    backwards = {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": "b = 2\n"}]}
    wire.notify("textDocument/didChange", backwards)
    assert "not open" in wire.request(INLINE, inline_params(uri), timeout=10)["error"]["message"]


def test_the_server_exits_when_stdin_closes_mid_request(dg_dir):
    w = Wire()
    try:
        w.initialize({"model": str(dg_dir), "sampler": {"max_steps": 10_000, "confidence": 1e-9}, "parseTrim": False})
        w.open("file:///x.py", "def f():\n    return ")
        w.send({"jsonrpc": "2.0", "id": 7, "method": INLINE, "params": inline_params("file:///x.py", 1, 11)})
        w.proc.stdin.close()
        assert w.proc.wait(timeout=20) == 0  # gone within the time, cleanly, mid-fill (no traceback exit)
    finally:
        w.close()


def test_exit_while_the_model_reloads_ends_the_process_cleanly(dg_dir):
    """Python's finalization under a load running in the worker thread aborted the process (SIGABRT, about one
    time in two here): exit must be exit, whatever the model is doing."""
    for _ in range(4):
        w = Wire()
        try:
            w.initialize({"model": str(dg_dir)})
            while w.request("dglsp/stats", timeout=30)["result"]["model"]["state"] != "ready":
                pass
            w.send({"jsonrpc": "2.0", "id": 1, "method": "workspace/executeCommand",
                    "params": {"command": "dglsp.reloadModel"}})  # fmt: skip
            w.request("shutdown", timeout=10)
            w.notify("exit", None)
            assert w.proc.wait(timeout=20) == 0
        finally:
            w.close()


def test_the_server_exits_when_the_editor_process_is_gone():
    import subprocess
    import sys

    editor = subprocess.Popen([sys.executable, "-c", "pass"])
    editor.wait()  # a pid that no longer runs
    w = Wire()
    try:
        w.initialize(processId=editor.pid)
        assert w.proc.wait(timeout=15) == 0
    finally:
        w.close()
