"""The real server over stdio: capabilities, inline completion, completion, code actions, cancellation, staleness."""

from __future__ import annotations

import pytest
from lsprotocol import types
from session import capabilities, model_ready, open_doc, start, stop

CURSOR = "█"
SOURCES = {
    "python": ("a.py", "import math\n\n\ndef circle_area(radius):\n    return █\n\n\nprint(circle_area(2.0))\n"),
    "javascript": ("a.js", "function area(r) {\n  return █\n}\nconsole.log(area(2));\n"),
    "go": ("a.go", "package main\n\nfunc area(r float64) float64 {\n\treturn █\n}\n"),
    "rust": ("a.rs", "fn area(r: f64) -> f64 {\n    let x = █\n    x\n}\n"),
}


def marked(source: str) -> tuple[str, int]:
    return source.replace(CURSOR, ""), source.index(CURSOR)


def inline_params(uri: str, position: types.Position, invoked: bool = True, selected=None):
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri),
        position=position,
        context=types.InlineCompletionContext(trigger_kind=kind, selected_completion_info=selected),
    )


def position_of(text: str, offset: int) -> types.Position:
    line = text.count("\n", 0, offset)
    return types.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


def apply(text: str, edit: types.TextEdit) -> str:
    lines = text.splitlines(keepends=True)
    start = sum(len(x) for x in lines[: edit.range.start.line]) + edit.range.start.character
    end = sum(len(x) for x in lines[: edit.range.end.line]) + edit.range.end.character
    return text[:start] + edit.new_text + text[end:]


async def test_capabilities_advertise_inline_completion_actions_and_commands(tmp_path, dg_dir):
    caps = capabilities(general=types.GeneralClientCapabilities(position_encodings=["utf-8", "utf-16"]))
    client = await start(tmp_path, {"model": str(dg_dir)}, caps)
    try:
        server = client.init_result.capabilities
        assert server.position_encoding == "utf-8"  # the client's first choice
        assert server.inline_completion_provider is not None
        assert server.code_action_provider.resolve_provider
        assert server.text_document_sync.change == types.TextDocumentSyncKind.Incremental
        assert server.completion_provider is not None
        assert {"dglsp.accepted", "dglsp.toggle", "dglsp.runAction"} <= set(server.execute_command_provider.commands)
        assert await model_ready(client) == "ready"
        reports = next(iter(client.progress_reports.values()))
        assert reports[0].kind == "begin" and reports[-1].kind == "end"
    finally:
        await stop(client)


@pytest.mark.parametrize("language", sorted(SOURCES))
async def test_inline_completion_fills_at_the_cursor_on_one_line(served, tmp_path, language):
    name, source = SOURCES[language]
    text, cursor = marked(source)
    uri = open_doc(served, tmp_path / name, text, language)
    result = await served.text_document_inline_completion_async(inline_params(uri, position_of(text, cursor)))
    assert len(result.items) == 1
    item = result.items[0]
    assert item.range.start == item.range.end == position_of(text, cursor)
    assert item.insert_text and "\n" not in item.insert_text
    assert item.command.command == "dglsp.accepted"
