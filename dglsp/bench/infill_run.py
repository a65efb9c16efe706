"""Run infilling tasks through one or more fillers: fill, time, test in the sandbox, summarise.

The model fills on the main thread while finished fills run their tests on `jobs` worker threads (each test
is its own process), so test time hides behind model time.
"""

from __future__ import annotations

import ast
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import torch
from tqdm import tqdm

from ..engine.engine import Engine
from ..engine.types import FillRequest, SamplerConfig
from .humaneval_tasks import InfillTask
from .sandbox import Outcome, run_program

# Token budget per suite when --max-tokens is not given: a fill and its end token fill one canvas bucket (64,
# 256, 128), which holds every reference line, and 99.7% / 99.4% of the reference blocks / spans, in dglsp's
# 8k tokenizer. One budget per suite, never per task: a per-task budget would leak the answer's length.
BUDGETS = {"humaneval-single": 63, "humaneval-multi": 255, "humaneval-span": 127}


@dataclass(frozen=True)
class Attempt:
    fill: str
    ms: float
    steps: int  # forward passes of the denoiser (or decoder, for an autoregressive model)
    tokens: int  # tokens in the fill
    stop: str
    confidence: float | None = None  # the fill's confidence score, from a filler that has one


class Filler(Protocol):
    name: str

    def prepare(self) -> None:
        """Called before a configuration's first task: reset caches, warm up, so configurations start equal."""

    def fill(self, task: InfillTask, max_tokens: int) -> Attempt: ...


@dataclass
class DiffusionFiller:
    name: str
    engine: Engine
    sampler: SamplerConfig

    def prepare(self) -> None:
        if self.engine.cache is not None:
            self.engine.cache.clear()
        self.engine.fill(FillRequest(prefix="def f(x):\n    return ", suffix="\n", max_tokens=8), self.sampler)
        if self.engine.cache is not None:
            self.engine.cache.clear()

    def fill(self, task: InfillTask, max_tokens: int) -> Attempt:
        # A one-line task is the line gap an editor asks for at the end of a line: the server sets single_line there.
        request = FillRequest(task.prefix, task.suffix, "python", max_tokens, single_line=task.single_line)
        result = self.engine.fill(request, self.sampler)
        score = result.confidence.score if result.confidence is not None else None
        return Attempt(result.text, result.ms, result.steps, result.tokens, result.stop, score)


@dataclass
class ModelFreeFiller:
    """`oracle` fills the reference middle (checks the harness: it must score 100%); `empty` fills nothing (the
    floor, not quite 0%: a few reference lines are redundant)."""

    name: str

    def prepare(self) -> None:
        pass

    def fill(self, task: InfillTask, max_tokens: int) -> Attempt:
        return Attempt(task.middle if self.name == "oracle" else "", 0.0, 0, 0, "reference")


MODEL_FREE = ("oracle", "empty")


@dataclass(frozen=True)
class TaskResult:
    config: str
    task_id: str
    fill: str
    passed: bool
    status: str  # passed / failed / timeout
    detail: str
    exact: bool
    parses: bool
    ms: float
    steps: int
    tokens: int
    stop: str
    confidence: float | None = None


@dataclass(frozen=True)
class ConfigSummary:
    config: str
    tasks: int
    pass_at_1: float
    exact: float
    parses: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    mean_steps: float
    tokens_per_step: float
    tokens_per_s: float
    peak_mb: float

    @property
    def model_free(self) -> bool:
        """True for `oracle` and `empty`, which run no model and so have no speed."""
        return self.mean_steps == 0 and self.mean_ms == 0


def fill_for_task(task: InfillTask, text: str) -> str:
    """A single-line task takes the fill's first line and its newline; other tasks take the fill as it is."""
    return text.split("\n", 1)[0] + "\n" if task.single_line else text


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")


def parses(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # noise fills draw "invalid escape" warnings by the page
            ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def run_tasks(
    tasks: Sequence[InfillTask],
    fillers: Sequence[Filler],
    *,
    max_tokens: int,
    jobs: int = 2,
    timeout: float = 5.0,
    device: str = "cpu",
    progress: bool = True,
    deadline: float | None = None,
) -> tuple[list[TaskResult], list[ConfigSummary]]:
    """Every task through every filler; past `deadline` (time.monotonic()) no task starts, and each
    configuration is summarised over the tasks it ran."""
    results: list[TaskResult] = []
    summaries: list[ConfigSummary] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for filler in fillers:
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            filler.prepare()
            pending: list[tuple[InfillTask, Attempt, str, Future[Outcome]]] = []
            for task in tqdm(tasks, desc=filler.name, unit="task", disable=not progress, dynamic_ncols=True):
                if deadline is not None and time.monotonic() > deadline and pending:
                    break
                attempt = filler.fill(task, max_tokens)
                fill = fill_for_task(task, attempt.fill)
                pending.append((task, attempt, fill, pool.submit(run_program, task.program(fill), timeout=timeout)))
            mine = [
                TaskResult(
                    config=filler.name,
                    task_id=task.task_id,
                    fill=fill,
                    passed=(outcome := future.result()).passed,
                    status=outcome.status,
                    detail=outcome.detail,
                    exact=_normal(fill) == _normal(task.middle),
                    parses=parses(task.prefix + fill + task.suffix),
                    ms=attempt.ms,
                    steps=attempt.steps,
                    tokens=attempt.tokens,
                    stop=attempt.stop,
                    confidence=attempt.confidence,
                )
                for task, attempt, fill, future in pending
            ]
            results += mine
            summaries.append(summarize(filler.name, mine, peak_mb(device)))
    return results, summaries


def _percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def summarize(name: str, results: Sequence[TaskResult], peak: float) -> ConfigSummary:
    n = len(results)
    ms = [r.ms for r in results]
    seconds = sum(ms) / 1000
    tokens, steps = sum(r.tokens for r in results), sum(r.steps for r in results)
    return ConfigSummary(
        config=name,
        tasks=n,
        pass_at_1=sum(r.passed for r in results) / n,
        exact=sum(r.exact for r in results) / n,
        parses=sum(r.parses for r in results) / n,
        mean_ms=statistics.fmean(ms),
        p50_ms=statistics.median(ms),
        p95_ms=_percentile(ms, 95),
        max_ms=max(ms),
        mean_steps=steps / n,
        tokens_per_step=tokens / steps if steps else 0.0,
        tokens_per_s=tokens / seconds if seconds else 0.0,
        peak_mb=peak,
    )
