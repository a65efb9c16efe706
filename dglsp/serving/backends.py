"""Where fills run, from the `backend` setting: the local model, a `dglsp serve-model`, or a server people
already run (`llamacpp:URL`, `ollama:URL`, `openai:URL`)."""

from __future__ import annotations

from .ar_backend import ArBackend
from .client import RemoteEngine
from .llamacpp import LlamaCppBackend
from .ollama import OllamaBackend
from .openai_compat import OpenAiBackend

SERVERS: dict[str, type[ArBackend]] = {"llamacpp": LlamaCppBackend, "ollama": OllamaBackend, "openai": OpenAiBackend}
FORMS = "local, the http(s):// URL of a dglsp serve-model, or " + ", ".join(f"{k}:URL" for k in SERVERS)

Backend = RemoteEngine | ArBackend


def parse_backend(spec: str) -> tuple[str, str]:
    """(kind, URL): kind is local, dglsp or one of SERVERS; ValueError naming the forms it may take."""
    if spec == "local":
        return "local", ""
    kind, _, rest = spec.partition(":")
    if kind in SERVERS and rest.startswith(("http://", "https://")):
        return kind, rest
    if spec.startswith(("http://", "https://")):
        return "dglsp", spec
    raise ValueError(f"backend must be {FORMS}; got {spec!r}")


def open_backend(spec: str, token: str | None = None, model: str = "", prompt: str = "auto") -> Backend:
    """The engine for a remote `spec` (not yet connected); ValueError for a malformed one."""
    kind, url = parse_backend(spec)
    if kind == "local":
        raise ValueError("backend local is the model on this machine, not a server")
    if kind == "dglsp":
        return RemoteEngine(url, token)
    if kind == "openai":
        return OpenAiBackend(url, token, model, prompt)
    return SERVERS[kind](url, token, model)
