"""Which suggestions to show: coverage against precision as the confidence threshold rises, over bench tasks.

Coverage is the share of tasks whose fill scores at or above the threshold (a suggestion would be shown);
precision is pass@1 among those. The calibrated threshold is the lowest one whose precision meets the target
with at least `MIN_PASSED` passing fills shown: fewer passes than that are no evidence of a precision. When no
threshold meets it, the threshold is 1.0 and (almost) nothing is shown, which is the honest answer for a model
that is rarely right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..report.tables import render_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MIN_PASSED = 5
PRECISION_TARGET = 0.5  # at least half of what is shown passes its tests
GRID = (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)  # the thresholds every report shows


@dataclass(frozen=True)
class Point:
    threshold: float
    shown: int
    passed: int
    coverage: float
    precision: float  # 0 when nothing is shown


@dataclass(frozen=True)
class Calibration:
    config: str
    tasks: int
    pass_at_1: float
    target: float
    threshold: float
    met: bool  # False: no threshold met the target, so 1.0
    at_threshold: Point
    curve: tuple[Point, ...]  # one point per distinct score, highest first

    def record(self) -> dict:
        """What a model's dglsp.json keeps of it."""
        p = self.at_threshold
        return {
            "threshold": self.threshold,
            "target_precision": self.target,
            "met": self.met,
            "precision": round(p.precision, 4),
            "coverage": round(p.coverage, 4),
            "shown": p.shown,
            "passed": p.passed,
            "tasks": self.tasks,
            "pass_at_1": round(self.pass_at_1, 4),
        }

    def summary(self) -> dict:
        return {**self.record(), "curve": [asdict(p) for p in self.curve]}


def point(scored: Sequence[tuple[float, bool]], threshold: float) -> Point:
    shown = [passed for score, passed in scored if score >= threshold]
    n, passed = len(shown), sum(shown)
    return Point(threshold, n, passed, n / len(scored) if scored else 0.0, passed / n if n else 0.0)


def calibrate(
    config: str, scored: Sequence[tuple[float, bool]], target: float = PRECISION_TARGET, min_passed: int = MIN_PASSED
) -> Calibration:
    """`scored`: (confidence score, passed) per task."""
    thresholds = sorted({score for score, _ in scored}, reverse=True)
    curve = tuple(point(scored, t) for t in thresholds)
    good = [p for p in curve if p.precision >= target and p.passed >= min_passed]
    chosen = min(good, key=lambda p: p.threshold) if good else point(scored, 1.0)
    pass_at_1 = sum(passed for _, passed in scored) / len(scored) if scored else 0.0
    return Calibration(config, len(scored), pass_at_1, target, chosen.threshold, bool(good), chosen, curve)


def table(calibrations: Sequence[Calibration]) -> str:
    """Per configuration: coverage and precision at the grid's thresholds and at the calibrated one."""
    rows = [["config", "threshold", "shown", "coverage", "passed", "precision"]]
    for c in calibrations:
        for p in (point_at(c, t) for t in GRID):
            rows.append(_row(c.config, f"{p.threshold:.2f}", p))
        mark = "" if c.met else " (target not met: nothing shown)"
        rows.append(_row(c.config, f"{c.threshold:.4f}*", c.at_threshold, mark))
    legend = (
        "shown: tasks whose fill scores at or above the threshold; precision: pass@1 among them. *: the calibrated\n"
        f"threshold, the lowest with precision >= {calibrations[0].target:.0%} and at least {MIN_PASSED} passing "
        "fills shown (1.0 when none is)."
    )
    return "\n".join(["confidence gate", render_table(rows, "plain", "<>>>>>"), "", legend])


def point_at(c: Calibration, threshold: float) -> Point:
    """The curve's point for `threshold`: the tasks scoring at or above it."""
    above = [p for p in c.curve if p.threshold >= threshold]
    if not above:
        return Point(threshold, 0, 0, 0.0, 0.0)
    last = above[-1]  # the lowest score still at or above the threshold: all shown there are shown here
    return Point(threshold, last.shown, last.passed, last.coverage, last.precision)


def _row(config: str, threshold: str, p: Point, mark: str = "") -> list[str]:
    precision = f"{p.precision:.1%}" if p.shown else "-"
    return [config, threshold, str(p.shown), f"{p.coverage:.1%}", str(p.passed), precision + mark]


def draw(ax: Axes, title: str, calibrations: Sequence[Calibration]) -> None:
    """Precision against coverage, one line per configuration, its calibrated threshold marked."""
    for c in calibrations:
        xs = [100 * p.coverage for p in c.curve]
        ys = [100 * p.precision for p in c.curve]
        (line,) = ax.plot(xs, ys, drawstyle="steps-post", label=f"{c.config} (pass@1 {c.pass_at_1:.1%})")
        p = c.at_threshold
        ax.scatter([100 * p.coverage], [100 * p.precision], color=line.get_color(), zorder=3)
        ax.annotate(f"threshold {c.threshold:.3f}", (100 * p.coverage, 100 * p.precision),
                    textcoords="offset points", xytext=(6, 5), fontsize=8)  # fmt: skip
    if calibrations:
        ax.axhline(100 * calibrations[0].target, ls="--", lw=0.8, color="gray")
    ax.set_xlabel("coverage: tasks with a suggestion shown (%)")
    ax.set_ylabel("precision: pass@1 among shown (%)")
    ax.set_xlim(-2, 102)
    ax.set_ylim(-3, 105)
    ax.set_title(title.replace(", ", "\n", 1), fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
