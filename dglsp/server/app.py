"""The language server's state and plumbing: settings, the model and its worker, messages to the user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__
from ..engine.memory import OutOfMemory
from .config_watch import ConfigWatcher
from .documents import Documents
from .fill_cache import FillCache
from .model_host import ModelHost
from .protocol import ClientTimeout, DglspProtocol
from .settings import CONFIG_FILE, Settings, SettingsError, merge, normalize, read_toml
from .stats import Stats
from .transport import serve_stdio, watch_parent
from .worker import Worker

log = logging.getLogger("dglsp")
LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}
MESSAGE_TYPES = {"error": types.MessageType.Error, "warning": types.MessageType.Warning, "info": types.MessageType.Info}


class DglspServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "dglsp",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=DglspProtocol,
        )
        self.documents = Documents()
        self.worker = Worker()
        self.host = ModelHost()
        self.stats = Stats()
        self.cache = FillCache()
        self.settings = Settings()
        self.root: Path | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.watcher: ConfigWatcher | None = None
        self._workspace_values: dict[str, Any] = {}
        self._startup_values: dict[str, Any] = {}  # initializationOptions
        self._client_values: dict[str, Any] = {}  # the editor's settings since (didChangeConfiguration)
        self._toggled: dict[str, Any] = {}  # dglsp.toggle's switch, over whatever the editor's settings say
        self._progress = 0
        self._requests: dict[str, int] = {}
        self._told: set[str] = set()
        self.protocol.on_timeout = self._client_timed_out

    # --- position encoding and context -------------------------------------------------------------------
    @property
    def encoding(self) -> str:
        return self.workspace.position_encoding or types.PositionEncodingKind.Utf16

    @property
    def context_chars(self) -> int:
        """Characters of code around a gap worth sending: about four per position of the context budget."""
        engine = self.host.engine
        return 4 * (engine.context_tokens if engine else 512)

    # --- settings ------------------------------------------------------------------------------------------
    def start(self, params: types.InitializeParams) -> None:
        self.loop = asyncio.get_running_loop()
        if params.process_id:
            watch_parent(
                params.process_id, lambda: self.exit_because(f"the editor (process {params.process_id}) exited")
            )
        folders = params.workspace_folders or []
        root_uri = folders[0].uri if folders else params.root_uri
        self.root = Path(to_fs_path(root_uri)) if root_uri else None
        try:
            self._startup_values = normalize(params.initialization_options, "initializationOptions")
        except SettingsError as exc:
            self.tell("error", f"dglsp: {exc}; using the defaults")
        self.reload_workspace_file(announce=False)

    def config_path(self) -> Path | None:
        return self.root / CONFIG_FILE if self.root else None

    def reload_workspace_file(self, announce: bool = True) -> None:
        path = self.config_path()
        try:
            self._workspace_values = read_toml(path) if path else {}
        except SettingsError as exc:
            self.tell("error", f"dglsp: {exc}; keeping the last good settings")
            return
        self.apply_settings(announce=announce, source=str(path))

    def set_client_settings(self, raw: Any) -> None:
        try:
            self._client_values = normalize(raw, "settings")
            if "enabled" in self._client_values:
                self._toggled = {}  # the user said what they want: that replaces an earlier toggle
        except SettingsError as exc:
            self.tell("error", f"dglsp: {exc}; keeping the last good settings")
            return
        self.apply_settings(source="the editor's settings")

    def toggle(self) -> bool:
        self._toggled = {"enabled": not self.settings.enabled}
        self.apply_settings(source="dglsp.toggle")
        return self.settings.enabled

    def apply_settings(self, announce: bool = True, source: str = "settings") -> None:
        try:
            # The editor's later settings lie over its startup ones, not in place of them: eglot sends an empty
            # `{"settings": {}}` right after the first didOpen, which must not undo its initializationOptions.
            new = merge(self._workspace_values, {**self._startup_values, **self._client_values, **self._toggled})
        except SettingsError as exc:
            self.tell("error", f"dglsp: {exc} (from {source}); keeping the last good settings")
            return
        old, self.settings = self.settings, new
        logging.getLogger().setLevel(LEVELS[new.log_level])
        self.host.set_threads(new.threads)
        self.cache.clear()
        if announce:
            self.tell("info", f"dglsp: settings reloaded from {source}", show=False)
            if new.model_changed(old):
                self.load_model()

    # --- requests ------------------------------------------------------------------------------------------
    def next_request(self, uri: str) -> int:
        """Number this document's newest request: older ones still waiting are superseded by it."""
        self._requests[uri] = self._requests.get(uri, 0) + 1
        return self._requests[uri]

    def latest_request(self, uri: str) -> int:
        return self._requests.get(uri, 0)

    # --- the model -----------------------------------------------------------------------------------------
    def load_model(self) -> None:
        """Queue a (re)load on the worker, with $/progress when the client shows it."""
        token = f"dglsp-load-{self._progress}"
        self._progress += 1
        progress = self._progress_supported()
        if progress:
            self.work_done_progress.create(token)
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title="dglsp: loading model"))
        settings = self.settings

        def report(message: str) -> None:
            log.info("model: %s", message)
            if progress:
                self.threadsafe(self.work_done_progress.report, token, types.WorkDoneProgressReport(message=message))

        def run(_cancel: threading.Event):
            status = self.host.load(settings, report)
            self._told.clear()
            if progress:
                end = f"{status.state}: {status.path}" if status.state == "ready" else status.error
                self.threadsafe(self.work_done_progress.end, token, types.WorkDoneProgressEnd(message=end))
            if status.kept:
                self.threadsafe(
                    self.tell,
                    "warning",
                    f"dglsp: the model was not reloaded: {status.kept}. The model already loaded ({status.path}) "
                    "goes on serving; run `dglsp.reloadModel` once the directory is whole again.",
                )
            elif status.state == "ready" and status.error:  # a remote backend that does not answer yet
                self.threadsafe(self.tell, "warning", f"dglsp: {status.error}; each fill tries it again")
            elif status.state == "ready":
                self.threadsafe(
                    self.tell,
                    "info",
                    f"dglsp: model ready ({status.path} on {status.device}, {status.load_ms:.0f} ms)",
                    show=False,
                )
            else:
                self.threadsafe(
                    self.tell,
                    "error",
                    f"dglsp: the model could not be loaded: {status.error}. "
                    "Completions are off until `model` in the settings points to a good model.",
                )

        self.host.queued()
        self.worker.submit(run)

    def _progress_supported(self) -> bool:
        caps = self.client_capabilities
        return bool(caps and caps.window and caps.window.work_done_progress)

    # --- talking to the user -------------------------------------------------------------------------------
    def tell(self, level: str, message: str, show: bool | None = None) -> None:
        """Log to stderr and window/logMessage; errors and warnings also pop up (window/showMessage)."""
        log.log(LEVELS[level], "%s", message)
        kind = MESSAGE_TYPES.get(level, types.MessageType.Log)
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
            if show or (show is None and level in ("error", "warning")):
                self.window_show_message(types.ShowMessageParams(type=kind, message=message))
        except Exception:  # no client connected (yet): stderr has it
            log.debug("could not send a message to the client", exc_info=True)

    def tell_once(self, level: str, message: str) -> None:
        """For what would otherwise repeat on every keystroke (no model): said once until the state changes."""
        if message not in self._told:
            self._told.add(message)
            self.tell(level, message)

    def _client_timed_out(self, timeout: ClientTimeout) -> None:
        self.stats.count(timeout.method, "timeout")
        log.warning("dglsp: %s; stopped waiting and sent $/cancelRequest", timeout)

    def tell_out_of_memory(self, exc: OutOfMemory) -> None:
        """Each time in the log, once as a pop-up: a long file can run out on every keystroke."""
        self.tell("warning", f"dglsp: {exc}", show=False)
        self.tell_once(
            "error",
            f"dglsp: out of memory on {exc.device}; that fill was dropped and dglsp goes on. Lower maxTokens or "
            "lineTokens, close what else uses the memory, or use a smaller (or quantized) model.",
        )

    def threadsafe(self, fn: Callable, *args, **kwargs) -> None:
        """Run `fn` on the event loop: only that thread may write to the client."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(lambda: fn(*args, **kwargs))

    def watch_workspace_file(self) -> None:
        path = self.config_path()
        if path is not None and path.parent.is_dir():
            self.watcher = ConfigWatcher(path, lambda: self.threadsafe(self.reload_workspace_file))

    def stop(self) -> None:
        if self.watcher:
            self.watcher.stop()
        self.worker.stop()
        self.host.stop()

    def exit_because(self, reason: str) -> None:
        """Leave at once: nobody is left to answer (a fill in flight has no one to apply it)."""
        log.warning("%s; exiting", reason)
        self.leave(0)

    def leave(self, code: int) -> NoReturn:
        """End the process without Python's finalization: a model job still running on the worker thread (a load
        when `exit` came) is native code, and tearing the interpreter down under it aborts the process
        ("terminate called without an active exception", SIGABRT). Nothing is lost: the server writes only its
        stdout (the LSP stream) and stderr (the log), both flushed here; a kill at any moment leaves no file."""
        self.stop()
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)

    def start_io(self, stdin=None, stdout=None) -> int:
        return serve_stdio(self, stdin, stdout)
