"""The fixed-shape decoder step gives the dynamic step's logits, for every prefix and canvas length."""

import pytest
import torch

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig
from dglsp.models.base import ModelError
from dglsp.models.diffusion_gemma import DiffusionGemmaDenoiser
from dglsp.models.loader import LoadOptions, load_model
from dglsp.models.static_decoder import StaticDecoder, canvas_bucket, prefix_bucket


@pytest.fixture(scope="module")
def pair(dg_dir):
    """The same weights loaded twice, as a user would: dynamic and static decoder."""
    return load_model(dg_dir, LoadOptions(decoder="dynamic")), load_model(dg_dir, LoadOptions(decoder="static"))


def prefixed(denoiser, length: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    state = denoiser.new_state()
    denoiser.extend(state, torch.randint(3, denoiser.vocab_size, (length,), generator=gen).tolist())
    return state, gen


def test_buckets_are_few_and_hold_their_input():
    assert [prefix_bucket(n) for n in (1, 256, 257, 600, 5000)] == [256, 256, 512, 1024, 8192]
    assert [canvas_bucket(n) for n in (1, 16, 17, 33, 96, 300)] == [16, 16, 32, 64, 128, 512]


# The tiny model's sliding window is 16: lengths on both sides of it, and across a prefix bucket.
@pytest.mark.parametrize("prefix", [1, 15, 16, 17, 40, 256, 257])
@pytest.mark.parametrize("canvas", [3, 16, 20, 33])
def test_static_logits_equal_dynamic(pair, prefix, canvas):
    dynamic, static = (m.denoiser for m in pair)
    assert static.decoder == "static" and static.model is not dynamic.model
    state, gen = prefixed(dynamic, prefix, seed=prefix * 100 + canvas)
    tokens = torch.randint(3, dynamic.vocab_size, (1, canvas), generator=gen)
    first = dynamic.logits(state, tokens, None)
    assert first.shape == (1, canvas, dynamic.vocab_size)
    torch.testing.assert_close(static.logits(state, tokens, None), first, atol=1e-5, rtol=1e-4)
    # Later steps carry the previous step's logits (self-conditioning).
    torch.testing.assert_close(
        static.logits(state, tokens, first), dynamic.logits(state, tokens, first), atol=1e-5, rtol=1e-4
    )


def test_buffers_are_copied_once_per_prefix_and_follow_a_changed_one(pair):
    dynamic, static = (m.denoiser for m in pair)
    decoder = static._static
    state, gen = prefixed(dynamic, 30, seed=1)
    tokens = torch.randint(3, dynamic.vocab_size, (1, 8), generator=gen)
    static.logits(state, tokens, None)
    view, buffers = decoder._view, decoder._buffers[256]
    static.logits(state, tokens, None)
    assert decoder._view is view  # same prefix: no copy
    dynamic.extend(state, [5, 6, 7])  # the user typed: the buffers must follow
    torch.testing.assert_close(
        static.logits(state, tokens, None), dynamic.logits(state, tokens, None), atol=1e-5, rtol=1e-4
    )
    assert decoder._view is not view and decoder._view.prefix == 33
    other = dynamic.fork(state, 10)  # another state in the same bucket reuses the buffers
    torch.testing.assert_close(
        static.logits(other, tokens, None), dynamic.logits(other, tokens, None), atol=1e-5, rtol=1e-4
    )
    assert decoder._view.cache is buffers


def test_a_fill_is_the_same_either_way(pair):
    request = FillRequest(prefix="def add(a, b):\n    return", suffix="\n\nprint(add(1, 2))\n", max_tokens=12)
    sampler = SamplerConfig(max_steps=6, seed=3)
    results = [Engine(m).fill(request, sampler) for m in pair]
    assert results[0].fills == results[1].fills and results[0].steps == results[1].steps


def test_eager_attention_gets_an_additive_mask(dg_dir):
    model = load_model(dg_dir).denoiser.model
    reference = DiffusionGemmaDenoiser(model)
    state, gen = prefixed(reference, 20, seed=7)
    tokens = torch.randint(3, reference.vocab_size, (1, 10), generator=gen)
    want = reference.logits(state, tokens, None)
    model.set_attn_implementation("eager")
    eager = DiffusionGemmaDenoiser(model, decoder="static")
    assert eager._static.additive
    torch.testing.assert_close(eager.logits(state, tokens, None), want, atol=1e-5, rtol=1e-4)


def test_attention_without_masks_is_refused(dg_dir):
    model = load_model(dg_dir).denoiser.model
    model.config.text_config._attn_implementation = "flash_attention_2"
    with pytest.raises(ModelError, match="masks"):
        StaticDecoder(model)


def test_compiled_step_equals_dynamic(dg_dir):
    """torch.compile on the CPU (inductor): one prefix bucket, one canvas bucket, first and later steps."""
    dynamic = load_model(dg_dir, LoadOptions(decoder="dynamic")).denoiser
    compiled = load_model(dg_dir, LoadOptions(decoder="compiled")).denoiser
    assert compiled._static.compiled
    for length in (20, 90):  # both in the 256 bucket: the second reuses the first's graphs
        state, gen = prefixed(dynamic, length, seed=length)
        tokens = torch.randint(3, dynamic.vocab_size, (1, 24), generator=gen)
        first = dynamic.logits(state, tokens, None)
        torch.testing.assert_close(compiled.logits(state, tokens, None), first, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(
            compiled.logits(state, tokens, first), dynamic.logits(state, tokens, first), atol=1e-4, rtol=1e-4
        )


def test_unknown_decoder_is_a_clear_error(dg_dir):
    with pytest.raises(ModelError, match="unknown decoder"):
        load_model(dg_dir, LoadOptions(decoder="fast"))
