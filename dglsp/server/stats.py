"""What `dglsp/stats` answers: latency percentiles per feature and what happened to each request.

`StatsReport` is the one shape of that answer: the editors' types for it are generated from these dataclasses
(`dglsp describe --write-editors`), so a field added here reaches them or fails their check.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model_host import ModelState

WINDOW = 1000  # latencies kept per feature


@dataclass(frozen=True)
class Latency:
    n: int
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True)
class Footprint:
    """What the server holds now: the process (None without /proc) and the entries of each cache and table."""

    rss_mb: float | None
    threads: int | None
    open_files: int | None
    documents: int
    fill_cache: int
    prefix_cache: int
    client_requests: int  # requests dglsp sent the client that are still unanswered (each has a timeout)
    handlers: int  # messages whose handler is still running


@dataclass(frozen=True)
class StatsReport:
    version: str
    model: ModelState
    settings: dict[str, Any]
    worker_pending: int
    worker_running: str | None  # a job's key while the model runs it
    latency: dict[str, Latency]
    counts: dict[str, dict[str, int]]  # feature -> outcome -> requests
    footprint: Footprint


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=WINDOW))
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, feature: str, ms: float, outcome: str) -> None:
        """`outcome`: served, empty, cached, low_confidence (a fill under the threshold, not shown), cancelled,
        superseded, stale, error, no_model, disabled."""
        self.count(feature, outcome)
        if outcome in ("served", "empty", "cached", "low_confidence"):
            self.latency[feature].append(ms)

    def count(self, feature: str, outcome: str) -> None:
        self.counts[feature][outcome] += 1

    def latencies(self) -> dict[str, Latency]:
        features = {}
        for feature, values in self.latency.items():
            if values:
                p50, p95 = np.percentile(np.fromiter(values, float), [50, 95])
                features[feature] = Latency(len(values), round(p50, 1), round(p95, 1), round(max(values), 1))
        return features

    def outcome_counts(self) -> dict[str, dict[str, int]]:
        return {feature: dict(c) for feature, c in sorted(self.counts.items())}
