"""dglsp's engine at DiffusionGemma 26B-A4B's real shape, with random weights, against the same backbone decoding
autoregressively (Gemma 4 26B-A4B).

Random weights are honest for speed because the schedule is fixed (16 tokens committed per step, as the vLLM
figure) rather than left to confidence, and because random routers spread tokens over experts much as a
load-balanced trained router does. Models are built on the meta device and materialised on the target device,
so a 50 GB model never passes through host memory.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import torch
from tqdm import tqdm

from ..engine.canvas import build_canvas
from ..engine.sampler import denoise
from ..engine.types import SamplerConfig
from ..models.base import DECODERS
from ..models.blank import VISION_STUB
from ..models.diffusion_gemma import DiffusionGemmaDenoiser
from ..models.expert_quant import quantize_experts
from ..report.tables import render_table
from .engine_speed import median_ms

# Gemma 4 26B-A4B's text shape (the backbone DiffusionGemma 26B-A4B shares): 25.2B parameters, 3.8B active.
SHAPES: dict[str, dict] = {
    "26b-a4b": {
        "vocab_size": 262_144,
        "hidden_size": 2816,
        "intermediate_size": 2112,
        "moe_intermediate_size": 704,
        "num_hidden_layers": 30,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 256,
        "global_head_dim": 512,
        "num_global_key_value_heads": 2,
        "num_experts": 128,
        "top_k_experts": 8,
        "sliding_window": 1024,
        "max_position_embeddings": 262_144,
    },
    # The same structure, small enough for a CPU: checks the bench itself.
    "tiny": {
        "vocab_size": 1024,
        "hidden_size": 64,
        "intermediate_size": 128,
        "moe_intermediate_size": 32,
        "num_hidden_layers": 6,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "global_head_dim": 32,
        "num_global_key_value_heads": 1,
        "num_experts": 8,
        "top_k_experts": 2,
        "sliding_window": 64,
        "max_position_embeddings": 4096,
    },
}
# Dense bf16 tensor-core peak and HBM bandwidth, by device name; the roofline needs them.
PEAKS = {"H100 PCIe": (756e12, 2.0e12), "H100": (989e12, 3.35e12), "H200": (989e12, 4.8e12), "A100": (312e12, 2.0e12)}
TOKENS_PER_STEP = 16


@dataclass
class Row:
    measure: str
    value: float
    unit: str
    roofline: float | None = None  # percent of the device's limit for this measure

    def cells(self) -> list[str]:
        pct = "" if self.roofline is None else f"{self.roofline:.0f}%"
        return [self.measure, f"{self.value:,.4g}", self.unit, pct]


@dataclass
class ShapeReport:
    header: dict
    rows: list[Row] = field(default_factory=list)
    # Each row as it is measured: a run cut short by a time limit (a GPU lease) still says what it measured.
    on_row: Callable[[Row], None] | None = None

    def add(self, measure: str, value: float, unit: str, roofline: float | None = None) -> None:
        self.rows.append(Row(measure, value, unit, roofline))
        if self.on_row is not None:
            self.on_row(self.rows[-1])

    def value(self, measure: str) -> float:
        return next(r.value for r in self.rows if r.measure == measure)

    def table(self) -> str:
        head = ", ".join(f"{k} {v}" for k, v in self.header.items())
        return (
            head + "\n\n" + render_table([["measure", "value", "unit", "% roofline"], *(r.cells() for r in self.rows)])
        )


def text_config(shape: str) -> dict:
    return dict(SHAPES[shape])


def diffusion_config(shape: str):
    from transformers import DiffusionGemmaConfig

    return DiffusionGemmaConfig(text_config=text_config(shape), vision_config=dict(VISION_STUB))


def ar_config(shape: str):
    from transformers import Gemma4TextConfig

    # K = V on global layers and the MoE block beside the dense MLP, as in the diffusion backbone.
    return Gemma4TextConfig(
        **text_config(shape), enable_moe_block=True, attention_k_eq_v=True, hidden_size_per_layer_input=0
    )


def build(kind: str, shape: str, device: torch.device | str, dtype: torch.dtype) -> torch.nn.Module:
    """Meta-device init, then storage on `device` only, then the model's own initialisation there."""
    from transformers import DiffusionGemmaForBlockDiffusion, Gemma4ForCausalLM

    cls, config = (
        (DiffusionGemmaForBlockDiffusion, diffusion_config(shape))
        if kind == "diffusion"
        else (
            Gemma4ForCausalLM,
            ar_config(shape),
        )
    )
    # Parameters are made in `dtype` from the start: float32 storage first, then a cast, would need 3x the memory.
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device("meta"):
            model = cls(config)
    finally:
        torch.set_default_dtype(default)
    model.to_empty(device=device)
    with torch.no_grad():
        model.init_weights()
        for name, buffer in model.named_buffers():
            if name.endswith("layer_scalar"):  # set in __init__, not by _init_weights
                buffer.fill_(1.0)
    return model.eval()


