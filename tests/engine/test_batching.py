"""Canvas-level batching: several requests share each decoder call and come out as each would alone."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig

# Different prefix lengths (one past the tiny model's sliding window), suffixes, budgets and holes.
REQUESTS = [
    FillRequest(prefix="def area(width, height):\n    return ", suffix="\n\nprint(area(2, 3))\n", max_tokens=12),
    FillRequest(prefix="import os\n" * 80 + "x = ", max_tokens=5),
    FillRequest(prefix="class A:\n    def f(self):\n        ", suffix="\n", max_tokens=30),
    FillRequest(prefix="def f(x):\n    ", suffix="\n    return y\n", between=("\n    y = ",), max_tokens=8),
]


def test_batched_logits_equal_each_canvas_alone(dg_model):
    engine = Engine(dg_model, prefix_cache=False)
    denoiser = engine.denoiser
    states, canvases = [], []
    for i, text in enumerate(["def f():\n    return ", "import os\n" * 80, "x"]):
        state = denoiser.new_state()
        denoiser.extend(state, [denoiser.bos_id, *engine.encode(text)])
        states.append(state)
        canvases.append(torch.randint(0, denoiser.vocab_size, (1, 9 + 7 * i)))
    alone = [denoiser.logits(s, c, None) for s, c in zip(states, canvases, strict=True)]
    together = denoiser.logits_many(states, canvases, [None] * 3, [None] * 3)
    assert len(states[1].ids) > dg_model.denoiser.text_config.sliding_window  # the window cut is exercised
    for a, b in zip(alone, together, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    conditioning = [torch.randn(1, c.shape[1], denoiser.vocab_size) for c in canvases]
    alone = [denoiser.logits(s, c, sc) for s, c, sc in zip(states, canvases, conditioning, strict=True)]
    for a, b in zip(alone, denoiser.logits_many(states, canvases, conditioning, [None] * 3), strict=True):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fills_in_one_batch_are_the_fills_of_each_alone(dg_model, seed):
    engine = Engine(dg_model)
    config = SamplerConfig(seed=seed, max_steps=12)
    alone = [engine.fill(r, config) for r in REQUESTS]
    together = engine.fill_many(REQUESTS, [config] * len(REQUESTS))
    assert [r.fills for r in together] == [r.fills for r in alone]
    assert [r.steps for r in together] == [r.steps for r in alone]
    assert [r.stop for r in together] == [r.stop for r in alone]


def test_a_long_fill_goes_on_by_blocks_while_the_others_have_left_the_batch(dg_model):
    model = replace(dg_model, stop_ids=frozenset())  # never ends by itself: every block is used in full
    engine = Engine(model)
    long, short = FillRequest(prefix="x = ", max_tokens=70), FillRequest(prefix="y = ", max_tokens=3)
    results = engine.fill_many([long, short], [SamplerConfig(max_steps=2)] * 2)
    assert (results[0].blocks, results[0].tokens) == (3, 70)
    assert (results[1].blocks, results[1].tokens) == (1, 3)


def test_cancelling_one_request_leaves_the_others_running(dg_model):
    engine = Engine(dg_model)
    config = SamplerConfig(max_steps=20, entropy_bound=0.001)
    requests = [FillRequest(prefix="a = ", max_tokens=20), FillRequest(prefix="b = ", max_tokens=20)]
    results = engine.fill_many(requests, [config] * 2, [lambda view: view.step == 1, None])
    assert (results[0].stop, results[0].steps) == ("cancelled", 2)
    assert results[1].stop != "cancelled" and results[1].steps > 2
