"""The stress run's report: the table, the soak's drift by fifth of the run, and its plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...report.plots import save_plot
from ...report.tables import render_table
from .phase import Phase, rss_slope

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def drift(phase: Phase, windows: int = 5) -> list[tuple[float, float]]:
    """p95 latency in equal slices of the run: flat means no drift."""
    ms = [m for _, m in phase.latencies]
    if len(ms) < windows:
        return []
    size = len(ms) // windows
    return [tuple(np.percentile(ms[i * size : (i + 1) * size], [50, 95])) for i in range(windows)]


def table(phases: list[Phase]) -> str:
    rows = [p.summary() for p in phases]
    keys = ["phase", "cases", "crashes", "hangs", "errors", "slow", "seconds", "p50_ms", "p95_ms", "max_ms",
            "rss_start_mb", "rss_end_mb", "rss_growth_mb", "rss_slope_mb_per_1000"]  # fmt: skip
    lines = [render_table([keys, *[[str(r.get(k, "")) for k in keys] for r in rows]])]
    for phase in phases:
        if phase.name == "soak" and (slices := drift(phase)):
            lines.append("soak p50/p95 ms by fifth of the run: " + ", ".join(f"{a:.0f}/{b:.0f}" for a, b in slices))
        if phase.name == "soak" and phase.footprints and len(phase.footprints[0]) > 1:
            first, last = phase.footprints[0], phase.footprints[-1]
            held = ", ".join(f"{k} {first[k]} -> {last[k]}" for k in first if k not in ("requests", "rss_mb"))
            lines.append(f"soak footprint from the first sample to the last: {held}")
        lines += [f"  {phase.name}: {note}" for note in phase.notes[:20]]
    return "\n".join(lines)


def plot(phases: list[Phase], path: Path) -> bool:
    """The soak's latency and memory over the run; False without a soak or without matplotlib."""
    soak_phase = next((p for p in phases if p.name == "soak" and p.latencies), None)
    if soak_phase is None:
        return False
    return save_plot(path, lambda axes: _draw_soak(axes, soak_phase), nrows=4, ncols=1, figsize=(9, 12))


def _draw_soak(axes: Sequence[Axes], phase: Phase) -> None:
    latency, memory, process, tables = axes
    t, ms = zip(*phase.latencies, strict=True)
    latency.scatter(t, ms, s=4)
    latency.set(xlabel="seconds", ylabel="request ms", yscale="log", title="dglsp soak: latency, memory, what it holds")
    n, mb = np.array(phase.rss_mb, float).T
    memory.plot(n, mb, label="RSS")
    half = n >= n[len(n) // 2]
    slope = rss_slope(phase.rss_mb)
    fit = np.polyfit(n[half], mb[half], 1) if half.sum() >= 2 else None
    if fit is not None:
        memory.plot(n[half], np.polyval(fit, n[half]), "--", label=f"second half: {slope:+.3f} MB per 1,000 requests")
    memory.set(ylabel="server RSS MB")
    memory.legend(loc="lower right")
    samples = [f for f in phase.footprints if len(f) > 1]
    at = [f["requests"] for f in samples]
    for key in ("threads", "open_files"):
        process.plot(at, [f[key] for f in samples], label=key)
    process.set(ylabel="count")
    process.legend(loc="upper left")
    for key in ("documents", "fill_cache", "prefix_cache", "handlers", "client_requests"):
        tables.plot(at, [f[key] for f in samples], label=key)
    tables.set(xlabel="requests", ylabel="entries")
    tables.legend(loc="upper left")
