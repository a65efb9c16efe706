"""dglsp's own decoder step (models/lean_step.py) gives transformers' logits, and a model whose fixed rows read
their own token gets the logits its training forward gives, from a head over the slots only."""

import json
import shutil

import numpy as np
import pytest
import torch

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig
from dglsp.models import lean_step
from dglsp.models.base import ModelError
from dglsp.models.loader import LoadOptions, load_model
from dglsp.models.self_conditioning import fixed_read_tokens
from dglsp.train.config import CONFIGS
from dglsp.train.examples import Example, ExampleMaker
from dglsp.train.loop import logits_of


@pytest.fixture(scope="module")
def slots_dir(dg_dir, tmp_path_factory):
    """The tiny model, noted as trained with fixed rows reading their own token."""
    out = tmp_path_factory.mktemp("slots") / "model"
    shutil.copytree(dg_dir, out)
    notes = json.loads((out / "dglsp.json").read_text()) if (out / "dglsp.json").exists() else {}
    (out / "dglsp.json").write_text(json.dumps({**notes, "self_conditioning": "slots"}))
    return out


def prefixed(denoiser, length: int, canvas: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    state = denoiser.new_state()
    denoiser.extend(state, torch.randint(3, denoiser.vocab_size, (length,), generator=gen).tolist())
    return state, torch.randint(3, denoiser.vocab_size, (1, canvas), generator=gen)


@pytest.mark.parametrize("routed", [False, True], ids=["dense-experts", "routed-experts"])
@pytest.mark.parametrize("prefix", [1, 15, 16, 17, 40])  # the tiny model's sliding window is 16
@pytest.mark.parametrize("canvas", [3, 20])
def test_lean_logits_equal_transformers(dg_dir, monkeypatch, routed, prefix, canvas):
    if routed:  # transformers' experts module, as a model with many experts runs
        monkeypatch.setattr(lean_step, "DENSE_EXPERTS", 0)
    dynamic = load_model(dg_dir, LoadOptions(decoder="dynamic")).denoiser
    lean = load_model(dg_dir).denoiser
    assert (lean.decoder, dynamic.decoder) == ("lean", "dynamic")
    assert lean._lean.layers[0].dense_experts is not routed
    state, tokens = prefixed(dynamic, prefix, canvas, seed=prefix * 100 + canvas)
    first = dynamic.logits(state, tokens, None)
    torch.testing.assert_close(lean.logits(state, tokens, None), first, atol=1e-4, rtol=1e-4)
    conditioning = first * 3  # a peaked previous step
    torch.testing.assert_close(
        lean.logits(state, tokens, conditioning), dynamic.logits(state, tokens, conditioning), atol=1e-4, rtol=1e-4
    )


def test_slots_only_logits_equal_the_training_forward(slots_dir, tokenizer):
    lean = load_model(slots_dir).denoiser
    dynamic = load_model(slots_dir, LoadOptions(decoder="dynamic")).denoiser
    assert lean.slots_only and dynamic.slots_only
    maker = ExampleMaker(tokenizer, CONFIGS["smoke"], len(tokenizer))
    rng = np.random.default_rng(0)
    vocab = lean.vocab_size
    free = [True] * 6 + [False] * 5 + [True] * 6 + [False] * 4  # two holes, code between them, a suffix
    examples = [
        Example(
            [2, *rng.integers(10, vocab, n).tolist()], rng.integers(10, vocab, len(free)).tolist(), free, [False] * 21
        )
        for n in (40, 7)
    ]
    batch = maker.collate(examples, rng, self_conditioning=True)
    with torch.no_grad():
        previous = fixed_read_tokens(logits_of(lean.model, batch) * 2, batch.noised, batch.free)
        trained = logits_of(lean.model, batch, previous)
    slots = torch.tensor([i for i, f in enumerate(free) if f])
    for i, example in enumerate(examples):
        state = lean.new_state()
        lean.extend(state, example.prefix)
        noised = batch.noised[i, : len(free)][None]
        for denoiser in (lean, dynamic):
            served = denoiser.logits(state, noised, previous[i, slots][None], slots)
            assert served.shape == (1, len(slots), vocab)
            torch.testing.assert_close(served[0], trained[i, slots], atol=1e-4, rtol=1e-4)


def test_a_slots_only_model_fills_alike_with_every_decoder(slots_dir):
    request = FillRequest(prefix="def f(x):\n    ", suffix="\n    return y\n", between=("\n    y = ",), max_tokens=8)
    config = SamplerConfig(max_steps=6)
    fills = {
        decoder: Engine(load_model(slots_dir, LoadOptions(decoder=decoder))).fill(request, config)
        for decoder in ("lean", "dynamic", "static")
    }
    assert fills["lean"].steps == 6
    assert {tuple(r.fills) for r in fills.values()} == {tuple(fills["lean"].fills)}


def test_an_unknown_self_conditioning_note_is_a_clear_error(slots_dir, tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(slots_dir, bad)
    (bad / "dglsp.json").write_text(json.dumps({"self_conditioning": "some"}))
    with pytest.raises(ModelError, match="self_conditioning is 'some'"):
        load_model(bad)
