"""The model card and the loss plot, written from a run's own records (log, corpus card, bench reports)."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..report.plots import save_plot
from ..report.tables import render_table
from .loop import LOG_FILE, Trainer

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def read_log(out: Path) -> list[dict]:
    path = out / LOG_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def write_plot(out: Path) -> Path | None:
    """Train and validation loss against tokens seen: OUT/loss.png; None without a logged step or matplotlib."""
    log = read_log(out)
    train = [r for r in log if r.get("event") == "train"]
    valid = [r for r in log if r.get("event") == "valid"]
    if not train:
        return None
    path = out / "loss.png"
    return path if save_plot(path, lambda ax: _draw_loss(ax, train, valid), figsize=(7, 4), dpi=120) else None


def _draw_loss(ax: Axes, train: list[dict], valid: list[dict]) -> None:
    ax.plot([r["tokens"] for r in train], [r["loss"] for r in train], lw=0.8, alpha=0.6, label="train")
    if valid:
        ax.plot([r["tokens"] for r in valid], [r["loss"] for r in valid], "o-", label="validation")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("weighted cross-entropy (canvas)")
    ax.set_title("dglsp train")
    ax.grid(alpha=0.3)
    ax.legend()


def model_card(trainer: Trainer, bench_reports: list[Path], with_plot: bool = False) -> str:
    model, config, state = trainer.model, trainer.config, trainer.state
    text = model.config.text_config
    params = sum(p.numel() for p in model.parameters())
    log = read_log(trainer.out)
    valid = [r for r in log if r.get("event") == "valid"]
    corpus = json.loads((trainer.out / "data" / "card.json").read_text(encoding="utf-8"))
    lines = [
        "# dglsp default model",
        "",
        "A small `DiffusionGemmaForBlockDiffusion` for Python, trained by `dglsp train` so that the code path that",
        "serves it also serves DiffusionGemma 26B-A4B. Trained for infilling in dglsp's layout: the encoder reads",
        "[bos | prefix]; the decoder denoises the canvas (middle, `<|endoffill|>`, pad) with the suffix after it.",
        "",
        "## Architecture",
        f"- {params / 1e6:.1f}M parameters (embeddings tied); vocab {text.vocab_size} (byte-level BPE);",
        f"  hidden {text.hidden_size}, {text.num_hidden_layers} layers, {text.num_attention_heads} heads "
        f"({text.num_key_value_heads} KV), head dim {text.head_dim}; dense MLP {text.intermediate_size} beside",
        f"  {text.num_experts} experts (top {text.top_k_experts}, width {text.moe_intermediate_size});",
        f"  {text.max_position_embeddings} positions, sliding window {text.sliding_window}; vision tower: a stub.",
        "",
        "## Training",
        f"- Config `{config.size}` shape; batch {config.batch_size}, AdamW lr {config.lr} (warm-up "
        f"{config.warmup_steps}, then 1/sqrt), prefix ≤ {config.prefix_tokens} and suffix ≤ {config.suffix_tokens}"
        f" tokens, canvases {sorted(config.buckets)}.",
        "- Objective: uniform-state diffusion (each canvas slot a random token with probability t ~ U(0,1), t=1",
        f"  for 10%), cross-entropy on the canvas (pads after end-of-fill weighted {config.pad_weight}),",
        f"  self-conditioning on {config.self_conditioning:.0%} of batches.",
        f"- Gaps: tree-sitter nodes, lines, rest of a line, random spans; {config.empty_suffix:.0%} plain",
        f"  continuations, {config.multi_hole:.0%} with two or three holes.",
        f"- {state.step} steps, {state.tokens / 1e6:.1f}M tokens seen, {state.seconds / 3600:.2f} h of compute on "
        f"{hardware(trainer.device)}.",
    ]
    if valid:
        last = valid[-1]
        lines.append(
            f"- Validation (held-out files): loss {last['loss']:.3f}, canvas token accuracy "
            f"{last['accuracy']:.1%} at step {last['step']}."
        )
    if with_plot:
        lines += ["", "![train and validation loss against tokens seen](loss.png)"]
    lines += [
        "",
        "## Data and licences",
        f"{len(trainer.train_docs)} training and {len(trainer.valid_docs)} validation files, split by file. "
        "Deduplicated; binary, huge and generated-looking files dropped; HumanEval and any file carrying "
        "three consecutive lines of its canonical solutions excluded. "
        f"Dropped: {', '.join(f'{k} {v}' for k, v in sorted(corpus['dropped'].items())) or 'none'}.",
        "",
        render_table(
            [
                ["source", "version", "licence", "files"],
                *([s["name"], s["version"], s["licence"], str(s["files"])] for s in corpus["sources"]),
            ]
        ),
    ]
    for report in bench_reports:
        lines += [
            "",
            f"## Bench: `{report.parent.name}`",
            "",
            "```",
            report.read_text(encoding="utf-8").rstrip(),
            "```",
        ]
    return "\n".join(lines) + "\n"
