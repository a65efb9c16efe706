"""What `dglsp/stats` answers: latency percentiles per feature and what happened to each request."""

from __future__ import annotations

from collections import Counter, defaultdict, deque

import numpy as np

WINDOW = 1000  # latencies kept per feature


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=WINDOW))
        self.counts: Counter[str] = Counter()

    def record(self, feature: str, ms: float, outcome: str) -> None:
        """`outcome`: served, empty, cached, cancelled, superseded, stale, error, no-model."""
        self.counts[f"{feature}.{outcome}"] += 1
        if outcome in ("served", "empty", "cached"):
            self.latency[feature].append(ms)

    def count(self, name: str) -> None:
        self.counts[name] += 1

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
        return {"latency": features, "counts": dict(sorted(self.counts.items()))}
