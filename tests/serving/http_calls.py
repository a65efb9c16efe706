"""JSON over HTTP to a `dglsp serve-model` server, as the tests call it (errors come back as answers too)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class Http:
    def __init__(self, base: str, token: str | None = None) -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: bytes | None = None, timeout: float = 120) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def fill(self, task: dict) -> tuple[int, Any]:
        return self.call("POST", "/fill", json.dumps(task).encode())
