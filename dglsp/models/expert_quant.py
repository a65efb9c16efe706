"""4-bit experts: DiffusionGemma's fused 3-D expert weights (22.8B of the 26B-A4B's 25.2B parameters), which
bitsandbytes does not reach, stored as two 4-bit values a byte with a scale per group of inputs.

Symmetric absmax quantization per group (as GPTQ/AWQ-style int4 checkpoints store it, without their calibration):
about 0.53 bytes a weight, so the 26B-A4B's experts take about 12.1 GB instead of 45.6 GB. Each step
dequantizes only the experts its tokens were routed to, one at a time, so the full-precision copy of an expert
lives for one matrix product.
"""

from __future__ import annotations

import torch
from torch import nn

GROUP = 64  # inputs sharing one scale: the usual int4 trade between size and error


def group_for(inputs: int, wanted: int = GROUP) -> int:
    """The largest power of two up to `wanted` that divides `inputs` (a tiny test model's experts are narrow)."""
    group = wanted
    while group > 2 and inputs % group:
        group //= 2
    if inputs % group:
        raise ValueError(f"experts with {inputs} inputs cannot be split into groups of 4-bit values")
    return group


def quantize_int4(weight: torch.Tensor, group: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(packed uint8 [..., out, in/2], scales [..., out, in/group]) of `weight` [..., out, in]."""
    *lead, inputs = weight.shape
    grouped = weight.float().reshape(*lead, inputs // group, group)
    scale = grouped.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / 7
    q = (torch.round(grouped / scale).clamp(-8, 7) + 8).to(torch.uint8).reshape(*lead, inputs)
    packed = q[..., 0::2] | (q[..., 1::2] << 4)
    return packed, scale.squeeze(-1)


def dequantize_int4(packed: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The inverse of `quantize_int4`, up to rounding: [..., out, in] in `dtype`."""
    q = torch.stack((packed & 0xF, packed >> 4), dim=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)
    grouped = q.reshape(*scale.shape, -1).to(scale.dtype) - 8
    return (grouped * scale.unsqueeze(-1)).reshape(q.shape).to(dtype)


class Int4Experts(nn.Module):
    """A drop-in for DiffusionGemma's experts module with its two weights in 4 bits."""

    def __init__(self, experts: nn.Module, group: int = GROUP) -> None:
        super().__init__()
        self.num_experts = experts.num_experts
        self.act_fn = experts.act_fn
        self.dtype = experts.gate_up_proj.dtype
        for name in ("gate_up_proj", "down_proj"):
            weight = getattr(experts, name).data
            experts_, outputs, inputs = weight.shape
            step = group_for(inputs, group)
            packed = torch.empty(experts_, outputs, inputs // 2, dtype=torch.uint8, device=weight.device)
            scale = torch.empty(experts_, outputs, inputs // step, dtype=self.dtype, device=weight.device)
            for e in range(experts_):  # one expert at a time: float32 temporaries of one expert, not of 128
                packed[e], scale[e] = quantize_int4(weight[e], step)
            # Parameters, not buffers, so they move with the model and `dglsp doctor` counts them.
            self.register_parameter(f"{name}_q", nn.Parameter(packed, requires_grad=False))
            self.register_parameter(f"{name}_scale", nn.Parameter(scale, requires_grad=False))

    def weight(self, name: str, expert: int) -> torch.Tensor:
        return dequantize_int4(getattr(self, f"{name}_q")[expert], getattr(self, f"{name}_scale")[expert], self.dtype)

    def forward(
        self, hidden_states: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor
    ) -> torch.Tensor:
        out = torch.zeros_like(hidden_states)
        for expert in torch.unique(top_k_index).tolist():
            token, slot = torch.where(top_k_index == expert)
            gate, up = nn.functional.linear(hidden_states[token], self.weight("gate_up_proj", expert)).chunk(2, dim=-1)
            done = nn.functional.linear(self.act_fn(gate) * up, self.weight("down_proj", expert))
            out.index_add_(0, token, (done * top_k_weights[token, slot, None]).to(out.dtype))
        return out


def quantize_experts(model: nn.Module, group: int = GROUP) -> int:
    """Swap every fused experts module (3-D `gate_up_proj` and `down_proj`) for `Int4Experts`; returns how many
    4-bit copies were made. Modules that share their weights (DiffusionGemma's encoder and decoder layers) share
    one copy, and each full-precision layer is freed once all its users are swapped: the peak is one layer's."""
    users: dict[int, list[str]] = {}  # weight identity -> the modules that use it, by name (holding no tensor)
    for name, module in model.named_modules():
        weight = getattr(module, "gate_up_proj", None)
        if getattr(weight, "ndim", 0) == 3 and hasattr(module, "down_proj"):
            users.setdefault(id(weight), []).append(name)
    for names in users.values():
        packed = None
        for name in names:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            if packed is None:
                packed = Int4Experts(getattr(parent, child), group)
            setattr(parent, child, packed)
    return len(users)