@cache
def parameter_counts(shape: str) -> tuple[int, int]:
    """(total, active per token) of the text model, counted on the meta device (no memory)."""
    from transformers import Gemma4ForCausalLM

    cfg = text_config(shape)
    with torch.device("meta"):
        model = Gemma4ForCausalLM(ar_config(shape))
    total = sum(p.numel() for p in model.parameters())
    experts = sum(p.numel() for n, p in model.named_parameters() if ".experts." in n)
    active = total - experts + experts * cfg["top_k_experts"] // cfg["num_experts"]
    return total, active


def touched_fraction(tokens: int, experts: int, top_k: int) -> float:
    """Expected share of experts a layer reads for `tokens` tokens under uniform routing."""
    return 1 - (1 - top_k / experts) ** tokens


def step_bytes(shape: str, tokens: int, bytes_per_param: float) -> float:
    """Weights one forward of `tokens` tokens must read: everything but the experts, plus the experts they touch."""
    cfg = text_config(shape)
    total, active = parameter_counts(shape)
    experts = (total - active) * cfg["num_experts"] / (cfg["num_experts"] - cfg["top_k_experts"])
    touched = touched_fraction(tokens, cfg["num_experts"], cfg["top_k_experts"])
    return (total - experts + experts * touched) * bytes_per_param


def peaks(device: torch.device) -> tuple[float, float] | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((p for key, p in PEAKS.items() if key in name), None)


def roofline_ms(shape: str, tokens: int, device: torch.device, bytes_per_param: float = 2.0) -> float | None:
    """The larger of reading the touched weights at full bandwidth and doing the active FLOPs at peak."""
    peak = peaks(device)
    if peak is None:
        return None
    flops, bandwidth = peak
    _, active = parameter_counts(shape)
    return max(step_bytes(shape, tokens, bytes_per_param) / bandwidth, 2 * active * tokens / flops) * 1000


def memory_gb(device: torch.device, model: torch.nn.Module) -> float:
    """Peak GPU memory allocated; elsewhere the model's own tensors."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    return weights_gb(model)


def weights_gb(model: torch.nn.Module) -> float:
    """The model's own tensors (shared ones once)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) / 1e9


def measure(
    shape: str = "26b-a4b",
    device: str = "cuda",
    dtype: torch.dtype = torch.bfloat16,
    prefills: tuple[int, ...] = (2048, 8192),
    canvases: tuple[int, ...] = (256, 32, 64),
    suffix: int = 64,
    decoders: tuple[str, ...] = DECODERS,
    ar_tokens: int = 128,
    repeats: int = 5,
    progress: bool = True,
) -> ShapeReport:
    dev = torch.device(device)
    total, active = parameter_counts(shape)
    cfg = text_config(shape)
    report = ShapeReport(
        {
            "shape": shape,
            "params": f"{total / 1e9:.2f}B ({active / 1e9:.2f}B active)",
            "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "dtype": str(dtype).removeprefix("torch."),
            "weights": "random",
            "torch": torch.__version__,
        }
    )
    bar = tqdm(total=4 + len(prefills) + len(decoders) * len(canvases), desc="gpu-shape", disable=not progress)
    if progress:
        report.on_row = lambda row: bar.write("  ".join(c for c in row.cells() if c), file=sys.stderr)
    gen = torch.Generator(device="cpu").manual_seed(0)

    def ids(n: int) -> list[int]:
        return torch.randint(3, cfg["vocab_size"], (n,), generator=gen).tolist()

    diffusion_rate = _diffusion_rows(report, shape, dev, dtype, prefills, canvases, suffix, decoders, repeats, ids, bar)
    _free(dev)
    ar_rate = ar_decode_rate(shape, dev, dtype, prefills[0], ar_tokens, ids)
    _free(dev)
    limit = roofline_ms(shape, 1, dev)
    report.add(
        "autoregressive decode, batch 1, KV cache",
        ar_rate,
        "tokens/s",
        None if limit is None else 100 * ar_rate * limit / 1000,
    )
    report.add("diffusion fill / autoregressive decode", diffusion_rate / ar_rate, "x")
    bar.update()
    bar.close()
    return report


