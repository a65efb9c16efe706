"""Ollama as the backend: `/api/generate` with a `suffix`, which Ollama puts into the model's own FIM template."""

from __future__ import annotations

from ..engine.types import FillRequest
from .ar_backend import ArBackend, Middle


class OllamaBackend(ArBackend):
    label = "Ollama server"

    def ask_server(self) -> dict:
        tags = self.http.call("GET", "/api/tags") or {}
        served = [m.get("name", "") for m in tags.get("models", [])]
        if self.model and ":" not in self.model and f"{self.model}:latest" in served:
            self.model += ":latest"  # the name as `ollama pull` was given it
        self.pick_model(served, "ollama pull a code model, e.g. qwen2.5-coder:1.5b")
        return tags

    def complete(self, prefix: str, suffix: str, request: FillRequest, seed: int, on_step) -> Middle | None:
        body = {
            "model": self.model,
            "prompt": prefix,
            "suffix": suffix,
            "stream": False,
            "options": {"num_predict": request.max_tokens, "temperature": 0, "seed": seed},
        }
        answer = self.http.call("POST", "/api/generate", body, on_step)
        if answer is None:
            return None
        tokens, prompt = answer.get("eval_count", 0), answer.get("prompt_eval_count", 0)
        return Middle(answer.get("response", ""), tokens, prompt, ended=answer.get("done_reason", "stop") != "length")
