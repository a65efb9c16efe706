"""What the server sends the client and what it does with the answers: a request of dglsp's the client never
answers times out with an outcome (not a handler awaiting forever), and a refusal that is the protocol working is
one INFO line, not a traceback. In-process, through the real protocol and handlers, with a scripted model."""

from __future__ import annotations

import asyncio
import json
import logging

from inprocess import ScriptedEngine, edit, initialized, open_doc, with_engine

from dglsp.server.code_actions import offers
from dglsp.server.features.code_actions import run_action_command
from dglsp.server.features.stats import report

SOURCE = "def scale(x):\n    y = ...\n    return y\n"


class Recorder:
    """The client's end of the pipe: every message the server writes, decoded."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def write(self, data: bytes) -> None:
        self.sent.append(json.loads(data))

    def close(self) -> None:
        pass

    def named(self, method: str) -> list[dict]:
        return [m for m in self.sent if m.get("method") == method]


def connected(seconds: float):
    ls, _ = initialized()
    with_engine(ls, ScriptedEngine(lambda request: ("x * 2",) * request.holes))
    client = Recorder()
    ls.protocol.set_writer(client, include_headers=False)
    ls.protocol.timeouts["workspace/applyEdit"] = seconds
    return ls, client


def receive(ls, message: dict) -> None:
    ls.protocol.handle_message(ls.protocol.structure_message(message))


async def until(condition, what: str, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def edit_asked(ls, client: Recorder) -> tuple[asyncio.Future, dict]:
    """An action run as the command, up to the applyEdit request it sends: (the command's run, that request)."""
    doc = open_doc(ls, SOURCE)
    (offer,) = await offers(ls, doc, 0, 0)
    running = asyncio.ensure_future(run_action_command(ls, offer.data))
    await until(lambda: client.named("workspace/applyEdit"), "the applyEdit request")
    (asked,) = client.named("workspace/applyEdit")
    return running, asked


async def test_an_edit_the_client_never_answers_ends_with_an_outcome_a_cancel_and_one_message(caplog):
    ls, client = connected(0.05)
    doc = open_doc(ls, SOURCE)
    (offer,) = await offers(ls, doc, 0, 0)
    for _ in range(2):
        assert await asyncio.wait_for(run_action_command(ls, offer.data), 10) == {"applied": False, "reason": "timeout"}
    asked, cancels = client.named("workspace/applyEdit"), client.named("$/cancelRequest")
    assert [c["params"]["id"] for c in cancels] == [a["id"] for a in asked] and len(asked) == 2
    assert ls.stats.counts["workspace/applyEdit"]["timeout"] == 2
    assert report(ls).footprint.client_requests == 0  # given up on, not kept
    told = [
        m for m in client.named("window/showMessage") if "did not answer workspace/applyEdit" in m["params"]["message"]
    ]
    assert len(told) == 1  # once, not on every try
    with caplog.at_level(logging.INFO, logger="dglsp"):
        receive(ls, {"jsonrpc": "2.0", "id": asked[0]["id"], "result": {"applied": True}})  # the user said yes late
    assert any("after dglsp stopped waiting" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)


async def test_an_edit_the_client_answers_in_time_is_its_answer():
    ls, client = connected(30.0)
    running, asked = await edit_asked(ls, client)
    assert report(ls).footprint.client_requests == 1
    receive(ls, {"jsonrpc": "2.0", "id": asked["id"], "result": {"applied": True}})
    assert await asyncio.wait_for(running, 10) == {"applied": True}
    assert report(ls).footprint.client_requests == 0
    assert client.named("$/cancelRequest") == [] and "workspace/applyEdit" not in ls.stats.counts


async def test_a_stale_action_is_refused_with_content_modified_in_one_info_line(caplog):
    ls, client = connected(30.0)
    doc = open_doc(ls, SOURCE)
    (offer,) = await offers(ls, doc, 0, 0)
    edit(ls, doc.uri, 2, SOURCE + "\n")
    with caplog.at_level(logging.DEBUG):
        receive(
            ls,
            {"jsonrpc": "2.0", "id": 7, "method": "codeAction/resolve", "params": {"title": "x", "data": offer.data}},
        )
        await until(lambda: any(m.get("id") == 7 for m in client.sent), "the answer")
    (answer,) = [m for m in client.sent if m.get("id") == 7]
    assert answer["error"]["code"] == -32801
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert any("refused (-32801)" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)


async def test_an_edit_the_user_declines_is_not_applied_and_not_an_error(caplog):
    ls, client = connected(30.0)
    running, asked = await edit_asked(ls, client)
    with caplog.at_level(logging.INFO, logger="dglsp"):
        # eglot's answer when the user says no to "Server wants to edit ... Proceed?" (its code is positive)
        receive(
            ls, {"jsonrpc": "2.0", "id": asked["id"], "error": {"code": 32603, "message": "User cancelled server edit"}}
        )
        answer = await asyncio.wait_for(running, 10)
    assert answer["applied"] is False and "User cancelled" in answer["reason"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
