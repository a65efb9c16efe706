"""pygls' protocol, made to answer every request: JSON-RPC says each request gets a response, and a client
whose request is silently dropped waits forever (an editor's spinner, a plugin's queue)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol.types import EXIT, INITIALIZE
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import RPCRequest


@dataclass(frozen=True)
class Unreadable:
    """A request whose params did not match the method's types: answered with the error, not dropped."""

    id: int | str
    method: str
    error: JsonRpcException
    jsonrpc: str = "2.0"


class DglspProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_seen = False

    def structure_message(self, data: dict[str, Any]):
        # json.loads calls this for every nested object too; only the top-level message has "jsonrpc".
        if not isinstance(data, dict) or "jsonrpc" not in data:
            return data
        # JSON-RPC 2.0 makes `params` optional; pygls' message classes require it, and a request without one
        # (vscode-languageclient's sendRequest("dglsp/stats")) would never be answered.
        if "method" in data and "params" not in data:
            data = {**data, "params": None}
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            msg_id, method = data.get("id"), data.get("method")
            if isinstance(msg_id, int | str) and not isinstance(msg_id, bool) and isinstance(method, str):
                if not isinstance(exc, JsonRpcInvalidParams):
                    exc = JsonRpcInvalidParams()
                exc.message = f"{method}: the params do not match the method's types"
                return Unreadable(msg_id, method, exc)
            raise

    def handle_message(self, message) -> None:
        if isinstance(message, Unreadable):
            self._send_response(message.id, error=message.error.to_response_error())
            return
        method = getattr(message, "method", None)
        request = isinstance(message, RPCRequest)
        if self._shutdown and method != EXIT:
            if request:
                self._refuse(message.id, JsonRpcInvalidRequest(message="the server is shutting down"))
            return
        if not self._initialize_seen and method not in (INITIALIZE, EXIT):
            if request:
                self._refuse(message.id, JsonRpcServerNotInitialized(message="send initialize first"))
            return
        if method == INITIALIZE:
            self._initialize_seen = True
        super().handle_message(message)

    def _refuse(self, msg_id, error: JsonRpcException) -> None:
        self._send_response(msg_id, error=error.to_response_error())
