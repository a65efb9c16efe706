"""Faults under the real server: its model directory damaged or deleted, out of memory, dglsp.toml gone bad.

Each must end in a message to the user and a server that goes on answering: never a hang or a dead process.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import time
from pathlib import Path

import pytest
from big_files import big_python_file
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from session import RAW, actions_at, inline_params, model_ready, open_doc, position_of, start, stats, stop, wait_for

from dglsp.models.blank import SIZES, new_diffusion_gemma
from dglsp.models.export import save_model_dir
from dglsp.models.tokenizer import END_OF_FILL

RELOAD = "dglsp.reloadModel"


def said(client, *words: str) -> list[types.ShowMessageParams]:
    return [m for m in client.messages if all(w in m.message for w in words)]


async def answers(client, uri: str, text: str) -> str:
    """One invoked inline request at the end of `text` (so no suffix); the outcome `dglsp/stats` counted for it."""
    before = (await stats(client))["counts"].get("inline", {})
    result = await client.text_document_inline_completion_async(inline_params(uri, position_of(text, len(text))))
    assert isinstance(result, types.InlineCompletionList)
    after = (await stats(client))["counts"]["inline"]
    (outcome,) = [k for k, n in after.items() if n != before.get(k, 0)]
    return outcome


def retype(client, uri: str, version: int, text: str) -> None:
    change = types.TextDocumentContentChangeWholeDocument(text)
    identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=version)
    client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, [change]))


async def reload(client) -> None:
    await client.workspace_execute_command_async(types.ExecuteCommandParams(command=RELOAD))


async def test_a_model_damaged_or_deleted_under_the_server_goes_on_serving_and_a_reload_says_why(tmp_path, dg_dir):
    model = tmp_path / "model"
    shutil.copytree(dg_dir, model)
    client = await start(tmp_path, {"model": str(model), **RAW})
    try:
        assert await model_ready(client) == "ready"
        generation = (await stats(client))["model"]["generation"]
        text = "def area(w, h):\n    return "
        uri = open_doc(client, tmp_path / "a.py", text, "python")
        assert await answers(client, uri, text) in ("served", "empty")

        # A checkpoint being written over the weights: the file is cut short. The loaded model owns its
        # weights, so it neither changes nor dies (a memory-mapped weight would be a SIGBUS here).
        (model / "model.safetensors").write_bytes(b"")
        text2 = "x = 1\n" + text
        retype(client, uri, 2, text2)
        assert await answers(client, uri, text2) in ("served", "empty")
        await reload(client)
        await wait_for(lambda: said(client, "not reloaded", "damaged or incomplete"), what="the reload's warning")
        model_state = (await stats(client))["model"]
        assert model_state["state"] == "ready" and "damaged" in model_state["kept"]
        assert model_state["generation"] == generation  # the same model, so its cached fills still hold

        shutil.rmtree(model)
        await reload(client)
        await wait_for(lambda: said(client, "not reloaded", "not found"), what="the second reload's warning")
        assert (await stats(client))["model"]["state"] == "ready"
        text3 = "y = 2\n" + text2
        retype(client, uri, 3, text3)
        assert await answers(client, uri, text3) in ("served", "empty")

        shutil.copytree(dg_dir, model)  # whole again: the reload takes it
        await reload(client)

        async def reloaded():
            state = (await stats(client))["model"]
            return state if state["generation"] > generation and state["state"] == "ready" else None

        model_state = await wait_for(reloaded, timeout=30, what="the reload")
        assert model_state["state"] == "ready" and model_state["kept"] == ""
        assert model_state["generation"] == generation + 1
    finally:
        await stop(client)


@pytest.fixture(scope="module")
def big_vocab_dir(tmp_path_factory, tokenizer) -> Path:
    """The tiny model with DiffusionGemma's real vocabulary (262,144): each canvas position's logits take 1 MiB,
    so a full 256-token canvas needs hundreds of MB where one line needs a few."""
    model = new_diffusion_gemma(SIZES["tiny"], vocab=262_144, canvas_length=256)
    notes = {"layout": "infill", "end_of_fill": END_OF_FILL, "trained": False}
    return save_model_dir(model, tokenizer, tmp_path_factory.mktemp("big-vocab") / "model", notes)


def vm_size(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def server_pid(client) -> int:
    """The pid of `python -m dglsp --stdio` under pytest-lsp's client."""
    return client._server.pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limits via prlimit are Linux's")
