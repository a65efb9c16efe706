"""A single-line request (an inline suggestion at the end of a line) ends at its fill's first newline."""

from dataclasses import replace

from dglsp.engine.engine import Engine
from dglsp.engine.fill_json import parse_task
from dglsp.engine.types import FillRequest, SamplerConfig

REQUEST = FillRequest(prefix="def area(r):\n    return ", suffix="\n\n\nprint(area(2))\n", max_tokens=40)


def test_a_single_line_fill_is_the_first_line_of_the_same_fill(dg_model):
    model = replace(dg_model, stop_ids=frozenset())  # a random model: no end token cuts it first
    engine = Engine(model)
    config = SamplerConfig(max_steps=4, seed=5)
    whole = engine.fill(REQUEST, config)
    assert "\n" in whole.text  # so the cut below is exercised
    line = engine.fill(replace(REQUEST, single_line=True), config)
    assert line.text == whole.text.split("\n", 1)[0]
    assert line.blocks == 1 and line.steps <= whole.steps  # no block after the one with the newline


def test_the_newline_tokens_are_every_token_with_a_line_break(dg_model):
    engine = Engine(dg_model)
    tokenizer = dg_model.tokenizer
    assert engine.newline_ids == {i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])}
    assert tokenizer.encode("\n", add_special_tokens=False)[0] in engine.newline_ids


def test_fill_json_takes_single_line_and_refuses_a_wrong_type():
    assert parse_task({"prefix": "x = ", "single_line": True}).request.single_line
    assert not parse_task({"prefix": "x = "}).request.single_line
    try:
        parse_task({"prefix": "x = ", "single_line": "yes"})
    except ValueError as exc:
        assert "single_line" in str(exc)
    else:
        raise AssertionError("a string single_line was accepted")
