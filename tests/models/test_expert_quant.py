"""4-bit experts (models/expert_quant.py): DiffusionGemma's fused 3-D expert weights, which bitsandbytes does not
reach, packed two values a byte, and the model still computing what it computed."""

from __future__ import annotations

import copy

import pytest
import torch

from dglsp.models.expert_quant import Int4Experts, dequantize_int4, group_for, quantize_experts, quantize_int4
from dglsp.models.loader import load_model
from dglsp.models.weights import weight_breakdown


def test_each_weight_comes_back_within_half_a_step_of_its_group():
    weight = torch.randn(3, 16, 128) * torch.linspace(0.01, 3, 128)  # groups of very different ranges
    packed, scale = quantize_int4(weight, 64)
    assert packed.dtype == torch.uint8 and packed.shape == (3, 16, 64) and scale.shape == (3, 16, 2)
    back = dequantize_int4(packed, scale, torch.float32)
    step = scale.repeat_interleave(64, dim=-1)
    assert torch.all((back - weight).abs() <= step / 2 + 1e-6)


def test_the_group_divides_the_inputs():
    assert group_for(2816) == 64 and group_for(704) == 64 and group_for(32) == 32 and group_for(48) == 16
    with pytest.raises(ValueError, match="cannot be split"):
        group_for(7)


@pytest.fixture(scope="module")
def pair(dg_dir):
    net = load_model(dg_dir).denoiser.model
    return net, copy.deepcopy(net)


def test_the_4_bit_module_computes_what_the_original_does_with_the_dequantized_weights(pair):
    net, _ = pair
    experts = copy.deepcopy(net.model.decoder.layers[0].experts)
    packed = Int4Experts(experts, group=32)
    with torch.no_grad():
        experts.gate_up_proj.copy_(torch.stack([packed.weight("gate_up_proj", e) for e in range(packed.num_experts)]))
        experts.down_proj.copy_(torch.stack([packed.weight("down_proj", e) for e in range(packed.num_experts)]))
        hidden = torch.randn(10, experts.hidden_dim)
        index = torch.randint(0, packed.num_experts, (10, 2))
        weights = torch.rand(10, 2)
        torch.testing.assert_close(packed(hidden, index, weights), experts(hidden, index, weights))


def test_a_quantized_model_keeps_its_experts_in_a_sixth_of_the_memory(pair):
    _, net = pair
    layers = net.config.text_config.num_hidden_layers
    float_bytes = {k.kind: k.bytes for k in weight_breakdown(net)}["experts"]
    # Encoder and decoder share their experts: one 4-bit copy per layer, used by both.
    assert quantize_experts(net) == layers
    assert net.model.encoder.language_model.layers[0].experts is net.model.decoder.layers[0].experts
    kinds = {k.kind: k for k in weight_breakdown(net)}
    assert kinds["experts"].quantized and "uint8" in kinds["experts"].dtypes
    router_bytes = sum(p.numel() * 4 for n, p in net.named_parameters() if ".router." in n)
    # float32 to 4 bits and a float32 scale per 32 weights: 0.625 bytes a weight instead of 4
    assert kinds["experts"].bytes - router_bytes < (float_bytes - router_bytes) / 6


def test_the_shipped_model_computes_nearly_the_same_logits_with_4_bit_experts():
    model = load_model(None)  # a trained model: random weights exaggerate what rounding does
    net = model.denoiser.model
    quantized = copy.deepcopy(net)
    assert quantize_experts(quantized) == net.config.text_config.num_hidden_layers
    code = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n"
    ids = model.tokenizer.encode(code * 2)
    prefix, canvas = torch.tensor([ids[:30]]), torch.tensor([ids[30:60]])
    with torch.no_grad():
        want = net(input_ids=prefix, decoder_input_ids=canvas).logits
        got = quantized(input_ids=prefix, decoder_input_ids=canvas).logits
    assert ((got - want).norm() / want.norm()).item() < 0.05  # 1.6% measured
    assert (got.argmax(-1) == want.argmax(-1)).float().mean().item() >= 0.9  # all 30 measured
