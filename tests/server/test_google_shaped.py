"""The real server on a directory shaped as Google's released DiffusionGemma -it (tests/google_shaped.py), as an
editor drives it: the chat layout is found from the directory, inline completion and code actions answer, and
the `layout` setting switches to chat-pinned with a reload."""

from lsprotocol import types
from session import RAW, inline_params, model_ready, open_doc, position_of, start, stats, stop, wait_for

BEFORE, AFTER = "def add(a, b):\n    return ", "\n\n\nprint(add(1, 2))\n"


async def test_inline_completion_through_the_chat_template(tmp_path, google_dir):
    client = await start(tmp_path, {"model": str(google_dir), **RAW})
    try:
        assert await model_ready(client) == "ready"
        assert (await stats(client))["model"]["layout"] == "chat"
        uri = open_doc(client, tmp_path / "add.py", BEFORE + AFTER, "python")
        answer = await client.text_document_inline_completion_async(
            inline_params(uri, position_of(BEFORE + AFTER, len(BEFORE)))
        )
        assert isinstance(answer, types.InlineCompletionList)
        for item in answer.items:  # random weights: the text is noise, but it is a fill of this one line
            assert "\n" not in item.insert_text.strip("\n") and "<FILL>" not in item.insert_text
        counts = (await stats(client))["counts"]["inline"]
        assert counts.get("served", 0) + counts.get("empty", 0) == 1 == sum(counts.values())

        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"dglsp": {"model": str(google_dir), "layout": "chat-pinned"}})
        )

        async def pinned():
            model = (await stats(client))["model"]
            return model["state"] == "ready" and model["layout"] == "chat-pinned"

        await wait_for(pinned, what="the reload into chat-pinned")
    finally:
        await stop(client)
