"""Which code actions apply where, found without the model."""

from dglsp.server.actions import Site, plan_actions
from dglsp.server.settings import Settings

SOURCE = (
    "def area(r):\n"
    "    pass\n"
    "\n"
    "def scale(x):\n"
    "    y = x * 2  # TODO: check overflow\n"
    "    # TODO: clamp\n"
    "    z = ...\n"
    "    return z\n"
)


def plans_at(offset: int, end: int | None = None):
    site = Site(SOURCE, offset, end or offset, "python", None, Settings(), 2000)
    return {p.kind: p for p in plan_actions(site)}


def test_a_stub_function_offers_complete_body_and_its_hole():
    plans = plans_at(SOURCE.index("pass"))
    assert set(plans) == {"body", "holes"}
    assert [h.text for h in plans["holes"].holes] == ["pass"]
    assert SOURCE[plans["body"].gap.start : plans["body"].gap.end] == "pass"


def test_holes_are_those_of_the_enclosing_function_and_a_trailing_todo_is_left_alone():
    plans = plans_at(SOURCE.index("return z"))
    assert "body" not in plans  # the body has code
    assert [h.text for h in plans["holes"].holes] == ["# TODO: clamp", "..."]
    assert plans["holes"].title == "dglsp: Fill 2 holes"


def test_a_selection_offers_a_rewrite_of_exactly_that_span():
    start = SOURCE.index("x * 2")
    plans = plans_at(start, start + 5)
    gap = plans["rewrite"].gap
    assert (gap.start, gap.end, gap.kind) == (start, start + 5, "line")
    assert gap.max_tokens <= Settings().max_tokens
    assert "rewrite" not in plans_at(start, start)  # no selection, no rewrite
