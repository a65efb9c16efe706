"""The server keeps nothing per message: a workday is tens of thousands of keystrokes, each a didChange, and the
process lives for days. In-process, through the real protocol; counted with the garbage collector."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc

from inprocess import initialized

from dglsp.server.features.stats import report


class Sink:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def live_futures() -> int:
    gc.collect()
    # type(), not isinstance(): the latter reads __class__, which some module proxies answer with a warning.
    return sum(issubclass(type(o), concurrent.futures.Future | asyncio.Future) for o in gc.get_objects())


def receive(ls, message: dict) -> None:
    ls.protocol.handle_message(ls.protocol.structure_message({"jsonrpc": "2.0", **message}))


async def test_notifications_and_requests_leave_no_future_behind():
    ls, _ = initialized()
    ls.protocol.set_writer(Sink(), include_headers=False)
    item = {"uri": "file:///a.py", "languageId": "python", "version": 1, "text": ""}
    receive(ls, {"method": "textDocument/didOpen", "params": {"textDocument": item}})
    await asyncio.sleep(0)
    before = live_futures()
    for version in range(2, 302):
        change = {"textDocument": {"uri": item["uri"], "version": version}, "contentChanges": [{"text": "x" * version}]}
        receive(ls, {"method": "textDocument/didChange", "params": change})
        receive(ls, {"id": version, "method": "dglsp/stats", "params": None})
        receive(ls, {"method": "$/cancelRequest", "params": {"id": 10**6 + version}})  # an id never sent
    await asyncio.sleep(0)
    assert ls.documents.get(item["uri"]).text == "x" * 301  # every change was handled
    assert live_futures() - before < 10  # pygls kept one per didChange: 300
    footprint = report(ls).footprint
    assert (footprint.handlers, footprint.client_requests, footprint.documents) == (0, 0, 1)
