"""The model behind the server: loaded on the worker thread, reloaded when its settings change, and its state
(loading / ready / error with the reason) kept for the status line, `dglsp/stats` and empty answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..engine.engine import Engine
from ..engine.memory import release_memory
from ..engine.types import FillRequest
from ..models.base import ModelError, error_summary
from ..models.loader import LoadOptions, check_model_dir, load_model, resolve_model_path
from ..serving.backends import Backend, open_backend
from ..serving.http_json import BackendError, BackendUnavailable
from .cpu_share import CpuShare
from .settings import Settings

Report = Callable[[str], None]


class ModelUnavailable(RuntimeError):
    pass


@dataclass
class ModelState:
    state: str = "idle"  # idle | loading | ready | error
    path: str = ""
    device: str = ""
    layout: str = ""  # how the gap is shown to the model (models/base.py Layout); "" for a backend
    error: str = ""
    load_ms: float = 0.0
    generation: int = 0  # bumps on every load, so cached fills of an older model are not served
    kept: str = ""  # why the last reload did not happen, while this model goes on serving


class ModelHost:
    def __init__(self) -> None:
        self.engine: Engine | Backend | None = None
        self.status = ModelState()
        self.threads = 0
        self._default_threads = torch.get_num_threads()  # torch's own choice: one per physical core
        self._worker_threads = self._default_threads
        self._share: CpuShare | None = None

    def load(self, settings: Settings, report: Report) -> ModelState:
        """Load the model the settings name (called on the worker thread); on failure keep the reason.

        The directory is checked before the model in use is let go: a deleted, damaged or half-written model
        then costs nothing, and the old model goes on serving (`status.kept` says why)."""
        start = time.perf_counter()
        if settings.backend != "local":
            return self._connect(settings, report, start)
        if self.engine is None or not isinstance(self.engine, Engine):
            self.engine = None
            self.status = ModelState(state="loading", generation=self.status.generation + 1)
        try:
            path = resolve_model_path(settings.model)
            check_model_dir(path, settings.allow_pickle)
        except ModelError as exc:
            if self.engine is not None:
                self.status = replace(self.status, kept=str(exc))
                return self.status
            return self._failed(str(exc))
        if self.engine is not None:
            device, self.engine = self.engine.denoiser.device, None
            release_memory(device)  # two large models rarely fit side by side
            self.status = ModelState(state="loading", generation=self.status.generation + 1)
        self.status.path = str(path)
        try:
            report(f"loading {path}")
            model = load_model(path, LoadOptions.from_attributes(settings))
            report("warming up")
            engine = Engine(model, context_tokens=settings.context_tokens)
            # One tiny fill first, so the user's first request does not pay for lazy initialisation.
            engine.fill(FillRequest(prefix="\n", max_tokens=1), replace(engine.sampler, max_steps=1))
        except ModelError as exc:
            return self._failed(str(exc))
        except Exception as exc:  # out of memory, a corrupt file: the server must stay up and say why
            return self._failed(f"{type(exc).__name__}: {error_summary(exc)}")
        self.engine = engine
        self.status.state = "ready"
        self.status.device = str(model.denoiser.device)
        self.status.layout = model.info["layout"]
        self.status.load_ms = (time.perf_counter() - start) * 1000
        return self.status

    def _connect(self, settings: Settings, report: Report, start: float) -> ModelState:
        """A server as the engine (`dglsp serve-model`, llama.cpp, Ollama, OpenAI-compatible). One that does not
        answer yet is still used: each fill tries it again, and says why when it cannot."""
        try:
            engine = open_backend(
                settings.backend, settings.backend_token, settings.backend_model, settings.backend_prompt
            )
        except ValueError as exc:
            return self._failed(str(exc))
        if isinstance(self.engine, Engine):
            device, self.engine = self.engine.denoiser.device, None
            release_memory(device)
        report(f"connecting to {settings.backend}")
        try:
            engine.connect()
            error = ""
        except (BackendUnavailable, BackendError) as exc:
            error = str(exc)  # said once; the fills go on trying
        self.engine = engine
        generation, ms = self.status.generation + 1, (time.perf_counter() - start) * 1000
        self.status = ModelState(
            "ready", settings.backend, engine.denoiser.device, error=error, load_ms=ms, generation=generation
        )
        return self.status

    def queued(self) -> None:
        """A load is on its way (called when it is queued): without a model, say "loading" from now on."""
        if self.engine is None:
            self.status = replace(self.status, state="loading", error="")

    def _failed(self, reason: str) -> ModelState:
        self.status = replace(self.status, state="error", error=reason)
        return self.status

    def set_threads(self, threads: int) -> None:
        """n: exactly n threads for the model; 0: as many as the rest of the machine leaves free (cpu_share)."""
        self.threads = threads
        if threads == 0 and self._share is None:
            self._share = CpuShare(most=self._default_threads)
        elif threads and self._share is not None:
            self._share.stop()
            self._share = None

    def stop(self) -> None:
        if self._share is not None:
            self._share.stop()

    def _size_threads(self) -> None:
        # torch.set_num_threads must run on the thread that runs the model: OpenMP keeps the count per calling
        # thread, so a count set on the event loop leaves the worker's matrix products on every core.
        wanted = self.threads or (self._share.threads() if self._share else self._default_threads)
        if wanted != self._worker_threads:
            torch.set_num_threads(wanted)
            self._worker_threads = wanted

    def require(self) -> Engine | Backend:
        """The engine, for a job on the worker thread, with the CPU threads sized for this moment."""
        if self.engine is None:
            if self.status.state == "error":
                raise ModelUnavailable(f"the model failed to load: {self.status.error}")
            raise ModelUnavailable(f"the model is {self.status.state}")
        self._size_threads()
        return self.engine