async def test_out_of_memory_drops_the_fill_says_so_once_and_the_server_goes_on(tmp_path, big_vocab_dir):
    small = {"model": str(big_vocab_dir), **RAW, "multiline": "never", "lineTokens": 8, "sampler": {"maxSteps": 2}}
    big = {**small, "multiline": "always", "maxTokens": 1024}
    client = await start(tmp_path, small)
    pid = server_pid(client)
    try:
        assert await model_ready(client) == "ready"
        lines = [f"v{i} = {i}\n" for i in range(6)]
        text = "".join(lines) + "total = "
        uri = open_doc(client, tmp_path / "m.py", text, "python")
        assert await answers(client, uri, text) in ("served", "empty")
        # The OS now refuses the server more than 200 MB of address space over what it has mapped: one line's
        # canvas still fits, a 256-token canvas (its logits alone are 256 MiB) does not.
        resource.prlimit(pid, resource.RLIMIT_AS, (vm_size(pid) + (200 << 20), resource.RLIM_INFINITY))
        version = 1
        outcomes = []
        for settings in (small, big, big):
            client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"dglsp": settings}))
            version += 1
            text = lines[version % len(lines)] + text  # a new place each time, so the fill cache cannot answer
            retype(client, uri, version, text)
            outcomes.append(await answers(client, uri, text))
        assert outcomes[0] in ("served", "empty") and outcomes[1:] == ["out_of_memory", "out_of_memory"]
        assert len(said(client, "out of memory on cpu", "maxTokens")) == 1  # one pop-up, however often it happens
        logged = [m for m in client.log_messages if "out of memory on cpu: a fill of up to 1024 tokens" in m.message]
        assert len(logged) == 2 and "can't allocate memory" in logged[0].message
        assert (await stats(client))["model"]["state"] == "ready"
        # A code action fails the same way, as LSP's RequestFailed.
        source = "def area(r):\n    pass\n"
        other = open_doc(client, tmp_path / "f.py", source, "python")
        body = (await actions_at(client, other, position_of(source, 17), position_of(source, 17)))["Complete"]
        with pytest.raises(JsonRpcException) as failed:
            await client.code_action_resolve_async(body)
        assert failed.value.code == -32803 and "out of memory on cpu" in failed.value.message
        assert len(said(client, "out of memory on cpu", "maxTokens")) == 1

        # The memory comes back (another program quit): the same big fill now runs.
        resource.prlimit(pid, resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        version += 1
        text = "w = 0\n" + text
        retype(client, uri, version, text)
        assert await answers(client, uri, text) in ("served", "empty")
    finally:
        await stop(client)


async def test_dglsp_toml_deleted_or_unreadable_while_watched(served, tmp_path):
    config = tmp_path / "dglsp.toml"

    async def setting(key: str):
        return (await stats(served))["settings"][key]

    async def becomes(value: str) -> None:
        async def reached():
            return await setting("multiline") == value

        await wait_for(reached, timeout=10, what=f"multiline to become {value!r}")

    async def refused(change, reason: str, kept: str) -> None:
        seen = len(said(served, "dglsp.toml", reason))
        change()
        await wait_for(lambda: len(said(served, "dglsp.toml", reason)) > seen, timeout=20, what=repr(reason))
        started = time.monotonic()
        assert await setting("multiline") == kept  # the last good settings, answered at once
        assert time.monotonic() - started < 2

    config.write_text("multiline = 'never'\n")
    await becomes("never")
    await refused(lambda: config.write_bytes(b"multiline = '\xff\xfe'\n"), "codec can't decode", "never")
    if os.geteuid() != 0:  # root reads any file whatever its mode
        config.write_text("multiline = 'never'\n")
        await refused(lambda: config.chmod(0), "Permission denied", "never")
        config.chmod(0o644)

    config.unlink()  # deleted: the defaults again
    await becomes("auto")
    await refused(config.mkdir, "not a regular file", "auto")  # a folder where the file was
    config.rmdir()
    await refused(lambda: os.mkfifo(config), "not a regular file", "auto")  # reading a FIFO would block for good
    config.unlink()
    config.write_text("multiline = 'never'\n")  # and the watch still works after all that
    await becomes("never")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limits via prlimit are Linux's")
async def test_a_model_with_131072_positions_serves_a_100k_line_file_within_its_context_budget(
    tmp_path, long_positions_dir
):
    # Sized from the model's positions, the context was 524,288 characters and the server died for memory.
    client = await start(tmp_path, {"model": str(long_positions_dir), **RAW, "sampler": {"maxSteps": 2}})
    pid = server_pid(client)
    try:
        assert await model_ready(client) == "ready"
        resource.prlimit(pid, resource.RLIMIT_AS, (vm_size(pid) + (2 << 30), resource.RLIM_INFINITY))
        text = big_python_file(tmp_path / "big.py", lines=100_000).read_text()
        uri = open_doc(client, tmp_path / "big.py", text, "python")
        middle = position_of(text, text.index("\n", len(text) // 2))
        result = await client.text_document_inline_completion_async(inline_params(uri, middle))
        assert isinstance(result, types.InlineCompletionList)
        counts = (await stats(client))["counts"]["inline"]
        assert set(counts) <= {"served", "empty"}, counts  # not out_of_memory, and the server is still there
    finally:
        await stop(client)
