"""A raw JSON-RPC client for `dglsp --stdio`: framed bytes as any editor (or a broken one) writes them."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

INLINE = "textDocument/inlineCompletion"


def inline_params(uri: str, line: int = 0, character: int = 0, invoked: bool = True) -> dict:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1 if invoked else 2},
    }


class Silent(Exception):
    """The server gave no answer in time, or closed its output."""


class Closed(Silent):
    """The server closed its output: it is exiting (pygls closes stdout first, then the interpreter winds down)."""


class Wire:
    def __init__(
        self, *args: str, command: list[str] | None = None, env: dict | None = None, stderr=subprocess.DEVNULL
    ) -> None:
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "dglsp", "--stdio", *args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=stderr, bufsize=0, env=env,
        )  # fmt: skip
        self.buffer = b""
        self.next_id = 1000
        self.replies: dict[str, object] = {}  # a request of the server's, by method -> the result sent back

    def raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params=None, timeout: float = 60.0) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.answer(self.next_id, timeout)

    def _take(self, n: int | None = None, until: bytes = b"", timeout: float = 60.0) -> bytes:
        """`n` bytes, or the bytes up to and including `until`."""
        while (n is None and until not in self.buffer) or (n is not None and len(self.buffer) < n):
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            if not ready:
                raise Silent(f"no answer from the server within {timeout} s")
            chunk = self.proc.stdout.read(65536)
            if not chunk:
                raise Closed("the server closed stdout")
            self.buffer += chunk
        end = n if n is not None else self.buffer.index(until) + len(until)
        taken, self.buffer = self.buffer[:end], self.buffer[end:]
        return taken

    def answer(self, msg_id, timeout: float = 60.0) -> dict:
        """Read messages until the response to `msg_id`. Notifications on the way are skipped, and the server's
        own requests answered from `replies` (left unanswered when their method is not there)."""
        while True:
            headers = self._take(until=b"\r\n\r\n", timeout=timeout).decode()
            length = int(next(h for h in headers.split("\r\n") if h.lower().startswith("content-length")).split(":")[1])
            message = json.loads(self._take(length, timeout=timeout))
            if "method" not in message and message.get("id") == msg_id:
                return message
            if "id" in message and message.get("method") in self.replies:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": self.replies[message["method"]]})

    def open(self, uri: str, text: str, version: int = 1, language: str = "python") -> None:
        item = {"uri": uri, "languageId": language, "version": version, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    def initialize(self, options: dict | None = None, **params) -> dict:
        result = self.request("initialize", {"capabilities": {}, "initializationOptions": options, **params})
        self.notify("initialized", {})
        return result

    def rss_mb(self) -> float:
        """The server's resident memory, from /proc (Linux)."""
        status = Path(f"/proc/{self.proc.pid}/status")
        for line in status.read_text().splitlines() if status.exists() else []:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()
