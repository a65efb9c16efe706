"""Make an untrained model directory (random weights, a BPE tokenizer) that loads like any other.

Used by `dglsp init-model`, the tests and the benchmarks: the same files, config classes and loading path a
trained model takes.
"""

from __future__ import annotations

import sysconfig
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .export import save_model_dir
from .generation import REFERENCE_GENERATION
from .tokenizer import END_OF_FILL, train_tokenizer


@dataclass(frozen=True)
class Size:
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    experts: int
    top_k: int
    expert_width: int
    sliding_window: int
    max_positions: int
    corpus_files: int  # stdlib files the tokenizer is trained on


SIZES = {
    "tiny": Size(512, 64, 2, 4, 2, 16, 128, 4, 2, 32, 16, 2048, 12),
    "small": Size(8192, 384, 6, 6, 2, 64, 1024, 4, 2, 256, 512, 4096, 400),
    # The shipped model's shape (dglsp train --config default): 512 positions keep each decoder step cheap on a
    # laptop CPU, since the suffix rides in the decoder beside the canvas.
    "default": Size(8192, 256, 4, 4, 2, 64, 768, 4, 2, 128, 512, 512, 400),
}
# Gemma 4's vision tower is always built; a one-layer, 16-wide stub keeps it out of the way.
VISION_STUB = {
    "model_type": "gemma4_vision",
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 8,
}


def stdlib_files(limit: int) -> list[Path]:
    """A small sample of real code: the standard library's top-level modules over 2 kB, in name order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return [p for p in sorted(root.glob("*.py")) if p.stat().st_size > 2000][:limit]


def diffusion_gemma_config(size: Size, vocab: int, canvas_length: int = 256):
    from transformers import DiffusionGemmaConfig

    sliding = max(1, size.layers - 1)
    text = {
        "vocab_size": vocab,
        "hidden_size": size.hidden,
        "intermediate_size": size.intermediate,
        "num_hidden_layers": size.layers,
        "num_attention_heads": size.heads,
        "num_key_value_heads": size.kv_heads,
        "head_dim": size.head_dim,
        # Not saved in config.json; equal to head_dim so a reload builds the same full-attention layers.
        "global_head_dim": size.head_dim,
        "num_experts": size.experts,
        "top_k_experts": size.top_k,
        "moe_intermediate_size": size.expert_width,
        "sliding_window": size.sliding_window,
        "layer_types": ["sliding_attention"] * sliding + ["full_attention"] * (size.layers - sliding),
        "max_position_embeddings": size.max_positions,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "bos_token_id": 2,
    }
    return DiffusionGemmaConfig(text_config=text, vision_config=dict(VISION_STUB), canvas_length=canvas_length)


def new_diffusion_gemma(size: Size, vocab: int, canvas_length: int = 256, seed: int = 0):
    """Random weights, with the sampler defaults dglsp starts from in generation_config."""
    from transformers import DiffusionGemmaForBlockDiffusion
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        DiffusionGemmaGenerationConfig,
        EntropyBoundSamplerConfig,
    )

    torch.manual_seed(seed)
    model = DiffusionGemmaForBlockDiffusion(diffusion_gemma_config(size, vocab, canvas_length))
    keys = REFERENCE_GENERATION
    model.generation_config = DiffusionGemmaGenerationConfig(
        **{k: v for k, v in keys.items() if k != "sampler_config"},
        sampler_config=EntropyBoundSamplerConfig(**keys["sampler_config"]),
        bos_token_id=2,
        eos_token_id=1,
        pad_token_id=0,
    )
    return model


def make_blank_model(
    out: str | Path,
    family: str = "diffusion_gemma",
    size: str = "tiny",
    seed: int = 0,
    canvas_length: int = 256,
    tokenizer=None,
    max_positions: int | None = None,
) -> Path:
    """A random-weight model of `size`, saved as users' models are; `max_positions` overrides the size's (131072,
    the config class's default, makes a model whose positions alone must not size the context)."""
    spec = SIZES[size] if max_positions is None else replace(SIZES[size], max_positions=max_positions)
    tokenizer = tokenizer or train_tokenizer(stdlib_files(spec.corpus_files), spec.vocab)
    vocab = len(tokenizer)
    if family == "diffusion_gemma":
        model = new_diffusion_gemma(spec, vocab, canvas_length, seed)
        notes = {"layout": "infill", "end_of_fill": END_OF_FILL, "trained": False}
    elif family == "masked":
        from transformers import BertConfig, BertForMaskedLM

        torch.manual_seed(seed)
        config = BertConfig(
            vocab_size=vocab,
            hidden_size=spec.hidden,
            num_hidden_layers=spec.layers,
            num_attention_heads=spec.heads,
            intermediate_size=spec.intermediate,
            max_position_embeddings=min(spec.max_positions, 1024),
            pad_token_id=tokenizer.pad_token_id,
        )
        model = BertForMaskedLM(config)
        notes = {"layout": "infill", "trained": False}
    else:
        raise ValueError(f"unknown family {family!r}: diffusion_gemma or masked")
    return save_model_dir(model, tokenizer, out, notes)
