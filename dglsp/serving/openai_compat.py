"""An OpenAI-compatible server (vLLM, SGLang, llama.cpp, LM Studio...) as the backend.

`/v1/completions` takes no suffix on most of them (vLLM refuses it), so the suffix travels in the prompt: as the
model family's own FIM tokens when the model has them, or, for an instruction-tuned model without them (such as
DiffusionGemma behind vLLM), in a chat prompt that shows the file with the gap marked.
"""

from __future__ import annotations

import re

from ..engine.types import FillRequest
from ..models import chat
from ..models.fim import END_TOKENS, FimFormat, fim_format, format_for_model
from .ar_backend import ArBackend, Middle
from .client import RemoteDenoiser


class OpenAiBackend(ArBackend):
    label = "OpenAI-compatible server"

    def __init__(self, url: str, token: str | None = None, model: str = "", prompt: str = "auto", **kw) -> None:
        super().__init__(re.sub(r"/v1/?$", "", url.rstrip("/")), token, model, **kw)
        if prompt not in ("auto", "chat"):
            fim_format(prompt)  # an unknown family is refused here, not at the first fill
        self.prompt = prompt
        self.fim: FimFormat | None = None

    def ask_server(self) -> dict:
        listed = self.http.call("GET", "/v1/models") or {}
        models = [m for m in listed.get("data", []) if isinstance(m, dict)]
        self.pick_model([m.get("id", "") for m in models], "start it with a model")
        chosen = next(m for m in models if m.get("id") == self.model)
        if isinstance(chosen.get("max_model_len"), int):  # vLLM says how long a prompt may be
            self.denoiser = RemoteDenoiser(chosen["max_model_len"], self.denoiser.device)
        if self.prompt == "auto":
            self.fim = format_for_model(self.model)
        elif self.prompt != "chat":
            self.fim = fim_format(self.prompt)
        return listed

    def complete(self, prefix: str, suffix: str, request: FillRequest, seed: int, on_step) -> Middle | None:
        body = {"model": self.model, "max_tokens": request.max_tokens, "temperature": 0, "seed": seed}
        if self.fim is not None:
            sides = {"prefix": prefix, "suffix": suffix}
            # One pass, so a `{suffix}` written in the user's prefix stays text.
            body["prompt"] = re.sub(r"\{(prefix|suffix)\}", lambda m: sides[m[1]], self.fim.template)
            answer = self.http.call("POST", "/v1/completions", body, on_step)
            text = _choice(answer, lambda c: c.get("text", ""))
        else:
            body["messages"] = chat.messages(prefix, suffix, request.language)
            answer = self.http.call("POST", "/v1/chat/completions", body, on_step)
            content = _choice(answer, lambda c: (c.get("message") or {}).get("content") or "")
            text = chat.answer_text(content, prefix, suffix)
        if answer is None:
            return None
        usage = answer.get("usage") or {}
        finish = (answer.get("choices") or [{}])[0].get("finish_reason")
        ended = finish != "length"
        return Middle(_cut_at_end(text), usage.get("completion_tokens", 0), usage.get("prompt_tokens", 0), ended)


def _choice(answer: dict | None, text_of) -> str:
    if answer is None:
        return ""
    choices = answer.get("choices") or [{}]
    return text_of(choices[0]) if isinstance(choices[0], dict) else ""


def _cut_at_end(text: str) -> str:
    """Up to the first end-of-middle sentinel a server left in the text (not every server stops on them)."""
    cuts = [text.find(t) for t in END_TOKENS if t in text]
    return text[: min(cuts)] if cuts else text
