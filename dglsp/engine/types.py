"""Core types shared by the engine, the command line and the server."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Literal

from ..models.generation import REFERENCE_GENERATION as _REFERENCE

# low_confidence: given up part-way, the fill scoring under the sampler's `give_up` (an answer nobody would see).
StopReason = Literal["converged", "max_steps", "cancelled", "low_confidence"]


@dataclass(frozen=True)
class FillRequest:
    """Fill the gap(s) between `prefix` and `suffix`.

    With `between` empty there is one hole. Each string in `between` is fixed code that separates two holes,
    so `prefix, hole, between[0], hole, ..., hole, suffix` is the buffer; all holes are denoised in one run.
    """

    prefix: str
    suffix: str = ""
    language: str | None = None
    max_tokens: int = 64
    between: tuple[str, ...] = ()
    # Which document asks (its URI), or "". A server with several replicas sends one document's fills to one
    # replica, so its prefix cache keeps hitting; the local engine, with its one cache, does not need it.
    document: str = ""
    # (name, text) of other files the user has open in the same language, for a backend whose server can show
    # them to its model (llama.cpp's `input_extra`); dglsp's own engine does not read them.
    other_files: tuple[tuple[str, str], ...] = ()
    # A gap that ends at the end of its line (an inline suggestion): the fill ends at its first newline, and with
    # `stop_on="fill"` denoising stops once the slots up to it are settled.
    single_line: bool = False

    @property
    def holes(self) -> int:
        return len(self.between) + 1


@dataclass(frozen=True)
class Confidence:
    """How sure the model is of its own fill, from what the sampler already has.

    `score` is the geometric mean of the probabilities the model gives the fill's tokens (its end token included)
    at the last step, at temperature 1: exp of the mean log-probability, the length-normalised likelihood that
    ranks code samples best (Codex, "mean logp"). `worst` is the least likely token; `settled`, whether every
    block met its stop rule.
    """

    score: float
    worst: float
    settled: bool
    tokens: int  # tokens scored

    @classmethod
    def of(cls, logprobs: Sequence[float], settled: bool) -> Confidence:
        if not logprobs:
            return cls(0.0, 0.0, settled, 0)
        return cls(math.exp(sum(logprobs) / len(logprobs)), math.exp(min(logprobs)), settled, len(logprobs))

    def record(self) -> dict:
        return {"score": round(self.score, 4), "worst": round(self.worst, 4), "settled": self.settled}


@dataclass(frozen=True)
class FillResult:
    fills: tuple[str, ...]
    steps: int
    tokens: int
    ms: float
    stop: StopReason
    blocks: int = 1
    prefix_tokens_encoded: int = 0
    confidence: Confidence | None = None  # None: a backend that does not say

    @property
    def text(self) -> str:
        return self.fills[0]

    @property
    def tokens_per_step(self) -> float:
        return self.tokens / self.steps if self.steps else 0.0


@dataclass(frozen=True)
class SamplerConfig:
    """Denoising settings. Defaults are DiffusionGemma's reference settings."""

    max_steps: int = _REFERENCE["max_denoising_steps"]
    entropy_bound: float = _REFERENCE["sampler_config"]["entropy_bound"]
    t_max: float = _REFERENCE["t_max"]
    t_min: float = _REFERENCE["t_min"]
    stability: int = _REFERENCE["stability_threshold"]
    confidence: float = _REFERENCE["confidence_threshold"]
    seed: int = 0
    draw: str = "inverse-cdf"  # or "multinomial": transformers' own draws, for checking against generate()
    # 0: adaptive (entropy bound). k > 0: commit exactly the k lowest-entropy open slots per step and keep them,
    # until every slot is committed (1 is the sequential schedule the parallel speed-up is measured against).
    tokens_per_step: int = 0
    # What the adaptive stop looks at: "fill" (the default), the slots up to and including each hole's first end
    # token (a newline too for a single-line request), or "canvas", every slot (the reference rule, pads after
    # the end included). "fill" never stops later; on a model that converges it stops far sooner with the same
    # fill (tests/engine/test_stop_rules.py).
    stop_on: str = "fill"
    # Give up on a fill whose confidence score is still under this at half its step budget (stop
    # "low_confidence"): the server sets its threshold here for automatic requests, which would show nothing.
    give_up: float = 0.0

    def __post_init__(self) -> None:
        if self.draw not in ("inverse-cdf", "multinomial"):
            raise ValueError(f"draw must be inverse-cdf or multinomial, got {self.draw!r}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.entropy_bound <= 0:
            raise ValueError(f"entropy_bound must be > 0, got {self.entropy_bound}")
        if not 0 < self.t_min <= self.t_max:
            raise ValueError(f"need 0 < t_min <= t_max, got t_min={self.t_min} t_max={self.t_max}")
        if self.stability < 0:
            raise ValueError(f"stability must be >= 0, got {self.stability}")
        if self.confidence <= 0:
            raise ValueError(f"confidence must be > 0, got {self.confidence}")
        if self.tokens_per_step < 0:
            raise ValueError(f"tokens_per_step must be >= 0, got {self.tokens_per_step}")
        if not 0 <= self.give_up <= 1:
            raise ValueError(f"give_up must be between 0 and 1, got {self.give_up}")
        if self.stop_on not in ("canvas", "fill"):
            raise ValueError(f"stop_on must be canvas or fill, got {self.stop_on!r}")

    def temperature(self, step: int, total: int | None = None) -> float:
        """Linear schedule from t_max at step 0 down towards t_min over `total` steps (default max_steps)."""
        total = total or self.max_steps
        return self.t_min + (self.t_max - self.t_min) * (total - step) / total

    @classmethod
    def from_generation_config(cls, gen: dict) -> SamplerConfig:
        """Read DiffusionGemma's generation_config.json keys over the reference defaults."""
        return cls().with_overrides(
            max_steps=gen.get("max_denoising_steps"),
            entropy_bound=(gen.get("sampler_config") or {}).get("entropy_bound"),
            t_max=gen.get("t_max"),
            t_min=gen.get("t_min"),
            stability=gen.get("stability_threshold"),
            confidence=gen.get("confidence_threshold"),
        )

    def generation_config_keys(self) -> dict:
        """The inverse of `from_generation_config`: what a model directory records as its tuned defaults."""
        return {
            "max_denoising_steps": self.max_steps,
            "sampler_config": {"entropy_bound": self.entropy_bound},
            "t_max": self.t_max,
            "t_min": self.t_min,
            "stability_threshold": self.stability,
            "confidence_threshold": self.confidence,
        }

    def with_overrides(self, **overrides: object) -> SamplerConfig:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in overrides.items() if k in known and v is not None})


