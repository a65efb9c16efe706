"""Fill-in-the-middle prompt formats of autoregressive code models, by family: data, so a new family is one entry.

The AR baseline finds a family by its tokens in a local tokenizer; a server's backend, which sees no tokenizer,
finds it by the model's name (or is told it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FimFormat:
    name: str
    template: str  # "{prefix}" and "{suffix}" are the document's two sides; the model writes what follows
    tokens: tuple[str, str, str]  # (prefix, suffix, middle) sentinels, each one token in the family's vocabulary
    model_names: tuple[str, ...]  # lower-case fragments of model names that use this format


FIM_FORMATS = (
    FimFormat(
        "qwen",
        "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
        ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
        ("qwen", "codegemma", "dglsp"),  # Qwen2.5-Coder, CodeGemma, dglsp's own tokenizer
    ),
    FimFormat(
        "starcoder",
        "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
        ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
        ("starcoder", "santacoder", "granite"),
    ),
    FimFormat(
        "deepseek",
        "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
        ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
        ("deepseek",),
    ),
    FimFormat("codellama", "<PRE> {prefix} <SUF>{suffix} <MID>", ("<PRE>", "<SUF>", "<MID>"), ("codellama",)),
)

# Text that ends a middle besides the model's own end of sequence (as sentinels, so a server can stop on them).
END_TOKENS = ("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|endoffill|>", "<|EOT|>", "<|im_end|>", "<EOT>")


def fim_format(name: str) -> FimFormat:
    """The family called `name`; ValueError naming the known ones."""
    for fmt in FIM_FORMATS:
        if fmt.name == name:
            return fmt
    raise ValueError(f"unknown FIM format {name!r}; known: {', '.join(f.name for f in FIM_FORMATS)}")


def format_for_model(model: str) -> FimFormat | None:
    """The family a model's name says it belongs to, or None (then only a chat prompt can carry the suffix)."""
    lowered = model.lower()
    return next((f for f in FIM_FORMATS if any(n in lowered for n in f.model_names)), None)
