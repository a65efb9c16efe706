"""The published quantized checkpoints' format, compressed-tensors FP8, loads through dglsp's loader as
`transformers` loads it (on a CPU the weights are decompressed at load), and fills."""

from __future__ import annotations

import json

import torch
from compressed_checkpoint import make_fp8_checkpoint
from safetensors import safe_open

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest
from dglsp.models.loader import DEFAULT_MODEL_DIR, load_model


def test_a_compressed_tensors_fp8_checkpoint_loads_and_computes_what_the_model_did(tmp_path):
    out = make_fp8_checkpoint(DEFAULT_MODEL_DIR, tmp_path / "fp8")
    assert json.loads((out / "config.json").read_text())["quantization_config"]["quant_method"] == "compressed-tensors"
    with safe_open(str(next(out.glob("*.safetensors"))), "pt") as f:
        stored = {key: f.get_slice(key).get_dtype() for key in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    assert stored["model.decoder.layers.0.self_attn.q_proj.weight"] == "F8_E4M3"

    original, fp8 = load_model(DEFAULT_MODEL_DIR), load_model(out)
    prefix, canvas = torch.tensor([list(range(30, 60))]), torch.tensor([list(range(100, 116))])
    with torch.no_grad():
        want = original.denoiser.model(input_ids=prefix, decoder_input_ids=canvas).logits
        got = fp8.denoiser.model(input_ids=prefix, decoder_input_ids=canvas).logits
    assert ((got - want).norm() / want.norm()).item() < 0.05  # 1.9% measured
    assert (got.argmax(-1) == want.argmax(-1)).float().mean().item() >= 0.9
    result = Engine(fp8).fill(FillRequest(prefix="def add(a, b):\n    return ", suffix="\n", max_tokens=8))
    assert result.steps >= 1
