"""A model that converges: the tiny DiffusionGemma trained on a few short files until it reproduces their lines,
so the sampler's stop rules can be checked on a model whose fills settle (a random one never does)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dglsp.models.blank import SIZES, new_diffusion_gemma
from dglsp.models.export import save_model_dir
from dglsp.models.tokenizer import END_OF_FILL
from dglsp.train.config import CONFIGS
from dglsp.train.examples import ExampleMaker, Split
from dglsp.train.loop import new_optimizer, train_step
from dglsp.train.spans import node_spans

# Both start their body alike and go on differently: the model learns to be sure of the first line and unsure of
# the second, as it is of code not yet written.
FILES = (
    "def area(width, height):\n    w = width * 2\n    return w * height\n\n\nprint(area(2, 3))\n",
    "def area(width, height):\n    w = width * 2\n    print(w, height)\n\n\nprint(area(2, 3))\n",
)
# Gaps of whole lines and syntax nodes (a body: several lines), one hole.
RECIPE = replace(
    CONFIGS["smoke"],
    batch_size=8,
    lr=5e-3,
    warmup_steps=20,
    buckets={32: 1.0},
    span_kinds={"node": 0.5, "line": 0.5},
    empty_suffix=0.0,
    multi_hole=0.0,
)


def make_converging(out: Path, tokenizer, steps: int = 1000, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = new_diffusion_gemma(SIZES["tiny"], len(tokenizer), canvas_length=32, seed=seed)
    maker = ExampleMaker(tokenizer, RECIPE, len(tokenizer))
    docs = Split(list(FILES), [node_spans(text) for text in FILES])
    optimizer = new_optimizer(model, RECIPE)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        batch = maker.batch(docs, rng)
        train_step(model, optimizer, batch, False, RECIPE.grad_clip, RECIPE.self_conditioning_rows)
    notes = {"layout": "infill", "end_of_fill": END_OF_FILL, "self_conditioning": RECIPE.self_conditioning_rows}
    return save_model_dir(model.eval(), tokenizer, out, notes)
