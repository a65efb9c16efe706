"""How many CPU threads the model should use now: the cores the rest of the machine leaves free.

On a 2-core laptop with a build running, torch's one-thread-per-core default makes its threads wait on each other
and a fill takes twice as long as on one thread (see README's Performance section); on an idle machine the second
thread is a third faster. So with `threads = 0` the count follows the load, read from /proc/stat (Linux) for the
cores this process may run on, less this process's own use.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PROC_STAT = Path("/proc/stat")
TICK_S = 0.5
SMOOTHING = 0.5  # weight of the newest half second: about the last second and a half counts


def allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def busy_seconds(cpus: list[int], stat: str) -> float | None:
    """CPU-seconds spent busy (not idle or waiting on I/O) on `cpus`, from /proc/stat's text."""
    wanted = {f"cpu{i}" for i in cpus}
    ticks = 0
    found = 0
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
            ticks += user + nice + system + irq + softirq + steal
            found += 1
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


def threads_for(others: float, most: int) -> int:
    """Threads that fit beside `others` cores of other work, between 1 and `most`."""
    return max(1, min(most, round(most - others)))


class CpuShare:
    """A background reading of the other processes' load; `threads()` is what the model should use now."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.cpus = allowed_cpus()
        self.others = 0.0  # cores' worth of other processes' work, smoothed
        self._stop = threading.Event()
        self._last = self._sample()
        self._thread: threading.Thread | None = None
        if self._last is not None:
            self._thread = threading.Thread(target=self._run, name="dglsp-cpu-share", daemon=True)
            self._thread.start()

    def threads(self) -> int:
        return threads_for(self.others, self.most) if self._thread else self.most

    def stop(self) -> None:
        self._stop.set()

    def _sample(self) -> tuple[float, float, float] | None:
        try:
            busy = busy_seconds(self.cpus, PROC_STAT.read_text())
        except OSError:
            return None
        return None if busy is None else (busy, time.process_time(), time.monotonic())

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            now = self._sample()
            if now is None or self._last is None:
                continue
            busy, own, wall = (n - last for n, last in zip(now, self._last, strict=True))
            self._last = now
            if wall > 0:
                others = max(0.0, (busy - own) / wall)
                self.others = SMOOTHING * others + (1 - SMOOTHING) * self.others
