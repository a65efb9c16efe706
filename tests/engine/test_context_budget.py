"""The context a fill may use comes from a budget of its own, never from the model's positions alone."""

from __future__ import annotations

import pytest

from dglsp.engine.engine import Engine, context_budget
from dglsp.engine.memory import OutOfMemory
from dglsp.engine.types import FillRequest
from dglsp.models.loader import LoadOptions, load_model


def test_the_budget_is_the_device_s_default_or_what_was_asked_and_never_above_the_model_s_positions():
    assert context_budget(None, "cpu", 262_144) == 2048
    assert context_budget(0, "cuda", 262_144) == 8192
    assert context_budget(32_768, "cuda", 262_144) == 32_768
    assert context_budget(32_768, "cpu", 512) == 512  # the shipped model's own positions
    assert context_budget(64, "cpu", 262_144) == 512  # room for a full canvas, its suffix and some prefix


def test_a_long_prefix_is_cut_to_the_budget_before_the_encoder_sees_it(long_positions_dir):
    engine = Engine(load_model(long_positions_dir, LoadOptions()), context_tokens=1024)
    assert engine.denoiser.max_positions == 131_072 and engine.context_tokens == 1024
    result = engine.fill(FillRequest("x = 1\n" * 50_000, "\n", max_tokens=8))
    assert 1024 - 128 - 32 <= result.prefix_tokens_encoded <= 1024  # the rest of the budget went to the canvas


def test_an_encoder_pass_that_cannot_fit_is_refused_before_it_starts_and_the_engine_goes_on(long_positions_dir):
    engine = Engine(load_model(long_positions_dir, LoadOptions()), context_tokens=131_072)
    small = FillRequest("def f(x):\n    return ", "\n", max_tokens=4)
    engine.fill(small)
    encoded = engine.denoiser.encoded_tokens
    # About 100k prefix tokens: their attention maps alone would take hundreds of GiB.
    with pytest.raises(OutOfMemory, match=r"encoding \d+ prefix tokens needs about \d+\.\d GiB and"):
        engine.fill(FillRequest("x = 1\n" * 50_000, "\n", max_tokens=8))
    assert engine.denoiser.encoded_tokens == encoded  # refused before the encoder ran
    assert engine.fill(small).steps >= 1 and engine.cache.hits >= 1  # the cached prefix survived the refusal
