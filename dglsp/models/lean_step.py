"""DiffusionGemma's decoder step as one plain function over the model's own weights: the same arithmetic as
`transformers`' forward (a test holds the logits equal), without what a small model on a CPU pays for per call.

Measured on the shipped model (`dglsp bench --suite engine-speed --profile`), a step through `transformers` spends
much of its time outside arithmetic: module calls, mask building, the MoE's per-expert routing loop, and a head
and soft-cap over every decoder row. Here:
- q/k/v and the MLP's gate/up are one matrix product each (the modules' weights become views into the fused
  tensors, so no memory is copied and `transformers`' own forward still runs on the same values);
- with a few experts, every expert runs on every row in two batched products and the router's weights pick
  (cheaper than gathering rows per expert at a small width); with many, `transformers`' experts module runs;
- the head and its soft-cap run only over the rows the sampler reads (`rows`);
- self-conditioning at the first step is skipped (its input is zero, so its output is too), and for a model
  trained with fixed rows reading their own token (`CONDITION_SLOTS`) those rows need no head at all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.diffusion_gemma import modeling_diffusion_gemma as dg

PLAIN_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
DENSE_EXPERTS = 8  # at most this many experts: run them all, densely (see the module docstring)


def rms(x: torch.Tensor, weight: torch.Tensor | None, eps: float) -> torch.Tensor:
    """DiffusionGemmaRMSNorm's arithmetic (float32, pow(-0.5)), as a function; no casts when all is float32."""
    y = x if x.dtype == torch.float32 else x.float()
    y = y * torch.pow(y.pow(2).mean(-1, keepdim=True) + eps, -0.5)
    if weight is not None:
        y = y.mul_(weight if weight.dtype == torch.float32 else weight.float())
    return y if x.dtype == torch.float32 else y.type_as(x)


def _norm(module: dg.DiffusionGemmaRMSNorm):
    weight = module.weight if module.with_scale else None
    return lambda x: rms(x, weight, module.eps)


def fuse(linears: list[nn.Linear]) -> torch.Tensor:
    """One weight for several bias-free linears over the same input; each module's weight becomes a view into it."""
    fused = torch.cat([m.weight.detach() for m in linears])
    start = 0
    for m in linears:
        end = start + m.out_features
        m.weight = nn.Parameter(fused[start:end], requires_grad=False)
        start = end
    return fused


