"""dglsp/stats: the model's state, the settings in force, latencies and outcomes (one `StatsReport`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ... import __version__
from ..app import DglspServer
from ..contract import STATS
from ..footprint import process_footprint
from ..stats import Footprint, StatsReport


def report(ls: DglspServer) -> StatsReport:
    return StatsReport(
        version=__version__,
        model=ls.host.status,
        settings=dataclasses.asdict(ls.settings),
        worker_pending=ls.worker.pending,
        worker_running=ls.worker.running,
        latency=ls.stats.latencies(),
        counts=ls.stats.outcome_counts(),
        footprint=footprint(ls),
    )


def footprint(ls: DglspServer) -> Footprint:
    engine = ls.host.engine
    prefix = getattr(engine, "cache", None)  # a remote backend keeps its own
    return Footprint(
        *process_footprint(),
        documents=len(ls.documents),
        fill_cache=len(ls.cache),
        prefix_cache=len(prefix) if prefix is not None else 0,
        client_requests=len(ls.protocol.asked),
        handlers=ls.protocol.running_handlers(),
    )


def stats(ls: DglspServer, _params: Any = None) -> dict:
    return dataclasses.asdict(report(ls))


def register(ls: DglspServer) -> None:
    ls.feature(STATS)(stats)
