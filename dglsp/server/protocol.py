"""pygls' protocol, made to answer every request: JSON-RPC says each request gets a response, and a client
whose request is silently dropped waits forever (an editor's spinner, a plugin's queue). The same holds the other
way: a request dglsp sends the client gives up after a timeout, since a client may drop it (eglot does, when the
user answers its "Proceed?" after its own 10 s) and a handler awaiting the answer would wait forever."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol.types import CANCEL_REQUEST, EXIT, INITIALIZE, WORKSPACE_APPLY_EDIT, CancelParams
from pygls.exceptions import (
    JsonRpcContentModified,
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcRequestCancelled,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import RPCRequest

log = logging.getLogger("dglsp")
# Answers that are the protocol working (the text changed, the client cancelled): one INFO line, no traceback.
EXPECTED_ERRORS = (JsonRpcContentModified.CODE, JsonRpcRequestCancelled.CODE)
CLIENT_TIMEOUT_S = 10.0
# A person may be asked first (eglot's "Server wants to edit ... Proceed?"): give them time to read it.
CLIENT_TIMEOUTS_S = {WORKSPACE_APPLY_EDIT: 30.0}


class ClientTimeout(Exception):
    """The client did not answer a request of dglsp's in time; dglsp stopped waiting and told it to cancel."""

    def __init__(self, method: str, seconds: float) -> None:
        super().__init__(f"the editor did not answer {method} within {seconds:g} s")
        self.method, self.seconds = method, seconds


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
        self.initialize_seen = False
        self.timeouts = dict(CLIENT_TIMEOUTS_S)
        self.on_timeout: Callable[[ClientTimeout], None] = lambda _timeout: None
        self._expired: deque[str] = deque(maxlen=64)  # ids given up on: a late answer is not a stray one
        self.asked: set[str] = set()  # ids of dglsp's requests the client has not answered yet

    def send_request(self, method: str, params: Any | None = None, callback: Callable | None = None, msg_id=None):
        """pygls' send_request, with a timeout; `callback` runs on an answer only (not on an error or a timeout,
        where pygls' own wrapper would raise inside a done-callback and log a traceback)."""
        msg_id = str(uuid.uuid4()) if msg_id is None else msg_id
        future = super().send_request(method, params, None, msg_id)
        self.asked.add(msg_id)
        future.add_done_callback(lambda _f: self.asked.discard(msg_id))
        if callback is not None:
            future.add_done_callback(lambda f: f.cancelled() or f.exception() or callback(f.result()))
        seconds = self.timeouts.get(method, CLIENT_TIMEOUT_S)
        # Without a running loop (a script's direct call) nothing can await the answer, so nothing can hang on it.
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_later(seconds, self._expire, msg_id, method, seconds)
        return future

    def _expire(self, msg_id: str, method: str, seconds: float) -> None:
        future = self._request_futures.pop(msg_id, None)
        self._result_types.pop(msg_id, None)
        if future is None or future.done():
            return
        self._expired.append(msg_id)
        self.notify(CANCEL_REQUEST, CancelParams(id=msg_id))
        timeout = ClientTimeout(method, seconds)
        future.set_exception(timeout)
        self.on_timeout(timeout)

    def _handle_response(self, msg_id, result=None, error=None) -> None:
        if msg_id in self._expired:
            log.info("the editor answered request %s after dglsp stopped waiting: %s", msg_id, error or result)
            return
        super()._handle_response(msg_id, result, error)

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
        if not self.initialize_seen and method is not None and method not in (INITIALIZE, EXIT):
            if request:
                self._refuse(message.id, JsonRpcServerNotInitialized(message="send initialize first"))
            return
        if method == INITIALIZE:
            self.initialize_seen = True
        super().handle_message(message)

    def running_handlers(self) -> int:
        """Messages whose handler is still running."""
        return len(self._request_futures) - len(self.asked)

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None) -> None:
        """pygls keeps each handler's future under its message id until a response is sent; a notification's
        (every didChange) gets a made-up id, is never answered, and so stayed for good: the soak's memory creep.
        Drop the future when its handler is done, whatever kind of message it was."""

        def done(future) -> None:
            if self._request_futures.get(msg_id) is future:
                del self._request_futures[msg_id]
            callback(future)

        super()._execute_handler(msg_id, handler, done, args, kwargs)

    def _send_handler_result(self, future, *, msg_id) -> None:
        """A handler's refusal (an LSP error it raised on purpose) is logged in one line; pygls logs every error
        with a traceback at ERROR, which buries the real faults among stale code actions."""
        error = None if future.cancelled() else future.exception()
        if not isinstance(error, JsonRpcException):
            super()._send_handler_result(future, msg_id=msg_id)
            return
        self._request_futures.pop(msg_id, None)
        level = logging.INFO if error.code in EXPECTED_ERRORS else logging.WARNING
        log.log(level, "request %s refused (%s): %s", msg_id, error.code, error.message)
        self._send_response(msg_id, error=error.to_response_error())

    def _refuse(self, msg_id, error: JsonRpcException) -> None:
        self._send_response(msg_id, error=error.to_response_error())
