"""Where a model's weight memory goes, by kind of weight: what `dglsp doctor` reports, and what quantization
reaches. DiffusionGemma's experts are most of its parameters (22.8B of 25.2B in the 26B-A4B), so a quantization
that skips them (bitsandbytes through transformers quantizes nn.Linear only) leaves most of the memory as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

# First match wins: (kind, pattern on the parameter's name). Data, so a new family is a line or two.
KINDS = (
    ("vision and audio", r"vision|audio"),
    ("experts", r"(^|\.)(experts|router)(\.|$)"),
    ("attention", r"self_attn|attention"),
    ("self-conditioning", r"self_conditioning"),
    ("dense MLP", r"\.mlp\.|feed_forward|intermediate"),
    ("embeddings", r"embed|lm_head"),
    ("norms and scales", r"norm|scale"),
)
OTHER = "other"


@dataclass
class WeightKind:
    kind: str
    parameters: int = 0
    bytes: int = 0
    dtypes: set[str] = field(default_factory=set)

    @property
    def quantized(self) -> bool:
        return any(not d.startswith(("float", "bfloat")) or d.startswith("float8") for d in self.dtypes)


def weight_breakdown(model: torch.nn.Module) -> list[WeightKind]:
    """Parameters and bytes by kind, in KINDS' order (shared weights counted once, as `model.parameters()` does)."""
    kinds = {name: WeightKind(name) for name, _ in (*KINDS, (OTHER, ""))}
    for name, param in model.named_parameters():
        kind = next((k for k, pattern in KINDS if re.search(pattern, name)), OTHER)
        entry = kinds[kind]
        entry.parameters += param.numel()
        entry.bytes += param.numel() * param.element_size()
        entry.dtypes.add(str(param.dtype).removeprefix("torch."))
    return [k for k in kinds.values() if k.parameters]


def unquantized_note(kinds: list[WeightKind], quantize: str | None) -> str | None:
    """What a user who asked for `quantize` should know when the largest weights stayed as they were."""
    if not quantize:
        return None
    total = sum(k.bytes for k in kinds) or 1
    left = [k for k in kinds if not k.quantized and k.kind != "norms and scales"]
    if not left:
        return None
    big = max(left, key=lambda k: k.bytes)
    share = big.bytes / total
    if share < 0.25:
        return None
    hint = (
        " (bitsandbytes quantizes Linear layers only; --quantize fp8 or 4bit reach the experts)"
        if big.kind == "experts"
        else ""
    )
    return (
        f"--quantize {quantize} left the {big.kind} unquantized: {big.bytes / 1e9:.2f} GB, "
        f"{100 * share:.0f}% of the weight memory, stays {'/'.join(sorted(big.dtypes))}{hint}"
    )
