"""The one settings object: defaults < the workspace's dglsp.toml < the editor's settings, validated as a whole.

Each field carries its own description (`setting(...)`): the checks below, `dglsp describe` and the editors'
settings pages (VS Code's package.json, the Neovim plugin) all read it from here.
"""

from __future__ import annotations

import re
import stat
import tomllib
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..engine.types import SamplerConfig
from ..models.base import DECODERS, LAYOUTS, QUANTIZE
from ..models.fim import FIM_FORMATS
from ..serving.backends import parse_backend

CONFIG_FILE = "dglsp.toml"
MAX_CONFIG_BYTES = 1 << 20
LOG_LEVELS = ("error", "warning", "info", "debug")


class SettingsError(ValueError):
    pass


def setting(
    default: Any,
    doc: str,
    *,
    choices: tuple[Any, ...] | None = None,
    between: tuple[int, int] | None = None,
    model: bool = False,
    user_only: bool = False,
) -> Any:
    """A field with what an editor needs to show it: `model` ones reload the model when they change, `user_only`
    ones a cloned repository's dglsp.toml may not set (they pick the model or let it run code)."""
    meta = {"doc": doc, "choices": choices, "between": between, "model": model or user_only, "user_only": user_only}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    model: str | None = setting(
        None, "Path of the model directory (null: $DGLSP_MODEL, then the shipped model).", user_only=True
    )
    backend: str = setting(
        "local",
        "Where fills run: local (this machine's model), the http(s):// URL of a `dglsp serve-model` server, or a "
        "server you already run: llamacpp:URL (llama-server), ollama:URL, openai:URL (OpenAI-compatible).",
        user_only=True,
    )
    backend_token: str | None = setting(
        None, "The token (API key) the backend server asks for, sent as a bearer token.", user_only=True
    )
    backend_model: str = setting(
        "", "The model an Ollama or OpenAI-compatible backend uses (empty: the first it lists).", user_only=True
    )
    backend_prompt: str = setting(
        "auto",
        "How an OpenAI-compatible backend is asked for a fill: with the FIM tokens of a model family (auto: found "
        "by the model's name, else chat), or a chat prompt showing the gap (for instruction-tuned models).",
        choices=("auto", "chat", *(f.name for f in FIM_FORMATS)),
        model=True,
    )
    device: str = setting("auto", "Device the model runs on: auto, cpu, cuda, cuda:N or mps.", model=True)
    dtype: str = setting("auto", "Model dtype: auto, float32, float16 or bfloat16.", model=True)
    quantize: str | None = setting(
        None, "Quantize the model's weights (CUDA only).", choices=(*QUANTIZE, None), model=True
    )
    layout: str | None = setting(
        None,
        "How the gap is shown to the model (null: the model directory's dglsp.json, else FIM tokens give prompt and "
        "a chat template without them gives chat). chat-pinned also pins the code after the gap in the canvas.",
        choices=(*LAYOUTS, None),
        model=True,
    )
    decoder: str = setting(
        "lean",
        "Decoder step: lean (dglsp's own step over the model's weights, the fastest on a CPU), transformers' forward "
        "with dynamic shapes, bucketed static shapes, or those under torch.compile (CUDA graphs on a GPU; each new "
        "shape compiles once, so the first fills are slow).",
        choices=DECODERS,
        model=True,
    )
    allow_pickle: bool = setting(
        False,
        "Allow pickled model weights (they run code from the model files; only for models you trust).",
        user_only=True,
    )
    trust_remote_code: bool = setting(
        False, "Allow the model's own Python code to run (Hugging Face trust_remote_code).", user_only=True
    )
    sampler: dict[str, Any] = setting(
        {}, 'Sampler settings over the model\'s generation_config.json, e.g. {"maxSteps": 16, "entropyBound": 0.5}.'
    )
    enabled: bool = setting(True, "Offer completions (dglsp.toggle flips it).")
    languages: dict[str, bool] = setting(
        {}, 'Per-language switch by language id, e.g. {"lua": false}; unlisted ones are on.'
    )
    debounce_ms: int = setting(
        75,
        "Debounce of automatic completion requests, in milliseconds (an invoked request runs at once).",
        between=(0, 5000),
    )
    line_tokens: int = setting(31, "Token budget of a rest-of-line fill.", between=(1, 256))
    max_tokens: int = setting(127, "Token budget of a multi-line fill and of code actions.", between=(1, 1024))
    multiline: str = setting("auto", "When to offer multi-line fills.", choices=("auto", "always", "never"))
    min_confidence: float | None = setting(
        None,
        "The least confidence score (0 to 1, the geometric mean of the fill's token probabilities) a suggestion "
        "needs to be shown by itself (null: the model's calibrated threshold; 0 shows everything). Below it, typing "
        "shows nothing, an explicit request shows the fill marked low-confidence, and code actions say so instead "
        "of editing.",
        between=(0, 1),
    )
    parse_trim: bool = setting(True, "Cut fills back to where the buffer parses (false: the model's raw first line).")
    log_level: str = setting("info", "Server log level (only debug logs buffer text).", choices=LOG_LEVELS)
    context_tokens: int = setting(
        0,
        "Tokens of code around the gap the model sees, canvas included (0: 2048 on a CPU, 8192 on a GPU; never "
        "more than the model's positions). More context costs memory and time on every new place.",
        between=(0, 1 << 20),
        model=True,
    )
    threads: int = setting(
        0,
        "CPU threads for the model (0: the cores other programs leave free, followed as the load changes).",
        between=(0, 1024),
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f, getattr(self, f.name))
        try:
            parse_backend(self.backend)
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
        try:
            SamplerConfig().with_overrides(**self.sampler)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"sampler: {exc}") from exc
        unknown = set(self.sampler) - {f.name for f in fields(SamplerConfig)}
        if unknown:
            raise SettingsError(f"unknown sampler setting(s): {', '.join(sorted(unknown))}")

    def sampler_config(self, base: SamplerConfig) -> SamplerConfig:
        return base.with_overrides(**self.sampler)

    def language_on(self, language_id: str) -> bool:
        return self.enabled and self.languages.get(language_id, True)

    def model_changed(self, other: Settings) -> bool:
        return any(getattr(self, k) != getattr(other, k) for k in MODEL_KEYS)


