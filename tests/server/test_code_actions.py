"""Code actions in-process: what is offered, the edits an offer makes, and every refusal as the LSP error the
editor gets (through the real handlers), with a scripted stand-in for the model."""

from __future__ import annotations

import pytest
from inprocess import ScriptedEngine, edit, initialized, open_doc, with_engine
from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams

from dglsp.server.code_actions import action_edits, offers
from dglsp.server.contract import ACTIONS, COMMANDS
from dglsp.server.features.code_actions import code_action, code_action_resolve
from dglsp.server.refusals import BadRequest, Changed

SOURCE = "def scale(x):\n    y = ...\n    # TODO: clamp\n    return y\n"


def holes_engine(request):
    return ("x * 2", "y = min(y, 10)")[: request.holes]


async def test_the_offers_at_the_cursor_carry_what_running_them_needs():
    ls, _ = initialized()
    doc = open_doc(ls, SOURCE)
    at = SOURCE.index("return")
    (offer,) = await offers(ls, doc, at, at)
    assert offer.title == "dglsp: Fill 2 holes"
    assert offer.data == {"uri": doc.uri, "version": 1, "start": at, "end": at, "kind": "holes"}


async def test_an_offer_runs_to_edits_at_its_holes_in_one_fill():
    ls, _ = initialized()
    engine = with_engine(ls, ScriptedEngine(holes_engine))
    doc = open_doc(ls, SOURCE)
    (offer,) = await offers(ls, doc, 0, 0)
    _, edits = await action_edits(ls, offer.data)
    assert [(SOURCE[e.start : e.end], e.text) for e in edits] == [("...", "x * 2"), ("# TODO: clamp", "y = min(y, 10)")]
    assert len(engine.requests) == 1 and engine.requests[0].between == ("\n    ",)


async def test_a_hole_is_filled_with_text_only():
    ls, _ = initialized()
    # A byte-level model can emit control characters and half characters (U+FFFD); none belongs in code.
    with_engine(ls, ScriptedEngine(lambda request: ("\x01x\x10 * 2\ufffd\x0c",) * request.holes))
    doc = open_doc(ls, "def scale(x):\n    y = ...\n    return y\n")
    (offer,) = await offers(ls, doc, 0, 0)
    _, edits = await action_edits(ls, offer.data)
    assert [e.text for e in edits] == ["x * 2"]


async def test_an_action_the_model_is_not_confident_of_edits_nothing_and_says_so():
    ls, _ = initialized()
    with_engine(ls, ScriptedEngine(holes_engine, score=0.2, min_confidence=0.6))
    told = []
    ls.tell = lambda kind, text, show=False: told.append((kind, text))
    doc = open_doc(ls, SOURCE)
    (offer,) = await offers(ls, doc, 0, 0)
    _, edits = await action_edits(ls, offer.data)
    assert edits == []
    assert told and "not confident here (confidence 0.20, under 0.60)" in told[-1][1]


async def test_an_offer_for_an_older_version_or_a_place_it_no_longer_fits_is_refused():
    ls, _ = initialized()
    engine = with_engine(ls, ScriptedEngine(holes_engine))
    doc = open_doc(ls, SOURCE)
    (offer,) = await offers(ls, doc, 0, 0)
    edit(ls, doc.uri, 2, SOURCE.replace("...", "1"))
    with pytest.raises(Changed, match="changed since the action was offered"):
        await action_edits(ls, offer.data)
    with pytest.raises(Changed, match="no longer applies"):
        await action_edits(ls, {**offer.data, "version": 2, "kind": "body"})
    assert engine.requests == []


@pytest.mark.parametrize(
    "data",
    [None, {"uri": "file:///t.py"}, {"uri": "file:///t.py", "version": "1", "kind": "holes", "start": 0, "end": 0}],
)
async def test_forged_action_data_is_invalid_params_at_the_edge(data):
    ls, _ = initialized()
    open_doc(ls, SOURCE)
    with pytest.raises(BadRequest):
        await action_edits(ls, data)
    with pytest.raises(JsonRpcInvalidParams):
        await code_action_resolve(ls, types.CodeAction(title="x", data=data))


