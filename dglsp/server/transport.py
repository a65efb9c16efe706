"""stdio as pygls reads it, made to survive a garbled header, and a watch on the editor's process."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async

log = logging.getLogger("dglsp")
HEADER = b"Content-Length:"


class ResyncingReader:
    """pygls' stdin reader, but a header that follows junk on the same line is still found.

    pygls only matches a header at the start of a line, so one body sent without its header (or with a bad
    one) glues itself to the next header line and every later message is lost: the server goes deaf.
    """

    def __init__(self, inner: StdinAsyncReader) -> None:
        self.inner = inner

    async def readline(self) -> bytes:
        line = await self.inner.readline()
        at = line.find(HEADER)
        if at > 0:
            log.warning("skipped %d bytes of junk before a header", at)
            return line[at:]
        return line

    def readexactly(self, n: int):
        return self.inner.readexactly(n)


def serve_stdio(server, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """pygls' LanguageServer.start_io, with the resyncing reader; returns the exit code `exit` asked for (LSP: 0
    after a shutdown request, 1 without one)."""
    code = 0
    server._stop_event = threading.Event()
    reader = ResyncingReader(StdinAsyncReader(stdin or sys.stdin.buffer, server.thread_pool))
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    try:
        asyncio.run(
            run_async(
                stop_event=server._stop_event,
                reader=reader,
                protocol=server.protocol,
                logger=log,
                error_handler=server.report_server_error,
            )
        )
    except BrokenPipeError:
        log.error("the client closed the connection; exiting")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return code


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def watch_parent(pid: int, on_gone: Callable[[], None], every_s: float = 2.0) -> threading.Thread | None:
    """Call `on_gone` once the editor's process (initialize's processId) has exited."""
    if os.name == "nt":
        return None  # os.kill(pid, 0) would terminate the process on Windows

    def run() -> None:
        stop = threading.Event()
        while not stop.wait(every_s):
            if not alive(pid):
                on_gone()
                return

    thread = threading.Thread(target=run, name="dglsp-parent-watch", daemon=True)
    thread.start()
    return thread
