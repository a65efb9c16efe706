"""JSON over HTTP to a model server, cancellable while the answer is awaited: what every backend calls.

While the answer is awaited, `on_step` is asked every few milliseconds; a cancelled call closes its connection,
which is how a server learns to stop (`dglsp serve-model` stops that canvas between two denoising steps). Every
failure is one of two exceptions whose wording does not change from call to call, so the language server can
say it once, not per keystroke.
"""

from __future__ import annotations

import http.client
import json
import select
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

POLL_S = 0.02  # how often a waiting call checks whether it was cancelled
CONNECT_S = 3.0


class BackendUnavailable(RuntimeError):
    """The server could not be reached or did not answer in time."""


class BackendError(RuntimeError):
    """The server answered with an error (its message is the reason)."""


class JsonEndpoint:
    def __init__(self, url: str, label: str, token: str | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{label} must be an http(s):// URL, got {url!r}")
        self.url, self.label, self.token, self.timeout = url.rstrip("/"), label, token, timeout
        self._parts = parts

    @property
    def name(self) -> str:
        return f"the {self.label} at {self.url}"

    def call(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        on_step: Callable[[Any], bool] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict | None:
        """The server's JSON answer; None when `on_step` cancelled the wait."""
        sent = {"Content-Type": "application/json"} | (headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        connection = self._connection()
        try:
            try:
                data = json.dumps(body).encode() if body is not None else None
                connection.request(method, self._parts.path.rstrip("/") + path, data, sent)
                if not _wait(connection, self.timeout, on_step):
                    return None
                response = connection.getresponse()
                raw = response.read()
                payload = json.loads(raw) if raw.strip() else {}
            except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
                # One wording per kind of failure: the language server says each once, not per keystroke.
                raise BackendUnavailable(f"{self.name} does not answer ({type(exc).__name__})") from exc
        finally:
            connection.close()  # a cancelled call's closed connection is what stops it on the server
        if response.status != 200:
            raise BackendError(f"{self.name} said {response.status}: {_reason(payload)}")
        if not isinstance(payload, dict):
            raise BackendError(f"{self.name} answered {type(payload).__name__}, not a JSON object")
        return payload

    def _connection(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        return kind(self._parts.hostname, self._parts.port, timeout=CONNECT_S)


def _reason(payload: Any) -> str:
    """The error message, from the shapes servers use: {"error": "..."} or {"error": {"message": "..."}}."""
    error = payload.get("error") if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)


def _wait(connection: http.client.HTTPConnection, timeout: float, on_step) -> bool:
    """Until the answer starts to arrive (True), the call is cancelled (False), or the timeout (TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([connection.sock], [], [], POLL_S)
        if ready:
            return True
        if on_step is not None and on_step(None):
            return False
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer within {timeout:.0f} s")