def _diffusion_rows(report, shape, dev, dtype, prefills, canvases, suffix, decoders, repeats, ids, bar) -> float:
    """Memory, prefill, decoder steps per mode and a whole fill; returns the fill's tokens/s."""
    total, _ = parameter_counts(shape)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    model = build("diffusion", shape, dev, dtype)
    report.add(f"memory, weights ({str(dtype).removeprefix('torch.')})", memory_gb(dev, model), "GB")
    bytes_4bit = total * (0.5 + 4 / 64)  # 4-bit values plus an fp32 scale per 64-value block (bitsandbytes nf4)
    report.add("memory, weights in 4-bit (computed, all tensors)", bytes_4bit / 1e9, "GB")
    bar.update()

    denoiser = DiffusionGemmaDenoiser(model)
    for length in prefills:

        def prefill(n=length):
            denoiser.extend(denoiser.new_state(), ids(n))

        ms = median_ms(prefill, max(1, repeats // 2), dev)
        limit = roofline_ms(shape, length, dev)
        report.add(f"prefill {length} tokens", ms, "ms", None if limit is None else 100 * limit / ms)
        bar.update()

    state = denoiser.new_state()
    denoiser.extend(state, ids(prefills[0]))
    steppers = {mode: DiffusionGemmaDenoiser(model, decoder=mode) for mode in decoders}
    full = max(canvases)
    for mode, stepper in steppers.items():
        for size in canvases:
            pinned = 0 if size == full else suffix
            canvas = torch.tensor([ids(size + pinned)], device=dev)
            logits = stepper.logits(state, canvas, None)
            ms = median_ms(lambda c=canvas, lg=logits, s=stepper: s.logits(state, c, lg), repeats, dev)
            limit = roofline_ms(shape, size + pinned, dev)
            what = f"decoder step, {mode}, canvas {size}" + (f" + {pinned} pinned suffix" if pinned else "")
            report.add(what, ms, "ms", None if limit is None else 100 * limit / ms)
            bar.update()
    step_ms = {mode: report.value(f"decoder step, {mode}, canvas {full}") for mode in decoders}
    fastest = min(step_ms, key=step_ms.get)
    report.add(
        f"tokens/s at {TOKENS_PER_STEP} tokens/step (decoder step, {fastest}, canvas {full})",
        TOKENS_PER_STEP * 1000 / step_ms[fastest],
        "tokens/s",
    )
    # A whole fill through dglsp's sampler: every step commits 16 slots, so the canvas takes full/16 steps.
    layout = build_canvas([full], [], [])
    sampler = SamplerConfig(tokens_per_step=TOKENS_PER_STEP)
    fill_ms = median_ms(lambda: denoise(steppers[fastest], state, layout, sampler), 2, dev)
    rate = full * 1000 / fill_ms
    report.add(f"fill of {full} tokens through the sampler ({fastest})", rate, "tokens/s")
    bar.update()
    _four_bit_experts(report, model, state, dev, full, repeats, ids)
    bar.update()
    return rate


def _four_bit_experts(report, model, state, dev, size, repeats, ids) -> None:
    """The same model with its experts packed as `--quantize 4bit` packs them: memory and a decoder step."""
    quantize_experts(model)
    report.add("memory, weights with 4-bit experts (Linear layers as they were)", weights_gb(model), "GB")
    stepper = DiffusionGemmaDenoiser(model)
    canvas = torch.tensor([ids(size)], device=dev)
    logits = stepper.logits(state, canvas, None)
    ms = median_ms(lambda: stepper.logits(state, canvas, logits), repeats, dev)
    report.add(f"decoder step, dynamic, 4-bit experts, canvas {size}", ms, "ms")


def ar_decode_rate(shape: str, dev: torch.device, dtype: torch.dtype, prompt: int, tokens: int, ids) -> float:
    """Greedy decode after a `prompt`-token prefill, timed over the new tokens only."""
    model = build("ar", shape, dev, dtype)
    prompt_ids = torch.tensor([ids(prompt)], device=dev)
    # A static cache is what makes transformers' generate compile the decode step on a GPU.
    cache = "static" if dev.type == "cuda" else None

    def run(n: int) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                prompt_ids,
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                cache_implementation=cache,
                pad_token_id=0,
            )
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return time.perf_counter() - start

    run(tokens)  # warm-up and compile
    # The difference of two runs cancels the prefill and the fixed costs.
    short, long = run(1), run(tokens + 1)
    return tokens / max(long - short, 1e-9)


def _free(dev: torch.device) -> None:
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
