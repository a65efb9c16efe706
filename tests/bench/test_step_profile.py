"""Where a decoder step's time goes (`dglsp bench --suite engine-speed --profile`): operators grouped by kind,
and the wall time left between them."""

from __future__ import annotations

import torch

from dglsp.bench.step_profile import BETWEEN, OTHER_OPS, kind_of, profile_step


def test_operators_fall_into_their_kinds():
    assert kind_of("aten::mm") == kind_of("aten::_grouped_mm") == "matrix products"
    assert kind_of("aten::_scaled_dot_product_flash_attention_for_cpu") == "attention kernel"
    assert kind_of("aten::tanh") == "softcap, activations, softmax"
    assert kind_of("aten::mul") == kind_of("aten::add_") == "elementwise and reductions"
    assert kind_of("aten::_to_copy") == "copies, casts, indexing, allocation"
    assert kind_of("aten::transpose") == "views and shapes"
    assert kind_of("aten::something_new") == OTHER_OPS


def test_a_step_of_products_and_python_is_split_between_them():
    a, b = torch.randn(256, 256), torch.randn(256, 256)

    def step():
        x = a
        for _ in range(4):
            x = torch.tanh(x @ b)
        total = 0
        for i in range(20_000):  # Python between the operators
            total += i
        return x, total

    report = profile_step(step, repeats=3)
    assert report.step_ms > 0
    assert (
        report.kinds["matrix products"][0] > 0 and report.kinds["matrix products"][1] >= 4
    )  # mm, and matmul around it
    assert report.kinds[BETWEEN][0] > 0
    assert report.top[0][0] in ("aten::mm", "aten::tanh")
    table = report.table()
    assert "where a step's time goes" in table and "busiest operators" in table
