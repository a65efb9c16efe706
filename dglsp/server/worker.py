"""One worker thread runs the model: jobs in order, a newer job for the same key cancels the older one.

Cancellation is cooperative: a job gets a `threading.Event` and the engine checks it between denoising steps,
so a cancelled fill stops within one step, and a job still waiting in the queue never starts.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any


class Cancelled(Exception):
    """The job was cancelled or superseded before it finished."""


@dataclass(eq=False)
class Job:
    run: Callable[[threading.Event], Any]
    key: str | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    future: Future = field(default_factory=Future)
    superseded: bool = False

    def cancel(self) -> None:
        self.cancel_event.set()


class Worker:
    def __init__(self, name: str = "dglsp-model") -> None:
        self._queue: deque[Job] = deque()
        self._latest: dict[str, Job] = {}
        self._lock = threading.Condition()
        self._stopped = False
        self._running: Job | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, run: Callable[[threading.Event], Any], key: str | None = None) -> Job:
        job = Job(run, key)
        with self._lock:
            if self._stopped:
                raise RuntimeError("the model worker has stopped")
            if key is not None:
                older = self._latest.get(key)
                if older is not None and not older.future.done():
                    older.superseded = True
                    older.cancel()
                self._latest[key] = job
            self._queue.append(job)
            self._lock.notify()
        return job

    def cancel(self, key: str) -> None:
        """Stop the job for `key`, if any: e.g. its document changed and its answer could only be stale."""
        with self._lock:
            job = self._latest.get(key)
        if job is not None:
            job.cancel()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def running(self) -> str | None:
        """The key of the job the model is running now ("" for a job without one), None when idle."""
        job = self._running
        return None if job is None else job.key or ""

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for job in self._queue:
                job.cancel()
            self._lock.notify()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopped:
                    self._lock.wait()
                if not self._queue:
                    return
                job = self._queue.popleft()
            self._run(job)

    def _run(self, job: Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        self._running = job
        try:
            if job.cancel_event.is_set():
                raise Cancelled("superseded" if job.superseded else "cancelled")
            result = job.run(job.cancel_event)
        except BaseException as exc:  # a failing job must never take the worker down with it
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
        finally:
            self._running = None
            with self._lock:
                if job.key is not None and self._latest.get(job.key) is job:
                    del self._latest[job.key]
