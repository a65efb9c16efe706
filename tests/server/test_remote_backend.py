"""The language server with `backend` set to a `dglsp serve-model` server: inline completion end to end over
stdio, and a server that goes away mid-edit (one message, empty answers, the editor keeps working) and comes
back (fills again, with nothing for the user to do)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request

import pytest
from lsprotocol import types
from session import RAW, inline_params, model_ready, open_doc, position_of, start, stats, stop, wait_for

from dglsp.bench.serve_load import free_port

pytest.importorskip("ray")
TEXT = "import math\n\n\ndef area(r):\n    return "


def serve_model(dg_dir, port: int, cwd) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dglsp", "serve-model", "--model", str(dg_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
    )
    assert "ready" in proc.stdout.readline()  # it says when it serves
    return proc


def end(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)


def server_stats(base: str) -> dict:
    with urllib.request.urlopen(base + "/stats", timeout=30) as answer:
        return json.loads(answer.read())


async def inline(client, uri: str, text: str = TEXT, version: int | None = None) -> types.InlineCompletionList:
    """Inline completion at the end of `text`, typed first when a `version` is given (a new text: no cache)."""
    if version is not None:
        identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=version)
        change = types.TextDocumentContentChangeWholeDocument(text)
        client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, [change]))
    return await client.text_document_inline_completion_async(inline_params(uri, position_of(text, len(text))))


async def test_fills_come_from_the_backend_and_a_backend_that_goes_away_is_said_once(tmp_path, dg_dir):
    port = free_port()
    server = serve_model(dg_dir, port, tmp_path)
    client = await start(tmp_path, {"backend": f"http://127.0.0.1:{port}", **RAW, "sampler": {"maxSteps": 4}})
    try:
        assert await model_ready(client) == "ready"
        model = (await stats(client))["model"]
        assert model["device"] == f"remote http://127.0.0.1:{port}"
        assert (model["error"], model["layout"], model["generation"]) == ("", "", 1) and model["load_ms"] > 0
        uri = open_doc(client, tmp_path / "a.py", TEXT, "python")
        assert (await inline(client, uri)).items  # a raw fill from the server's model
        end(server)
        for version in (2, 3, 4):  # the user types on: empty answers, one message
            assert not (await inline(client, uri, TEXT + "r" * version, version)).items
        down = [m for m in client.messages if "does not answer" in m.message]
        assert len(down) == 1 and down[0].type == types.MessageType.Warning
        assert (await stats(client))["counts"]["inline"]["no_model"] == 3
        server = serve_model(dg_dir, port, tmp_path)

        typed = iter(range(5, 10_000))

        async def filled_again():
            version = next(typed)
            return bool((await inline(client, uri, TEXT + "q" * version, version)).items)

        await wait_for(filled_again, timeout=60, what="fills from the server that came back")
    finally:
        await stop(client)
        if server.poll() is None:
            end(server)


async def test_a_newer_request_supersedes_the_older_and_stops_its_canvas_on_the_server(tmp_path, dg_dir):
    port = free_port()
    base, server = f"http://127.0.0.1:{port}", serve_model(dg_dir, port, tmp_path)
    # A random model never converges: with 100000 steps allowed, only superseding ends the first fill.
    client = await start(tmp_path, {"backend": base, **RAW, "sampler": {"maxSteps": 100000}})
    try:
        assert await model_ready(client) == "ready"
        uri = open_doc(client, tmp_path / "a.py", TEXT, "python")
        older = asyncio.ensure_future(inline(client, uri))
        await wait_for(lambda: server_stats(base)["in_flight_steps"], what="the first canvas running on the server")
        settings = {"backend": base, **RAW, "sampler": {"maxSteps": 4}}
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
        newer = await inline(client, uri)
        assert not (await asyncio.wait_for(older, 30)).items and newer.items
        assert (await stats(client))["counts"]["inline"]["superseded"] == 1
        after = await wait_for(lambda: server_stats(base)["steps_after_cancel"], what="the server to stop the canvas")
        assert len(after) == 1 and after[0] <= 1  # stopped within one denoising step of the client going away
    finally:
        await stop(client)
        end(server)