def _check(f: Field, value: Any) -> None:
    choices, between = f.metadata["choices"], f.metadata["between"]
    if choices is not None and value not in choices:
        named = [c for c in choices if c is not None]
        raise SettingsError(f"{f.name} must be {_either(named)}, got {value!r}")
    if between is not None and value is not None and not between[0] <= value <= between[1]:
        raise SettingsError(f"{f.name} must be between {between[0]} and {between[1]}, got {value}")


# What decides which model runs and how it is loaded: changing one of these reloads the model.
MODEL_KEYS = tuple(f.name for f in fields(Settings) if f.metadata["model"])
# A cloned repository's dglsp.toml may tune sampling, but must not make dglsp run code or pick the model.
USER_ONLY_KEYS = tuple(f.name for f in fields(Settings) if f.metadata["user_only"])


def snake(key: str) -> str:
    """Editors send camelCase (debounceMs), TOML files use snake_case: accept both."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def normalize(raw: Any, source: str) -> dict[str, Any]:
    """A settings mapping with snake_case keys, unwrapped from a {"dglsp": {...}} section if there is one."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SettingsError(f"{source}: settings must be an object, got {type(raw).__name__}")
    if isinstance(raw.get("dglsp"), dict):
        raw = raw["dglsp"]
    known = {f.name: f for f in fields(Settings)}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = snake(key)
        if name not in known:
            raise SettingsError(f"{source}: unknown setting {key!r}")
        if name == "sampler":
            value = {snake(k): v for k, v in (value or {}).items()} if isinstance(value, dict) else value
        out[name] = value
    return out


def check_types(values: dict[str, Any], source: str) -> None:
    for f in fields(Settings):
        if f.name not in values or values[f.name] is None:
            continue
        value, expected = values[f.name], str(f.type)
        ok = {
            "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "str": isinstance(value, str),
            "str | None": isinstance(value, str),
            "float | None": isinstance(value, int | float) and not isinstance(value, bool),
        }.get(expected, isinstance(value, dict))
        if not ok:
            raise SettingsError(f"{source}: {f.name} must be {expected.replace(' | None', '')}, got {value!r}")


def read_toml(path: Path) -> dict[str, Any]:
    """The workspace file's settings; keys a repository may not set are refused with the reason."""
    try:
        info = path.stat()
        # Read on the event loop: a FIFO would block it for good, a huge file would stall it.
        if not stat.S_ISREG(info.st_mode):
            raise SettingsError(f"cannot read {path}: it is not a regular file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise SettingsError(f"cannot read {path}: {info.st_size} bytes, more than a settings file needs")
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from exc
    values = normalize(raw, str(path))
    refused = sorted(set(values) & set(USER_ONLY_KEYS))
    if refused:
        raise SettingsError(
            f"{path}: {', '.join(refused)} can only be set in your editor's settings, not in a workspace file"
        )
    return values


def merge(workspace: dict[str, Any], client: dict[str, Any]) -> Settings:
    """Client settings win over the workspace file; sampler tables merge key by key."""
    values = {**workspace, **client}
    if "sampler" in workspace or "sampler" in client:
        values["sampler"] = {**(workspace.get("sampler") or {}), **(client.get("sampler") or {})}
    check_types(values, "settings")
    try:
        return replace(Settings(), **values)
    except TypeError as exc:
        raise SettingsError(str(exc)) from exc


def _either(choices: tuple[str, ...]) -> str:
    return f"{', '.join(choices[:-1])} or {choices[-1]}"
