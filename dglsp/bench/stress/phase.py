"""A stress phase's counts and samples, and the real server it runs against (restarted when it dies)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..wire import Closed, Silent, Wire

PROBE_S = 2.0  # a cheap request must be answered this fast, or the server counts as hung
EXIT_S = 10.0  # a server that closed its output must be gone this soon
EXPECTED_ERRORS = {-32800, -32801}  # RequestCancelled, ContentModified: the protocol working, not failing


@dataclass
class Phase:
    name: str
    cases: int = 0
    crashes: int = 0
    hangs: int = 0
    errors: int = 0
    slow: int = 0  # answered, but after more than PROBE_S
    seconds: float = 0.0
    rss_mb: list[tuple[int, float]] = field(default_factory=list)  # (case or request, MB)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, ms)
    footprints: list[dict] = field(default_factory=list)  # {"requests": n, **the server's footprint}
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        rss = [mb for _, mb in self.rss_mb]
        ms = [m for _, m in self.latencies]
        out = {
            "phase": self.name,
            "cases": self.cases,
            "crashes": self.crashes,
            "hangs": self.hangs,
            "errors": self.errors,
            "slow": self.slow,
            "seconds": round(self.seconds, 1),
            "rss_start_mb": round(rss[0], 1) if rss else None,
            "rss_end_mb": round(rss[-1], 1) if rss else None,
            "rss_growth_mb": round(rss[-1] - rss[0], 1) if rss else None,
        }
        if ms:
            p50, p95 = np.percentile(ms, [50, 95])
            out |= {"p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1), "max_ms": round(max(ms), 1)}
        if self.name == "soak" and len(self.rss_mb) >= 4:  # one server throughout (heavy starts one per case)
            out["rss_slope_mb_per_1000"] = round(rss_slope(self.rss_mb), 3)
        for key in ("threads", "open_files"):
            values = [f[key] for f in self.footprints if f.get(key) is not None]
            if values:
                out[key] = f"{values[0]} -> {values[-1]} (max {max(values)})"
        return out


def rss_slope(samples: list[tuple[int, float]]) -> float:
    """MB per 1,000 requests: a least-squares line through the second half of the run (after the warm-up, while
    caches fill, has passed)."""
    half = samples[len(samples) // 2 :]
    n, mb = np.array([s[0] for s in half], float), np.array([s[1] for s in half], float)
    if len(half) < 2 or np.ptp(n) == 0:
        return 0.0
    return float(np.polyfit(n, mb, 1)[0] * 1000)


class Server:
    """A `dglsp --stdio` that is restarted when it dies, counting the deaths."""

    def __init__(
        self, options: dict, encoding: str = "utf-16", capabilities: dict | None = None, root: Path | None = None
    ) -> None:
        self.options, self.encoding, self.root = options, encoding, root
        self.capabilities = {"general": {"positionEncodings": [encoding]}, **(capabilities or {})}
        self.wire = self._start()

    def _start(self) -> Wire:
        wire = Wire()
        params = {"capabilities": self.capabilities, "initializationOptions": self.options}
        if self.root is not None:
            params["rootUri"] = self.root.as_uri()
        wire.request("initialize", params)
        wire.notify("initialized", {})
        return wire

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Until the model has loaded, so a case's time is the case's, not the load's."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if self.stats()["model"]["state"] in ("ready", "error"):
                return
            time.sleep(0.2)

    def stats(self, timeout: float = 30.0) -> dict:
        return self.wire.request("dglsp/stats", timeout=timeout)["result"]

    def alive(self) -> bool:
        return self.wire.proc.poll() is None

    def probe(self) -> str:
        """ok, hang or crash: a cheap request, answered within PROBE_S."""
        if not self.alive():
            return "crash"
        try:
            answer = self.wire.request("dglsp/stats", timeout=PROBE_S)
            return "shut down" if answer.get("error", {}).get("code") == -32600 else "ok"
        except (Closed, Silent):
            # On its way out (told to exit, or dying), perhaps before it closed its output: a few seconds of
            # teardown with torch loaded, on a busy machine, are not a hang; a process still there after them is.
            try:
                self.wire.proc.wait(timeout=EXIT_S)
            except subprocess.TimeoutExpired:
                return "hang"
            return "crash"
        except (BrokenPipeError, OSError):
            return "crash"

    def restart(self) -> None:
        self.wire.close()
        self.wire = self._start()

    def close(self) -> None:
        self.wire.close()
