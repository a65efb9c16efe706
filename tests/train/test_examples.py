"""Training examples must be exactly what the engine lays out, padded or not."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from dglsp.train.config import CONFIGS
from dglsp.train.examples import Example, ExampleMaker, Split
from dglsp.train.loop import logits_of
from dglsp.train.spans import node_spans

TEXT = (
    "import math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\n"
    "def grow(xs, k):\n    out = []\n    for x in xs:\n        out.append(x * k)\n    return out\n"
)


@pytest.fixture
def maker(tokenizer):
    return ExampleMaker(tokenizer, CONFIGS["smoke"], len(tokenizer))


@pytest.fixture
def docs():
    return Split([TEXT, TEXT.replace("grow", "scale")], [node_spans(TEXT), node_spans(TEXT.replace("grow", "scale"))])


def test_a_padded_batch_gives_the_logits_the_engine_gets_for_each_example(dg_model, maker):
    rng = np.random.default_rng(0)
    vocab = dg_model.denoiser.vocab_size
    long = Example(
        [2, *rng.integers(10, vocab, 40).tolist()],
        rng.integers(10, vocab, 24).tolist(),
        [True] * 16 + [False] * 8,
        [False] * 24,
    )
    short = Example(
        [2, *rng.integers(10, vocab, 5).tolist()],
        rng.integers(10, vocab, 17).tolist(),
        [True] * 16 + [False],
        [False] * 17,
    )
    batch = maker.collate([long, short], rng, self_conditioning=False)
    assert batch.prefix_mask[1].sum() == 6 and batch.decoder_mask[1].sum() == 6 + 17
    with torch.no_grad():
        trained = logits_of(dg_model.denoiser.model, batch)
    for i, example in enumerate([long, short]):
        state = dg_model.denoiser.new_state()
        dg_model.denoiser.extend(state, example.prefix)
        noised = batch.noised[i, : len(example.decoder)][None]
        served = dg_model.denoiser.logits(state, noised, None)[0]
        assert torch.allclose(served, trained[i, : len(example.decoder)], atol=1e-4)


def test_a_hole_holds_the_middle_then_end_of_fill_then_pads_and_a_long_middle_is_cut(maker):
    targets, pad = maker._hole([7, 8, 9], 8)
    assert targets == [7, 8, 9, maker.end] + [maker.pad] * 4
    assert pad == [False] * 4 + [True] * 4
    targets, pad = maker._hole(list(range(20, 40)), 16)
    assert targets == list(range(20, 36)) and not any(pad)  # the engine's next block goes on from here


def test_examples_are_the_document_around_a_gap(maker, docs, tokenizer):
    rng = np.random.default_rng(1)
    whole = 0
    for _ in range(40):
        e = maker.example(docs, rng, 32)
        assert e.prefix[0] == maker.bos and len(e.prefix) <= maker.cfg.prefix_tokens
        assert len(e.decoder) == len(e.free) == len(e.pad)
        canvas = [t for t, free in zip(e.decoder, e.free, strict=True) if free]
        fixed = [t for t, free in zip(e.decoder, e.free, strict=True) if not free]
        assert maker.end not in fixed and maker.pad not in fixed
        holes = sum(1 for i, f in enumerate(e.free) if f and (i == 0 or not e.free[i - 1]))
        if maker.end in canvas:
            assert canvas.count(maker.end) == holes
        if canvas.count(maker.end) == holes:
            # Put the middles back: the example is the document around its gaps, in order.
            rebuilt = tokenizer.decode([*e.prefix[1:], *(t for t in e.decoder if t not in (maker.end, maker.pad))])
            assert rebuilt in TEXT or rebuilt in TEXT.replace("grow", "scale")
            whole += 1
    assert whole > 20


def test_noise_touches_only_canvas_slots_and_the_same_seed_gives_the_same_batch(maker, docs):
    a = maker.batch(docs, np.random.default_rng([3, 7]))
    b = maker.batch(docs, np.random.default_rng([3, 7]))
    assert torch.equal(a.noised, b.noised) and torch.equal(a.clean, b.clean)
    changed = a.noised != a.clean
    assert changed.any()
    assert not (changed & (a.weight == 0)).any()


def test_multi_hole_examples_give_every_hole_the_same_size(tokenizer, docs):
    maker = ExampleMaker(tokenizer, replace(CONFIGS["smoke"], multi_hole=1.0, empty_suffix=0.0), len(tokenizer))
    rng = np.random.default_rng(5)
    seen = 0
    for _ in range(20):
        e = maker.example(docs, rng, 16)
        runs, size = [], 0
        for free in [*e.free, False]:
            if free:
                size += 1
            elif size:
                runs.append(size)
                size = 0
        if len(runs) > 1:
            seen += 1
            assert len(set(runs)) == 1
    assert seen > 5
