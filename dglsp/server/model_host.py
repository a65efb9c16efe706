"""The model behind the server: loaded on the worker thread, reloaded when its settings change, and its state
(loading / ready / error with the reason) kept for the status line, `dglsp/stats` and empty answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..engine.engine import Engine
from ..engine.types import FillRequest
from ..models.base import ModelError
from ..models.loader import LoadOptions, load_model, resolve_model_path
from .settings import Settings

Report = Callable[[str], None]


class ModelUnavailable(RuntimeError):
    pass


@dataclass
class ModelState:
    state: str = "idle"  # idle | loading | ready | error
    path: str = ""
    device: str = ""
    error: str = ""
    load_ms: float = 0.0
    generation: int = 0  # bumps on every load, so cached fills of an older model are not served


class ModelHost:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.status = ModelState()

    def load(self, settings: Settings, report: Report) -> ModelState:
        """Load the model the settings name (called on the worker thread); on failure keep the reason."""
        self.engine = None
        self.status = ModelState(state="loading", generation=self.status.generation + 1)
        start = time.perf_counter()
        try:
            path = resolve_model_path(settings.model)
            self.status.path = str(path)
            report(f"loading {path}")
            model = load_model(path, LoadOptions.from_attributes(settings))
            report("warming up")
            engine = Engine(model)
            # One tiny fill first, so the user's first request does not pay for lazy initialisation.
            engine.fill(FillRequest(prefix="\n", max_tokens=1), replace(engine.sampler, max_steps=1))
        except ModelError as exc:
            return self._failed(str(exc))
        except Exception as exc:  # out of memory, a corrupt file: the server must stay up and say why
            return self._failed(f"{type(exc).__name__}: {exc}")
        self.engine = engine
        self.status.state = "ready"
        self.status.device = str(model.denoiser.device)
        self.status.load_ms = (time.perf_counter() - start) * 1000
        return self.status

    def _failed(self, reason: str) -> ModelState:
        self.status.state = "error"
        self.status.error = reason
        return self.status

    @staticmethod
    def set_threads(threads: int) -> None:
        """On a laptop the editor needs a core too; 0 leaves torch's own choice."""
        if threads:
            import torch

            torch.set_num_threads(threads)

    def require(self) -> Engine:
        if self.engine is None:
            if self.status.state == "error":
                raise ModelUnavailable(f"the model failed to load: {self.status.error}")
            raise ModelUnavailable(f"the model is {self.status.state}")
        return self.engine
