"""dglsp/stats: the model's state, the settings in force, latencies and outcomes (one `StatsReport`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ... import __version__
from ..app import DglspServer
from ..contract import STATS
from ..stats import StatsReport


def report(ls: DglspServer) -> StatsReport:
    return StatsReport(
        version=__version__,
        model=ls.host.status,
        settings=dataclasses.asdict(ls.settings),
        worker_pending=ls.worker.pending,
        worker_running=ls.worker.running,
        latency=ls.stats.latencies(),
        counts=ls.stats.outcome_counts(),
    )


def stats(ls: DglspServer, _params: Any = None) -> dict:
    return dataclasses.asdict(report(ls))


def register(ls: DglspServer) -> None:
    ls.feature(STATS)(stats)
