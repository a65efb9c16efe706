"""Watch the workspace's dglsp.toml (created, edited or deleted) and call back on every change."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("dglsp")


class ConfigWatcher:
    def __init__(self, path: Path, on_change: Callable[[], None], debounce_ms: int = 100) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(on_change, debounce_ms), name="dglsp-config-watch", daemon=True
        )
        self._thread.start()

    def _run(self, on_change: Callable[[], None], debounce_ms: int) -> None:
        from watchfiles import watch

        name = self.path.name
        try:
            # The folder, not the file: the file may not exist yet, and editors save by replacing it.
            for _changes in watch(
                self.path.parent,
                watch_filter=lambda _change, p: Path(p).name == name,
                recursive=False,
                debounce=debounce_ms,
                stop_event=self._stop,
            ):
                on_change()
        except Exception:  # the folder went away, or the OS refused a watch: settings just stop reloading
            log.warning("dglsp: stopped watching %s", self.path, exc_info=True)

    def stop(self) -> None:
        self._stop.set()
