"""What the server process holds (memory, threads, open files), read from /proc: a soak watches these over a day,
and a user can ask for them without a profiler. None where the system has no /proc."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc/self")


def process_footprint() -> tuple[float | None, int | None, int | None]:
    """(resident MB, threads, open file descriptors) of this process."""
    try:
        status = dict(line.split(":", 1) for line in (PROC / "status").read_text().splitlines() if ":" in line)
        rss_mb = int(status["VmRSS"].split()[0]) / 1024
        threads = int(status["Threads"])
        files = len(os.listdir(PROC / "fd"))
    except (OSError, KeyError, ValueError):
        return None, None, None
    return round(rss_mb, 1), threads, files
