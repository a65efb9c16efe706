"""Where a decoder step's time goes: torch's profiler over repeated steps, each operator's own time grouped by
kind (the kinds are data), and what is left of the wall time: Python, module calls and dispatch between ops."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field

from torch.profiler import ProfilerActivity, profile

from ..report.tables import render_table

# First match wins, on the operator's name.
KINDS = (
    ("matrix products", r"^aten::(mm|bmm|addmm|baddbmm|_grouped_mm|linear|matmul)$"),
    ("attention kernel", r"scaled_dot_product|flash_attention"),
    ("softcap, activations, softmax", r"^aten::(tanh|gelu|silu|sigmoid|erf|_?softmax|_log_softmax)_?$"),
    (
        "elementwise and reductions",
        r"^aten::(mul|add|sub|div|pow|rsqrt|sqrt|neg|exp|where|clamp|clamp_min|maximum|minimum|mean|sum|max|min|"
        r"amax|eq|ne|gt|lt|ge|le|abs|topk|sort|argmax|cumsum|nonzero)_?$",
    ),
    (
        "copies, casts, indexing, allocation",
        r"^aten::(copy_|_to_copy|to|cat|stack|index|index_put_|index_add_|index_select|gather|scatter|one_hot|"
        r"embedding|empty|empty_like|empty_strided|zeros|zeros_like|ones|full|arange|fill_|zero_|clone|"
        r"contiguous|masked_fill_?)$",
    ),
    (
        "views and shapes",
        r"^aten::(as_strided|view|_unsafe_view|reshape|transpose|t|select|slice|permute|expand|unsqueeze|squeeze|"
        r"split|split_with_sizes|chunk|narrow|detach|alias|lift_fresh|unbind|flatten|resolve_conj|resolve_neg)$",
    ),
)
OTHER_OPS = "other operators"
BETWEEN = "between operators (Python, dispatch)"


@dataclass
class StepProfile:
    step_ms: float  # wall time of one step, without the profiler
    kinds: dict[str, tuple[float, float]] = field(default_factory=dict)  # kind -> (ms per step, ops per step)
    top: list[tuple[str, float, float]] = field(default_factory=list)  # (operator, ms per step, calls per step)

    def table(self) -> str:
        rows = [["where a step's time goes", "ms", "% of step", "ops"]]
        for kind, (ms, ops) in self.kinds.items():
            rows.append([kind, f"{ms:.2f}", f"{100 * ms / self.step_ms:.0f}%", f"{ops:.0f}" if ops else ""])
        rows.append(["step (wall time)", f"{self.step_ms:.2f}", "100%", ""])
        top = [["busiest operators", "ms", "% of step", "calls"]]
        top += [[name, f"{ms:.2f}", f"{100 * ms / self.step_ms:.0f}%", f"{calls:.0f}"] for name, ms, calls in self.top]
        return render_table(rows, "plain", "<>>>") + "\n" + render_table(top, "plain", "<>>>")


def kind_of(name: str) -> str:
    return next((kind for kind, pattern in KINDS if re.search(pattern, name)), OTHER_OPS)


def profile_step(step, repeats: int = 10) -> StepProfile:
    """Profile `step()` (warmed up first) over `repeats` calls; times are per call."""
    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    wall = (time.perf_counter() - start) * 1000 / repeats
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        profiled = (time.perf_counter() - start) * 1000 / repeats
    own: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for event in prof.key_averages():
        own[event.key] += event.self_cpu_time_total / 1000 / repeats
        calls[event.key] += event.count / repeats
    kinds: dict[str, list[float]] = {kind: [0.0, 0.0] for kind, _ in (*KINDS, (OTHER_OPS, ""))}
    for name, ms in own.items():
        entry = kinds[kind_of(name)]
        entry[0] += ms
        entry[1] += calls[name]
    result = StepProfile(wall)
    result.kinds = {kind: (ms, ops) for kind, (ms, ops) in kinds.items() if ms > 0}
    # Against the profiled run's own wall time: the ops' times come from that run, and on a busy machine an
    # unprofiled run can be faster than the ops alone were. The profiler's cost lands in the ops' times, so
    # "between" is a lower bound.
    result.kinds[BETWEEN] = (max(0.0, profiled - sum(own.values())), 0.0)
    result.top = [(name, ms, calls[name]) for name, ms in own.most_common(8)]
    return result
