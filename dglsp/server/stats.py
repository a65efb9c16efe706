"""What `dglsp/stats` answers: latency percentiles per feature and what happened to each request."""

from __future__ import annotations

from collections import Counter, defaultdict, deque

import numpy as np

WINDOW = 1000  # latencies kept per feature


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=WINDOW))
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, feature: str, ms: float, outcome: str) -> None:
        """`outcome`: served, empty, cached, cancelled, superseded, stale, error, no_model, disabled."""
        self.count(feature, outcome)
        if outcome in ("served", "empty", "cached"):
            self.latency[feature].append(ms)

    def count(self, feature: str, outcome: str) -> None:
        self.counts[feature][outcome] += 1

    def snapshot(self) -> dict:
        features = {}
        for feature, values in self.latency.items():
            if values:
                p50, p95 = np.percentile(np.fromiter(values, float), [50, 95])
                features[feature] = {
                    "n": len(values),
                    "p50_ms": round(p50, 1),
                    "p95_ms": round(p95, 1),
                    "max_ms": round(max(values), 1),
                }
        return {"latency": features, "counts": {feature: dict(c) for feature, c in sorted(self.counts.items())}}
