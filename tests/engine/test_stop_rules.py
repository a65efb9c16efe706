"""The stop rules on a model that converges (tests/converging.py): looking only at the fill (`stop_on="fill"`)
ends sooner than looking at the whole canvas, with the same fill."""

from dataclasses import replace

import pytest

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig
from dglsp.models.loader import load_model

# The body's first line is the same in both trained files; what follows it differs, so the model is sure of the
# line and unsure of the rest, as it is of code not written yet.
REQUEST = FillRequest(prefix="def area(width, height):\n", suffix="\n\n\nprint(area(2, 3))\n", max_tokens=31)
LINE = "    w = width * 2"


@pytest.fixture(scope="module")
def engine(converging_dir):
    return Engine(load_model(converging_dir))


def fills(engine, request, stop_on):
    return [engine.fill(request, SamplerConfig(stop_on=stop_on, seed=seed)) for seed in range(4)]


def test_a_single_line_fill_stops_once_its_line_is_settled(engine):
    request = replace(REQUEST, single_line=True)
    canvas, fill = fills(engine, request, "canvas"), fills(engine, request, "fill")
    assert [r.text for r in canvas] == [r.text for r in fill] == [LINE] * 4  # the model reproduces its line
    assert all(f.steps <= c.steps for f, c in zip(fill, canvas, strict=True))
    # The canvas rule waits for the uncertain lines after it to settle; the fill rule does not.
    assert 3 * sum(r.steps for r in fill) < sum(r.steps for r in canvas), (
        [r.steps for r in fill],
        [r.steps for r in canvas],
    )


def test_the_fill_rule_never_stops_later_and_gives_the_same_fill(engine):
    canvas, fill = fills(engine, REQUEST, "canvas"), fills(engine, REQUEST, "fill")
    assert [r.text for r in canvas] == [r.text for r in fill]
    assert all(r.text.startswith(LINE + "\n") for r in fill)
    assert all(f.steps <= c.steps for f, c in zip(fill, canvas, strict=True))
