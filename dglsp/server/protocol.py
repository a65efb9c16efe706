"""pygls' protocol, more forgiving where JSON-RPC is: a request may leave out `params`."""

from __future__ import annotations

from typing import Any

from pygls.protocol import LanguageServerProtocol


class DglspProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]):
        # JSON-RPC 2.0 makes `params` optional; pygls' message classes require it, and a request without one
        # (vscode-languageclient's sendRequest("dglsp/stats")) would never be answered.
        if isinstance(data, dict) and "method" in data and "params" not in data:
            data = {**data, "params": None}
        return super().structure_message(data)
