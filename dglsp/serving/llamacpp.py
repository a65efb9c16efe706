"""llama.cpp's `llama-server` as the backend: its `/infill` builds the FIM prompt from the GGUF's own tokens."""

from __future__ import annotations

from ..engine.types import FillRequest
from .ar_backend import ArBackend, Middle
from .client import RemoteDenoiser


class LlamaCppBackend(ArBackend):
    label = "llama.cpp server"
    shows_other_files = True  # as `input_extra`: the server puts them before the FIM prompt, as far as they fit

    def ask_server(self) -> dict:
        props = self.http.call("GET", "/props") or {}
        n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx") or props.get("n_ctx")
        if isinstance(n_ctx, int) and n_ctx > 0:
            self.denoiser = RemoteDenoiser(n_ctx, self.denoiser.device)
        return props

    def complete(self, prefix: str, suffix: str, request: FillRequest, seed: int, on_step) -> Middle | None:
        body = {
            "input_prefix": prefix,
            "input_suffix": suffix,
            "n_predict": request.max_tokens,
            "temperature": 0,
            "seed": seed,
            "cache_prompt": True,  # the next keystroke's prompt mostly repeats this one
            "stream": False,
        }
        if request.other_files:
            body["input_extra"] = [{"filename": name, "text": text} for name, text in request.other_files]
        answer = self.http.call("POST", "/infill", body, on_step)
        if answer is None:
            return None
        tokens, prompt = answer.get("tokens_predicted", 0), answer.get("tokens_evaluated", 0)
        return Middle(answer.get("content", ""), tokens, prompt, ended=answer.get("stop_type", "eos") != "limit")
