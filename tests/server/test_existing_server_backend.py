"""The language server on a server people already run: llama.cpp's `llama-server` (tests/tiny_gguf.py's model
writes `x)` after a FIM or a chat prompt), asked through `/infill` and through its OpenAI-compatible chat route.
The gap finder, the parse-check trim and the cache work on top as with a local model."""

from __future__ import annotations

import pytest
from session import inline_params, model_ready, open_doc, position_of, start, stats, stop
from tiny_gguf import ANSWER

BEFORE, AFTER = "def show(a):\n    print(", "\n"


@pytest.mark.parametrize(
    "settings",
    [
        {"backend": "llamacpp:{url}"},
        {"backend": "openai:{url}/v1", "backendPrompt": "chat"},
    ],
    ids=["llamacpp-infill", "openai-chat"],
)
async def test_inline_completion_comes_from_the_running_server(tmp_path, llama_server_url, settings):
    options = {k: v.format(url=llama_server_url) for k, v in settings.items()}
    client = await start(tmp_path, {**options, "debounceMs": 0})
    try:
        assert await model_ready(client) == "ready"
        uri = open_doc(client, tmp_path / "show.py", BEFORE + AFTER, "python")
        at = position_of(BEFORE + AFTER, len(BEFORE))
        for _ in range(2):  # the second answer comes from dglsp's cache, not from the server
            answer = await client.text_document_inline_completion_async(inline_params(uri, at))
            assert [item.insert_text for item in answer.items] == [ANSWER]
        counts = (await stats(client))["counts"]["inline"]
        assert counts["served"] == 1 and counts["cached"] == 1
    finally:
        await stop(client)
