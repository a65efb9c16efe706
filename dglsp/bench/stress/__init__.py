"""`dglsp bench --stress`: the real server under fuzzing (hypothesis over raw JSON-RPC), heavy documents and a soak
of mixed editor traffic. Counts crashes, hangs (no answer to a cheap request within 2 s), errors and slow answers;
samples latency, memory, threads, open files and the caches over time."""

from .fuzz import fuzz
from .heavy import heavy
from .phase import Phase, Server, rss_slope
from .report import plot, table
from .soak import soak

__all__ = ["Phase", "Server", "fuzz", "heavy", "plot", "rss_slope", "soak", "table"]
