"""A user typing: a few lines of a real file written again character by character, asking for a suggestion at
each keystroke as the server would (the same gap rules, the prefix cache warm), with the latency of each.

Every keystroke asks here; an editor's debounce drops most of them, so these figures are the worst case of
the work a typist causes, not what each one waits for after a pause. Each is an automatic request: it is shown
only when its confidence reaches the threshold, and the server's sampler gives up on one that cannot (`give_up`).
"""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..engine.engine import Engine
from ..engine.types import FillRequest, SamplerConfig
from ..report.tables import render_table
from ..syntax.gap import find_gap
from ..syntax.languages import language_of_path

DEFAULT_FILE = Path(textwrap.__file__)  # real code that every Python has


@dataclass
class Keystroke:
    cursor: int
    kind: str  # the gap's kind: line, block, or none (no request: inside a word, in a comment)
    ms: float = 0.0
    steps: int = 0
    stop: str = ""
    fill: str = ""
    score: float | None = None  # its confidence score


@dataclass
class TypingReport:
    file: str
    first_line: int  # 1-based
    lines: int
    chars: int
    floor: float = 0.0  # the confidence a suggestion needs to be shown
    keys: list[Keystroke] = field(default_factory=list)

    @property
    def asked(self) -> list[Keystroke]:
        return [k for k in self.keys if k.kind != "none"]

    def summary(self) -> dict:
        asked = self.asked
        ms = sorted(k.ms for k in asked)
        steps = [k.steps for k in asked]
        return {
            "keystrokes": len(self.keys),
            "requests": len(asked),
            "p50_ms": round(percentile(ms, 50), 1) if ms else None,
            "p95_ms": round(percentile(ms, 95), 1) if ms else None,
            "mean_steps": round(statistics.mean(steps), 1) if steps else None,
            "converged": sum(k.stop == "converged" for k in asked),
            "given_up": sum(k.stop == "low_confidence" for k in asked),
            "shown": sum(bool(k.fill) and (k.score is None or k.score >= self.floor) for k in asked),
        }

    def table(self) -> str:
        s = self.summary()
        rows = [
            ["measure", "value"],
            ["file", f"{self.file} lines {self.first_line}-{self.first_line + self.lines - 1}"],
            ["keystrokes (characters typed)", str(s["keystrokes"])],
            ["suggestions asked (the rest fall inside a word or a comment)", str(s["requests"])],
            ["latency p50 ms", f"{s['p50_ms']}"],
            ["latency p95 ms", f"{s['p95_ms']}"],
            ["denoising steps per suggestion, mean", f"{s['mean_steps']}"],
            ["suggestions that met the stop rule", f"{s['converged']} of {s['requests']}"],
            ["given up part-way as under the threshold", f"{s['given_up']} of {s['requests']}"],
            [f"shown (confidence >= {self.floor:.3f}, not empty)", f"{s['shown']} of {s['requests']}"],
        ]
        return render_table(rows, "plain", "<>")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


def pick_lines(text: str, lines: int) -> int:
    """0-based first line to retype: the first definition after a third of the file with `lines` lines in it."""
    all_lines = text.split("\n")
    start = len(all_lines) // 3
    for i in range(start, len(all_lines) - lines):
        if all_lines[i].lstrip().startswith("def ") and all(all_lines[i : i + lines]):
            return i
    return start


def replay(
    engine: Engine,
    sampler: SamplerConfig,
    budgets: tuple[int, int],
    path: Path = DEFAULT_FILE,
    lines: int = 6,
    first_line: int | None = None,
    progress: bool = True,
    floor: float = 0.0,
) -> TypingReport:
    """Type lines [first_line, first_line + lines) of `path` into the file without them, one character at a time;
    `budgets`: the token budgets of a line gap and a block gap (the server's settings); `floor`: the confidence a
    suggestion needs to be shown."""
    line_tokens, block_tokens = budgets
    text = path.read_text(encoding="utf-8")
    language = language_of_path(str(path))
    all_lines = text.split("\n")
    first = pick_lines(text, lines) if first_line is None else first_line
    before = "\n".join(all_lines[:first]) + "\n"
    typed = "\n".join(all_lines[first : first + lines]) + "\n"
    after = "\n".join(all_lines[first + lines :])
    report = TypingReport(str(path), first + 1, lines, len(typed), floor)
    for n in tqdm(range(1, len(typed) + 1), desc="typing", unit="key", disable=not progress or None):
        buffer = before + typed[:n] + after
        cursor = len(before) + n
        gap = find_gap(buffer, cursor, language, line_tokens=line_tokens, block_tokens=block_tokens)
        key = Keystroke(cursor, gap.kind)
        if gap.kind != "none":
            request = FillRequest(gap.prefix, gap.suffix, language, gap.max_tokens, single_line=gap.kind == "line")
            result = engine.fill(request, sampler)
            key.ms, key.steps, key.stop, key.fill = result.ms, result.steps, result.stop, result.text
            key.score = result.confidence.score if result.confidence is not None else None
        report.keys.append(key)
    return report
