"""Weight memory by kind: what `dglsp doctor` reports, adding up to the model's parameter count."""

from __future__ import annotations

import subprocess
import sys

import torch

from dglsp.models.loader import LoadOptions, load_model
from dglsp.models.weights import weight_breakdown


def test_the_kinds_add_up_to_the_parameters_and_find_diffusion_gemma_s_experts(dg_dir):
    model = load_model(dg_dir, LoadOptions())
    net = model.denoiser.model
    kinds = {k.kind: k for k in weight_breakdown(net)}
    assert sum(k.parameters for k in kinds.values()) == model.info["parameters"]
    assert sum(k.bytes for k in kinds.values()) == sum(p.numel() * p.element_size() for p in net.parameters())
    experts = sum(p.numel() for n, p in net.named_parameters() if ".experts." in n or ".router." in n)
    assert kinds["experts"].parameters == experts > 0
    assert {"attention", "embeddings", "dense MLP", "self-conditioning"} <= set(kinds)
    assert not any(k.quantized for k in kinds.values())


def test_an_int8_weight_is_reported_as_quantized():
    net = torch.nn.Module()
    net.experts = torch.nn.Module()
    net.experts.down = torch.nn.Parameter(torch.zeros(4, 4, dtype=torch.int8), requires_grad=False)
    (experts,) = weight_breakdown(net)
    assert experts.kind == "experts" and experts.quantized and experts.bytes == 16


def test_doctor_prints_the_breakdown(dg_dir):
    done = subprocess.run(
        [sys.executable, "-m", "dglsp", "doctor", "--model", str(dg_dir)], capture_output=True, text=True, timeout=300
    )
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("weights")]
    assert done.returncode == 0 and rows[0][1:] == ["kind", "parameters", "MB", "dtype", "quantized"]
    assert any(row[1] == "experts" for row in rows) and rows[-1][1] == "total"


def kind(name: str, gb: float, dtype: str):
    from dglsp.models.weights import WeightKind

    return WeightKind(name, parameters=int(gb * 1e9 / 2), bytes=int(gb * 1e9), dtypes={dtype})


def test_doctor_says_when_a_quantization_left_the_experts_as_they_were():
    from dglsp.models.weights import unquantized_note

    # DiffusionGemma 26B-A4B under bitsandbytes 8-bit: its Linear layers shrink, its 3-D experts do not.
    bnb = [kind("experts", 45.6, "bfloat16"), kind("attention", 0.6, "uint8"), kind("embeddings", 1.5, "bfloat16")]
    note = unquantized_note(bnb, "8bit")
    assert note.startswith("--quantize 8bit left the experts unquantized: 45.60 GB, 96% of the weight memory")
    assert "--quantize fp8 or 4bit reach the experts" in note
    fp8 = [
        kind("experts", 22.8, "float8_e4m3fn"),
        kind("attention", 0.6, "float8_e4m3fn"),
        kind("norms", 0.1, "bfloat16"),
    ]
    assert unquantized_note(fp8, "fp8") is None
    assert unquantized_note(bnb, None) is None  # nothing was asked for