async def test_the_handlers_answer_lsp_errors_for_unknown_documents_and_changed_text():
    ls, _ = initialized()
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    unknown = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri="file:///nope.py"),
        range=whole,
        context=types.CodeActionContext([]),
    )
    with pytest.raises(JsonRpcInvalidParams, match=r"nope\.py is not open"):
        await code_action(ls, unknown)
    doc = open_doc(ls, SOURCE)
    data = {"uri": doc.uri, "version": 1, "kind": "holes", "start": 0, "end": 0}
    edit(ls, doc.uri, 2, SOURCE + "\n")
    with pytest.raises(JsonRpcContentModified):
        await code_action_resolve(ls, types.CodeAction(title="x", data=data))


async def test_a_client_without_resolve_gets_commands_and_one_with_it_gets_lazy_actions():
    plain, _ = initialized()
    at = SOURCE.index("return")
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri="file:///t.py"),
        range=types.Range(start=types.Position(line=3, character=4), end=types.Position(line=3, character=4)),
        context=types.CodeActionContext([]),
    )
    open_doc(plain, SOURCE)
    (command,) = await code_action(plain, params)
    assert isinstance(command, types.Command) and command.command == "dglsp.runAction"
    assert command.arguments[0]["start"] == at
    resolving = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"])
            )
        )
    )
    lazy, _ = initialized(resolving)
    open_doc(lazy, SOURCE)
    (action,) = await code_action(lazy, params)
    assert isinstance(action, types.CodeAction) and action.edit is None and action.data["kind"] == "holes"


def action_params(text: str, start: int, end: int, trigger: types.CodeActionTriggerKind | None = None):
    def at(offset: int) -> types.Position:
        line = text.count("\n", 0, offset)
        return types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))

    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri="file:///t.py"),
        range=types.Range(start=at(start), end=at(end)),
        context=types.CodeActionContext([], trigger_kind=trigger),
    )


LITERALS = types.ClientCapabilities(
    text_document=types.TextDocumentClientCapabilities(
        code_action=types.CodeActionClientCapabilities(
            code_action_literal_support=types.ClientCodeActionLiteralOptions(
                types.ClientCodeActionKindOptions(value_set=["refactor.rewrite"])
            )
        )
    )
)  # eglot 1.9's: literals, but no codeAction/resolve


async def test_a_client_taking_literals_gets_the_command_inside_an_action_with_the_fill_preferred():
    ls, _ = initialized(LITERALS)
    open_doc(ls, SOURCE)
    at = SOURCE.index("...")
    (action,) = await code_action(ls, action_params(SOURCE, at, at))
    assert isinstance(action, types.CodeAction) and action.title == "dglsp: Fill 2 holes"
    assert action.command.command == "dglsp.runAction" and action.command.arguments[0]["kind"] == "holes"
    assert action.is_preferred and action.edit is None


@pytest.mark.parametrize(
    ("trigger", "titles"),
    [
        (None, ["dglsp: Fill 2 holes*"]),  # eglot's sexp at point: the whole `def`, not the user's choice
        (types.CodeActionTriggerKind.Invoked, ["dglsp: Rewrite selection", "dglsp: Fill 2 holes*"]),
    ],
    ids=["guessed range", "selected by the user"],
)
async def test_a_whole_definition_around_a_hole_is_filled_by_default_and_rewritten_only_if_selected(trigger, titles):
    ls, _ = initialized(LITERALS)
    open_doc(ls, SOURCE)
    listed = await code_action(ls, action_params(SOURCE, 0, len(SOURCE) - 1, trigger))
    assert [a.title + "*" * bool(a.is_preferred) for a in listed] == titles


async def test_a_selected_part_of_a_function_prefers_its_rewrite():
    ls, _ = initialized(LITERALS)
    open_doc(ls, SOURCE)
    start = SOURCE.index("return")
    listed = await code_action(ls, action_params(SOURCE, start, start + len("return y")))
    assert [a.title + "*" * bool(a.is_preferred) for a in listed] == [
        "dglsp: Rewrite selection*",
        "dglsp: Fill 2 holes",
    ]


async def test_the_server_advertises_what_its_contract_lists():
    _, result = initialized()
    caps = result.capabilities
    assert set(caps.execute_command_provider.commands) == {c.name for c in COMMANDS}
    assert caps.code_action_provider.code_action_kinds == ["refactor.rewrite"]
    assert len({a.kind for a in ACTIONS}) == len(ACTIONS)
