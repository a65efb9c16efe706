"""The one settings object: defaults < the workspace's dglsp.toml < the editor's settings, validated as a whole."""

from __future__ import annotations

import re
import stat
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..engine.types import SamplerConfig
from ..models.base import DECODERS, QUANTIZE

CONFIG_FILE = "dglsp.toml"
MAX_CONFIG_BYTES = 1 << 20
LOG_LEVELS = ("error", "warning", "info", "debug")
# What decides which model runs and how it is loaded: changing one of these reloads the model.
MODEL_KEYS = ("model", "device", "dtype", "quantize", "decoder", "allow_pickle", "trust_remote_code")
# A cloned repository's dglsp.toml may tune sampling, but must not make dglsp run code or pick the model.
USER_ONLY_KEYS = ("model", "allow_pickle", "trust_remote_code")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # None: $DGLSP_MODEL, then the shipped model
    device: str = "auto"
    dtype: str = "auto"
    quantize: str | None = None
    decoder: str = "dynamic"  # dynamic | static | compiled (see models/static_decoder.py)
    allow_pickle: bool = False
    trust_remote_code: bool = False
    sampler: dict[str, Any] = field(default_factory=dict)  # SamplerConfig fields over the model's own defaults
    enabled: bool = True
    languages: dict[str, bool] = field(default_factory=dict)  # languageId -> on/off; unlisted ones are on
    debounce_ms: int = 75  # automatic triggers only; an invoked request runs at once
    line_tokens: int = 31
    max_tokens: int = 127  # multi-line fills and code actions
    multiline: str = "auto"  # auto | always | never
    parse_trim: bool = True  # cut fills back to where the buffer parses; off shows the model's raw first line
    log_level: str = "info"
    threads: int = 0  # CPU threads for the model; 0: the cores other programs leave free (see cpu_share.py)

    def __post_init__(self) -> None:
        checks = [
            (self.quantize in (None, *QUANTIZE), f"quantize must be {_either(QUANTIZE)}, got {self.quantize!r}"),
            (self.decoder in DECODERS, f"decoder must be {_either(DECODERS)}, got {self.decoder!r}"),
            (
                self.multiline in ("auto", "always", "never"),
                f"multiline must be auto, always or never, got {self.multiline!r}",
            ),
            (self.log_level in LOG_LEVELS, f"log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"),
            (0 <= self.debounce_ms <= 5000, f"debounce_ms must be between 0 and 5000, got {self.debounce_ms}"),
            (1 <= self.line_tokens <= 256, f"line_tokens must be between 1 and 256, got {self.line_tokens}"),
            (1 <= self.max_tokens <= 1024, f"max_tokens must be between 1 and 1024, got {self.max_tokens}"),
            (0 <= self.threads <= 1024, f"threads must be between 0 and 1024, got {self.threads}"),
        ]
        for ok, message in checks:
            if not ok:
                raise SettingsError(message)
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
