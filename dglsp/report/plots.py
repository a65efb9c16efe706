"""PNG plots with matplotlib, which is optional: without it a plot is skipped, not an error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def save_plot(path: Path, draw: Callable[[Any], None], **subplots: Any) -> bool:
    """Make a figure with `plt.subplots(**subplots)`, let `draw` fill its axes, save it to `path` as PNG.

    False when matplotlib is not installed. The figure is closed even when `draw` fails, so a long run that
    plots repeatedly does not accumulate figures.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # headless: reports are written on servers and in CI, with no display
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(**subplots)
    try:
        draw(axes)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return True
