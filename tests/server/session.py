"""Helpers for end-to-end tests: the real `dglsp --stdio` in a subprocess, driven by pytest-lsp's client."""

from __future__ import annotations

import asyncio
import inspect
import sys
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from dglsp.bench.lsp_filler import position_of  # noqa: F401  (the tests' helper too)

CURSOR = "█"
# Raw fills: a random-weight model's fills rarely parse and it is never confident, and these tests check the
# protocol, not the model.
RAW = {"parseTrim": False, "debounceMs": 0, "minConfidence": 0}


def capabilities(**overrides) -> types.ClientCapabilities:
    caps = client_capabilities("neovim")
    caps.window = types.WindowClientCapabilities(work_done_progress=True)
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    caps.text_document.code_action.resolve_support = types.ClientCodeActionResolveOptions(properties=["edit"])
    for name, value in overrides.items():
        setattr(caps, name, value)
    return caps


async def start(root: Path, options: dict, caps: types.ClientCapabilities | None = None) -> LanguageClient:
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "dglsp", "--stdio")
    client.init_result = await client.initialize_session(
        types.InitializeParams(
            capabilities=caps or capabilities(),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
            initialization_options=options,
        )
    )
    return client


async def stop(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


async def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    """Poll `predicate` (plain or async) until it is truthy."""
    for _ in range(int(timeout / 0.05)):
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def plain(value):
    """Custom requests come back as named tuples: dicts and lists again."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def stats(client: LanguageClient) -> dict:
    return plain(await client.protocol.send_request_async("dglsp/stats", {}))


async def model_ready(client: LanguageClient) -> str:
    """Until the model is loaded or failed to: "ready" or "error"."""

    async def settled():
        state = (await stats(client))["model"]["state"]
        return state if state in ("ready", "error") else None

    return await wait_for(settled, timeout=60, what="the model to finish loading")


async def fill_started(client: LanguageClient) -> None:
    """Until the model is running a job: what tests that act during a fill wait on, not the clock."""

    async def running():
        return (await stats(client))["worker_running"] is not None

    await wait_for(running, timeout=30, what="the model to start a fill")


def open_doc(client: LanguageClient, path: Path, text: str, language: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, version, text)))
    return uri


def marked(source: str) -> tuple[str, int]:
    return source.replace(CURSOR, ""), source.index(CURSOR)


def inline_params(uri: str, position: types.Position, invoked: bool = True, selected=None):
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri),
        position=position,
        context=types.InlineCompletionContext(trigger_kind=kind, selected_completion_info=selected),
    )


async def actions_at(client, uri: str, start: types.Position, end: types.Position) -> dict[str, types.CodeAction]:
    listed = await client.text_document_code_action_async(
        types.CodeActionParams(types.TextDocumentIdentifier(uri), types.Range(start, end), types.CodeActionContext([]))
    )
    assert all(getattr(a, "edit", None) is None for a in listed)  # listing is cheap: the model runs later
    return {a.title.split(":")[1].strip().split(" ")[0]: a for a in listed}
