"""The infilling report: a table for the terminal, every task in JSON, pass@1 against speed in a PNG."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ..report.plots import save_plot
from ..report.tables import render_table
from .infill_run import ConfigSummary, TaskResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLUMNS = (
    ("config", "{}", "<"),
    ("tasks", "{}", ">"),
    ("pass@1", "{:.1%}", ">"),
    ("exact", "{:.1%}", ">"),
    ("parses", "{:.1%}", ">"),
    ("p50 ms", "{:.0f}", ">"),
    ("p95 ms", "{:.0f}", ">"),
    ("max ms", "{:.0f}", ">"),
    ("steps", "{:.1f}", ">"),
    ("tok/step", "{:.2f}", ">"),
    ("tok/s", "{:.1f}", ">"),
    ("vs seq", "{}", ">"),
    ("peak MB", "{:.0f}", ">"),
)


def _speedup(summary: ConfigSummary, sequential: ConfigSummary | None) -> str:
    if sequential is None or summary.model_free or not summary.mean_ms:
        return "-"
    return f"{sequential.mean_ms / summary.mean_ms:.2f}x"


def table(header: str, summaries: Sequence[ConfigSummary]) -> str:
    """One row per configuration; `vs seq` is how many times faster per task than the sequential schedule."""
    sequential = next((s for s in summaries if s.config == "sequential"), None)
    rows = [
        [
            s.config,
            s.tasks,
            s.pass_at_1,
            s.exact,
            s.parses,
            s.p50_ms,
            s.p95_ms,
            s.max_ms,
            s.mean_steps,
            s.tokens_per_step,
            s.tokens_per_s,
            _speedup(s, sequential),
            s.peak_mb,
        ]
        for s in summaries
    ]
    cells = [[fmt.format(v) for (_, fmt, _), v in zip(COLUMNS, row, strict=True)] for row in rows]
    names = [name for name, _, _ in COLUMNS]
    align = "".join(a for _, _, a in COLUMNS)
    return "\n".join([header, render_table([names, *cells], "plain", align), "", LEGEND])


LEGEND = (
    "pass@1: tests pass, one fill per task; exact: the reference middle (trailing spaces aside); parses: the\n"
    "filled function parses. ms: per-task fill latency. steps: forward passes per task. tok/step and tok/s:\n"
    "fill tokens over steps and over fill time. vs seq: how many times faster per task than 'sequential'\n"
    "(one token committed per step). peak MB: process peak RSS on CPU, peak allocated on CUDA."
)


def write_json(path: Path, settings: dict, summaries: Sequence[ConfigSummary], results: Sequence[TaskResult]) -> None:
    payload = {
        "settings": settings,
        "summaries": [asdict(s) for s in summaries],
        "tasks": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def write_plot(path: Path, title: str, summaries: Sequence[ConfigSummary]) -> bool:
    """pass@1 against tokens/s, one point per configuration; False when matplotlib is not installed."""
    return save_plot(path, lambda ax: _draw(ax, title, summaries), figsize=(8, 4.8), dpi=120)


def _draw(ax: Axes, title: str, summaries: Sequence[ConfigSummary]) -> None:
    from matplotlib.ticker import NullFormatter

    points = [s for s in summaries if not s.model_free]
    for s in points:
        ax.scatter(s.tokens_per_s, 100 * s.pass_at_1, s=40, zorder=3)
        ax.annotate(s.config, (s.tokens_per_s, 100 * s.pass_at_1), textcoords="offset points", xytext=(6, 5))
    for s in summaries:
        if s.model_free:  # the oracle's 100% and the empty fill's floor, as reference lines
            ax.axhline(100 * s.pass_at_1, ls="--", lw=0.8, color="gray")
            ax.annotate(s.config, (0.01, 100 * s.pass_at_1), xycoords=("axes fraction", "data"), color="gray",
                        textcoords="offset points", xytext=(0, 3), fontsize=8)  # fmt: skip
    if points and min(s.tokens_per_s for s in points) > 0:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.3)
    ax.set_xlabel("tokens/s (fill tokens over fill time)")
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(-3, 105)
    ax.set_title(title.replace(", ", "\n", 1), fontsize=9)
    ax.grid(True, alpha=0.3)
