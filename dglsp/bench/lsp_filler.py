"""Fill benchmark tasks through the real language server over stdio, as an editor does, and time each answer.

Each task becomes a buffer: the prefix, the indentation an editor's auto-indent puts on the new line (the
reference line's own), the cursor, a newline, the suffix. The filler opens it, asks for an invoked inline
completion at the cursor, and times the round trip from sending the request to reading the answer: JSON-RPC,
the gap finder, the model, trimming. The server runs with its own settings, as users get it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from .humaneval_tasks import InfillTask
from .infill_run import Attempt

LOAD_TIMEOUT_S = 600


@dataclass(frozen=True)
class Buffer:
    text: str
    cursor: int
    indent: str


def buffer_for(task: InfillTask) -> Buffer:
    indent = task.middle[: len(task.middle) - len(task.middle.lstrip(" \t"))]
    text = task.prefix + indent + "\n" + task.suffix
    return Buffer(text, len(task.prefix) + len(indent), indent)


def position_of(text: str, offset: int) -> types.Position:
    """utf-32 positions (the encoding this client asks for): one character is one unit."""
    line = text.count("\n", 0, offset)
    return types.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


@dataclass
class LspFiller:
    name: str
    options: dict  # initializationOptions: the model and any settings
    command: tuple[str, ...] = (sys.executable, "-m", "dglsp", "--stdio")
    client: LanguageClient | None = None
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    opened: int = 0
    model: dict = field(default_factory=dict)  # the server's model state, from dglsp/stats

    def prepare(self) -> None:
        if self.client is None:
            self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        self.client = LanguageClient("dglsp-bench", "1")
        messages: list[str] = []
        self.client.feature(types.WINDOW_LOG_MESSAGE)(lambda params: None)
        self.client.feature(types.WINDOW_SHOW_MESSAGE)(lambda params: messages.append(params.message))
        await self.client.start_io(*self.command)
        caps = types.ClientCapabilities(
            general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf32]),
            text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities()
            ),
        )
        await self.client.initialize_async(
            types.InitializeParams(capabilities=caps, initialization_options=self.options)
        )
        self.client.initialized(types.InitializedParams())
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            stats = await self.client.protocol.send_request_async("dglsp/stats", {})
            self.model = stats.model._asdict()  # custom requests come back as named tuples
            if self.model["state"] in ("ready", "error"):
                break
            await asyncio.sleep(0.1)
        if self.model["state"] != "ready":
            raise RuntimeError(f"the server's model did not load: {self.model.get('error')} {messages}")

    def fill(self, task: InfillTask, max_tokens: int) -> Attempt:
        return self.loop.run_until_complete(self._fill(task))

    async def _fill(self, task: InfillTask) -> Attempt:
        assert self.client is not None
        buffer = buffer_for(task)
        self.opened += 1
        uri = f"file:///bench/task{self.opened}.py"
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, buffer.text))
        )
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri),
            position=position_of(buffer.text, buffer.cursor),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
        start = time.perf_counter()
        result = await self.client.text_document_inline_completion_async(params)
        ms = (time.perf_counter() - start) * 1000
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
        items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
        text = items[0].insert_text if items else ""
        text = text if isinstance(text, str) else text.value
        # The buffer's own newline ends the line the fill goes on; a single-line task adds it back itself.
        fill = buffer.indent + text + ("" if task.single_line else "\n")
        return Attempt(fill, ms, 0, 0, "served" if items else "empty")

    def close(self) -> None:
        if self.client is not None:
            self.loop.run_until_complete(self._stop())
        self.loop.close()

    async def _stop(self) -> None:
        assert self.client is not None
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()
