"""The wire itself, as a client other than pygls' may write it: framed JSON-RPC to `dglsp --stdio`."""

from __future__ import annotations

import json
import select
import subprocess
import sys

import pytest


class Wire:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dglsp", "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, bufsize=0,
        )  # fmt: skip
        self.buffer = b""

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _take(self, n: int | None = None, until: bytes = b"", timeout: float = 60.0) -> bytes:
        """`n` bytes, or the bytes up to and including `until`; a server that stays silent fails the test."""
        while (n is None and until not in self.buffer) or (n is not None and len(self.buffer) < n):
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            assert ready, f"no answer from the server within {timeout} s"
            chunk = self.proc.stdout.read(65536)
            assert chunk, "the server closed stdout"
            self.buffer += chunk
        end = n if n is not None else self.buffer.index(until) + len(until)
        taken, self.buffer = self.buffer[:end], self.buffer[end:]
        return taken

    def answer(self, msg_id) -> dict:
        """Read messages until the response to `msg_id` (notifications on the way are skipped)."""
        while True:
            headers = self._take(until=b"\r\n\r\n").decode()
            length = int(next(h for h in headers.split("\r\n") if h.lower().startswith("content-length")).split(":")[1])
            message = json.loads(self._take(length))
            if message.get("id") == msg_id and "method" not in message:
                return message

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


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