class LeanLayer:
    def __init__(self, layer: dg.DiffusionGemmaDecoderTextLayer) -> None:
        attn = layer.self_attn
        self.head_dim = attn.head_dim
        self.heads = attn.q_proj.out_features // attn.head_dim
        self.kv_heads = attn.k_proj.out_features // attn.head_dim
        self.shared_v = attn.v_proj is None  # full-attention layers: values are the keys before their norm
        self.qkv = fuse([attn.q_proj, attn.k_proj] + ([] if self.shared_v else [attn.v_proj]))
        self.o = attn.o_proj.weight
        self.q_norm, self.k_norm, self.v_norm = _norm(attn.q_norm), _norm(attn.k_norm), _norm(attn.v_norm)
        self.input_norm = _norm(layer.input_layernorm)
        self.post_attention_norm = _norm(layer.post_attention_layernorm)
        self.pre_ff_norm, self.post_ff_norm = (
            _norm(layer.pre_feedforward_layernorm),
            _norm(layer.post_feedforward_layernorm),
        )
        self.post_ff_norm_1, self.post_ff_norm_2 = (
            _norm(layer.post_feedforward_layernorm_1),
            _norm(layer.post_feedforward_layernorm_2),
        )
        self.pre_ff_norm_2 = _norm(layer.pre_feedforward_layernorm_2)
        self.gate_up = fuse([layer.mlp.gate_proj, layer.mlp.up_proj])
        self.down = layer.mlp.down_proj.weight
        self.act = layer.mlp.act_fn
        self.router = layer.router
        self.experts = layer.experts
        # Packed experts (--quantize 4bit) run their own module.
        plain = type(layer.experts) is dg.DiffusionGemmaTextExperts
        self.dense_experts = plain and layer.experts.num_experts <= DENSE_EXPERTS
        self.layer_scalar = layer.layer_scalar

    def attention(self, x: torch.Tensor, cos_sin, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        rows = x.shape[1]
        qkv = F.linear(x, self.qkv)
        q_end, k_end = self.heads * self.head_dim, (self.heads + self.kv_heads) * self.head_dim
        q = qkv[..., :q_end].view(1, rows, self.heads, self.head_dim)
        k = qkv[..., q_end:k_end].view(1, rows, self.kv_heads, self.head_dim)
        v = k if self.shared_v else qkv[..., k_end:].view(1, rows, self.kv_heads, self.head_dim)
        cos, sin = cos_sin
        q = dg.apply_rotary_pos_emb(self.q_norm(q), cos, sin, unsqueeze_dim=2).transpose(1, 2)
        k = dg.apply_rotary_pos_emb(self.k_norm(k), cos, sin, unsqueeze_dim=2).transpose(1, 2)
        v = self.v_norm(v).transpose(1, 2)
        k, v = torch.cat([keys, k], dim=-2), torch.cat([values, v], dim=-2)
        out = F.scaled_dot_product_attention(q, k, v, scale=1.0, enable_gqa=self.heads != self.kv_heads)
        return F.linear(out.transpose(1, 2).reshape(1, rows, -1), self.o)

    def moe(self, x: torch.Tensor, routed: torch.Tensor) -> torch.Tensor:
        _, weights, index = self.router(routed)
        if not self.dense_experts:
            return self.experts(x, index, weights)
        e = self.experts
        gate, up = torch.matmul(x, e.gate_up_proj.transpose(1, 2)).chunk(2, dim=-1)  # (experts, rows, inter)
        out = torch.matmul(e.act_fn(gate) * up, e.down_proj.transpose(1, 2))  # (experts, rows, hidden)
        picked = torch.zeros(x.shape[0], e.num_experts, dtype=weights.dtype, device=x.device)
        picked.scatter_(1, index, weights)
        return torch.einsum("erh,re->rh", out, picked.to(out.dtype))

    def __call__(self, h: torch.Tensor, cos_sin, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        h = h + self.post_attention_norm(self.attention(self.input_norm(h), cos_sin, keys, values))
        x = self.pre_ff_norm(h)
        gate, up = F.linear(x, self.gate_up).chunk(2, dim=-1)
        dense = self.post_ff_norm_1(F.linear(self.act(gate) * up, self.down))
        flat = h.reshape(-1, h.shape[-1])
        experts = self.post_ff_norm_2(self.moe(self.pre_ff_norm_2(flat), flat).reshape(h.shape))
        return (h + self.post_ff_norm(dense + experts)) * self.layer_scalar


class LeanStep:
    """The decoder step over a prefix cache's (windowed) keys and values; logits for the rows asked for."""

    def __init__(self, model: dg.DiffusionGemmaForBlockDiffusion) -> None:
        decoder = model.model.decoder
        self.config = model.config.text_config
        self.embed = decoder.embed_tokens
        self.rotary = decoder.rotary_emb
        self.layer_types = self.config.layer_types
        self.layers = [LeanLayer(layer) for layer in decoder.layers[: self.config.num_hidden_layers]]
        sc = decoder.self_conditioning
        self.sc_pre_norm, self.sc_post_norm = _norm(sc.pre_norm), _norm(sc.post_norm)
        self.sc_gate_up = fuse([sc.gate_proj, sc.up_proj])
        self.sc_down, self.sc_act = sc.down_proj.weight, sc.act_fn
        self.final_norm = _norm(decoder.norm)
        self.head = model.lm_head.weight
        self.softcap = self.config.final_logit_softcapping

    @staticmethod
    def supported(model) -> bool:
        """Plain float weights in memory only: quantized or offloaded modules keep `transformers`' own forward."""
        return all(type(m) is nn.Linear for m in model.modules() if isinstance(m, nn.Linear)) and all(
            p.dtype in PLAIN_DTYPES and not p.is_meta for p in model.parameters()
        )

    def soft_embeddings(self, conditioning: torch.Tensor) -> torch.Tensor:
        probs = conditioning.softmax(dim=-1, dtype=torch.float32).to(self.embed.weight.dtype)
        return torch.matmul(probs, self.embed.weight) * self.embed.embed_scale.to(probs.dtype)

    def condition(self, embeds: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        normed = self.sc_pre_norm(soft)
        gate, up = F.linear(normed, self.sc_gate_up).chunk(2, dim=-1)
        return self.sc_post_norm(embeds + F.linear(self.sc_act(gate) * up, self.sc_down))

    @torch.inference_mode()
    def logits(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        cache_layers,
        conditioning: torch.Tensor | None,
        rows: torch.Tensor | None,
    ) -> torch.Tensor:
        """`tokens` (1, L) at `positions`; `conditioning`: the previous step's logits, over all L rows when
        `rows` is None, else over `rows` only (the other rows read their own token); logits for `rows` (or all)."""
        embeds = self.embed(tokens)
        if conditioning is None:
            h = self.sc_post_norm(embeds)  # a zero signal through the gated MLP stays zero
        elif rows is None:
            h = self.condition(embeds, self.soft_embeddings(conditioning))
        else:
            soft = embeds.clone()  # a fixed row's one-hot of its own token is its embedding
            soft[:, rows] = self.soft_embeddings(conditioning)
            h = self.condition(embeds, soft)
        cos_sin = {kind: self.rotary(h, positions, kind) for kind in set(self.layer_types)}
        for layer, kind, cached in zip(self.layers, self.layer_types, cache_layers, strict=False):
            h = layer(h, cos_sin[kind], cached.keys, cached.values)
        if rows is not None:
            h = h[:, rows]
        logits = F.linear(self.final_norm(h), self.head).float()
        if self.softcap is not None:  # in place: a vocabulary-wide tensor per op is most of the soft-cap's cost
            logits = logits.div_(self.softcap).tanh_().mul_(self.softcap)
        return logits