# `dglsp bench --configs` and `dglsp train --sampler` name sampler fields by these keys (and short aliases).
CONFIG_KEYS = {f.name for f in fields(SamplerConfig)} - {"draw"}
ALIASES = {"steps": "max_steps", "k": "tokens_per_step"}


def parse_config(spec: str, base: SamplerConfig) -> tuple[str, SamplerConfig]:
    """`default`, `sequential`, or `key=value,...` over the model's sampler (keys: SamplerConfig fields)."""
    spec = spec.strip()
    if spec == "default":
        return spec, base
    if spec == "sequential":
        return spec, base.with_overrides(tokens_per_step=1)
    overrides: dict[str, float | int | str] = {}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        key = ALIASES.get(key.strip(), key.strip())
        if not sep or key not in CONFIG_KEYS:
            known = ", ".join(sorted(CONFIG_KEYS | set(ALIASES)))
            raise ValueError(f"bad sampler config {spec!r}: want default, sequential or key=value,... ({known})")
        current = getattr(base, key)
        kind = str if isinstance(current, str) else int if isinstance(current, int) else float
        try:
            overrides[key] = kind(value)
        except ValueError as exc:
            raise ValueError(f"bad value for {key} in {spec!r}: {value!r}") from exc
    return spec, base.with_overrides(**overrides)


@dataclass
class StepView:
    """What the per-step callback sees: the current best guess for every canvas position."""

    step: int
    tokens: list[int]
    accepted: int
    mean_entropy: float
