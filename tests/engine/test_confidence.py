"""The confidence score: high where the model knows the code, lower where it does not, near zero from noise;
and a fill that cannot reach `give_up` stops at half its steps."""

from dataclasses import replace

import pytest

from dglsp.engine.engine import Engine
from dglsp.engine.types import Confidence, FillRequest, SamplerConfig
from dglsp.models.loader import load_model

SUFFIX = "\n\n\nprint(area(2, 3))\n"
# The converging model's two files share this body line, and differ on the next one.
SURE = FillRequest(prefix="def area(width, height):\n", suffix=SUFFIX, max_tokens=31, single_line=True)
UNSURE = replace(SURE, prefix="def area(width, height):\n    w = width * 2\n")


@pytest.fixture(scope="module")
def trained(converging_dir):
    return Engine(load_model(converging_dir))


@pytest.fixture(scope="module")
def untrained(dg_model):
    return Engine(dg_model)


def scores(engine, request, **sampler):
    results = [engine.fill(request, engine.sampler.with_overrides(seed=seed, **sampler)) for seed in range(4)]
    assert all(isinstance(r.confidence, Confidence) for r in results)
    return results, [r.confidence.score for r in results]


def test_a_model_is_sure_of_the_line_it_learned_and_less_of_the_one_it_saw_two_ways(trained):
    sure, sure_scores = scores(trained, SURE)
    unsure, unsure_scores = scores(trained, UNSURE)
    assert [r.text for r in sure] == ["    w = width * 2"] * 4
    assert min(sure_scores) > 0.9, sure_scores
    assert all(r.confidence.settled for r in sure)
    # Its two files go on differently after that line: whichever it writes, it is less sure of it.
    assert max(unsure_scores) < min(sure_scores), (unsure_scores, sure_scores)
    assert all(0 < r.confidence.worst <= r.confidence.score for r in sure + unsure)


def test_a_random_model_is_not_confident_of_anything(untrained):
    results, random_scores = scores(untrained, SURE)
    assert max(random_scores) < 0.1, random_scores
    assert all(r.confidence.tokens > 0 for r in results)


def test_give_up_stops_an_unsure_fill_at_half_its_steps(untrained, trained):
    config = SamplerConfig(max_steps=20)
    full = untrained.fill(SURE, config)
    cut = untrained.fill(SURE, replace(config, give_up=0.5))
    assert full.stop == "max_steps" and full.steps == 20  # a random model never settles
    assert cut.stop == "low_confidence" and cut.steps == 10
    assert cut.confidence.score < 0.5
    # A fill the model is sure of is not stopped: it settles before half its steps, as it would without give_up.
    sure = trained.fill(SURE, replace(trained.sampler, give_up=0.9))
    assert sure.stop == "converged" and sure.text == "    w = width * 2"


def test_the_score_covers_every_hole(untrained):
    request = FillRequest(prefix="def f(x):\n", suffix="\n", between=("\n    y = 1\n",), max_tokens=6)
    result = untrained.fill(request, SamplerConfig(max_steps=4))
    # Every token of both holes' fills is scored (and each one's end token, where it has one).
    assert len(result.fills) == 2
    assert 0 < result.tokens <= result.confidence.tokens
