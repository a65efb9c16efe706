"""A model directory in compressed-tensors' FP8 format (`quant_method: compressed-tensors`, float8 weights with
a bf16 scale per output channel, activations quantized on the fly), the format of the published quantized
DiffusionGemma checkpoints, made from a dglsp model without calibration data: FP8 weight scales need none."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

FP8_MAX = 448.0  # the largest float8_e4m3fn


def make_fp8_checkpoint(source: Path, out: Path) -> Path:
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import QuantizationConfig, apply_quantization_config, preset_name_to_scheme
    from transformers import DiffusionGemmaForBlockDiffusion

    shutil.copytree(source, out, ignore=shutil.ignore_patterns("*.safetensors", "*.index.json"))
    model = DiffusionGemmaForBlockDiffusion.from_pretrained(source, dtype=torch.bfloat16)
    scheme = preset_name_to_scheme("FP8_DYNAMIC", ["Linear"])
    apply_quantization_config(model, QuantizationConfig(config_groups={"group_0": scheme}, ignore=["lm_head"]))
    for module in model.modules():
        if hasattr(module, "weight_scale"):  # what llm-compressor's observer computes for a static channel scale
            amax = module.weight.detach().float().abs().amax(dim=1, keepdim=True)
            module.weight_scale.data = (amax / FP8_MAX).to(module.weight_scale.dtype)
    compressor = ModelCompressor.from_pretrained_model(model, quantization_format="float-quantized")
    compressor.compress_model(model)
    model.save_pretrained(out)
    compressor.update_config(out)
    return out
