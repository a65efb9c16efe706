"""Concurrent clients against a `dglsp serve-model` URL: fills per second and latency per request.

Each client sends its tasks one after another (a closed loop, as editors do: the next request after the
answer); the clients run at once. Nothing here knows Ray: the same load runs against any deployment.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Load:
    name: str
    clients: int
    fills: int
    seconds: float
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.fills / self.seconds if self.seconds else 0.0

    def row(self) -> list[str]:
        return [
            self.name,
            str(self.clients),
            str(self.fills),
            f"{self.per_second:.2f}",
            f"{self.p50_ms:.0f}",
            f"{self.p95_ms:.0f}",
            str(self.errors),
        ]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HEADER = ["run", "clients", "fills", "fills/s", "p50 ms", "p95 ms", "errors"]


def post_fill(url: str, task: dict, token: str | None = None, timeout: float = 300) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url.rstrip("/") + "/fill", json.dumps(task).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


def run_load(name: str, fill: Callable[[dict], dict], tasks: list[dict], clients: int, progress=None) -> Load:
    """`clients` threads share `tasks` round-robin, each sending its share one by one through `fill`."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def client(mine: list[dict]) -> None:
        nonlocal errors
        for task in mine:
            start = time.perf_counter()
            try:
                ok = "error" not in fill(task)
            except OSError:
                ok = False
            with lock:
                if ok:
                    latencies.append((time.perf_counter() - start) * 1000)
                else:
                    errors += 1
            if progress is not None:
                progress.update(1)

    shares = [tasks[i::clients] for i in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, shares))
    seconds = time.perf_counter() - start
    p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (0.0, 0.0)
    return Load(name, clients, len(latencies), seconds, float(p50), float(p95), errors)
