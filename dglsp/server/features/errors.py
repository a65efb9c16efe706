"""The edge where the core's plain exceptions become LSP errors: every handler goes through `translated`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams

from ..documents import Document, UnknownDocument
from ..positions import PositionError
from ..refusals import BadRequest, Changed, CouldNotRun


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was sound, the server could not do it (e.g. out of memory)."""

    CODE = -32803
    MESSAGE = "Request Failed"


def _lsp_error(exc: Exception) -> JsonRpcException | None:
    if isinstance(exc, UnknownDocument | PositionError | BadRequest):
        return JsonRpcInvalidParams(str(exc))
    if isinstance(exc, Changed):
        return JsonRpcContentModified(str(exc))
    if isinstance(exc, CouldNotRun):
        return RequestFailed(str(exc))
    return None


def translated(handler: Callable) -> Callable:
    """`handler`, with the core's refusals raised as the LSP errors that mean the same."""
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            except Exception as exc:
                error = _lsp_error(exc)
                if error is None:
                    raise
                raise error from None

        return run_async

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as exc:
            error = _lsp_error(exc)
            if error is None:
                raise
            raise error from None

    return run


def offset(doc: Document, position: types.Position, encoding: str) -> int:
    try:
        return doc.offset(position, encoding)
    except PositionError as exc:
        raise PositionError(f"{doc.uri}: {exc}") from None
