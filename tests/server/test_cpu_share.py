"""CPU threads for the model: the share other programs leave free, applied on the thread that runs the model."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from dglsp.server.cpu_share import CpuShare, busy_seconds, threads_for
from dglsp.server.model_host import ModelHost
from dglsp.server.settings import Settings
from dglsp.server.worker import Worker

STAT = """cpu  900 0 300 5000 10 0 0 0 0 0
cpu0 100 50 100 2000 5 20 10 5 0 0
cpu1 200 0 100 3000 5 0 0 0 0 0
intr 12345
"""
linux = pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat")


def test_busy_time_counts_only_the_allowed_cpus_and_not_idle_or_io_wait():
    ticks = os.sysconf("SC_CLK_TCK")
    assert busy_seconds([0], STAT) == pytest.approx((100 + 50 + 100 + 20 + 10 + 5) / ticks)
    assert busy_seconds([0, 1], STAT) == pytest.approx((285 + 300) / ticks)
    assert busy_seconds([7], STAT) is None


def test_threads_leave_room_for_other_work_but_never_drop_to_zero():
    assert threads_for(0.0, 2) == 2
    assert threads_for(1.0, 2) == 1
    assert threads_for(5.0, 2) == 1
    assert threads_for(2.6, 8) == 5


def skip_if_busy() -> None:
    """These tests need a core nobody else uses; on a machine already busy they cannot tell anything."""
    share = CpuShare(most=len(os.sched_getaffinity(0)))
    time.sleep(2)
    share.stop()
    if share.others > share.most - 1.5:
        pytest.skip(f"other programs keep {share.others:.1f} of {share.most} cores busy")


@linux
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores: one to keep busy")
def test_another_busy_process_is_seen_and_the_model_gets_fewer_threads():
    skip_if_busy()
    share = CpuShare(most=len(os.sched_getaffinity(0)))
    try:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            deadline = time.monotonic() + 10
            while share.others < 0.7 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert share.others >= 0.7
            assert share.threads() <= share.most - 1
        finally:
            spinner.kill()
            spinner.wait()
        deadline = time.monotonic() + 10
        while share.others > 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert share.others <= 0.5  # the load went away, and so does the estimate
    finally:
        share.stop()


@linux
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one thread or two must make a difference")
def test_a_thread_count_setting_reaches_the_worker_that_runs_the_model(dg_dir):
    """Set from the event loop, applied on the worker: OpenMP keeps the count per thread."""
    skip_if_busy()
    host, worker = ModelHost(), Worker()
    a = torch.randn(700, 700)

    def cores_used(_cancel) -> float:
        host.require()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(40):
            a @ a
        return (time.process_time() - cpu) / (time.perf_counter() - wall)

    try:
        assert host.load(Settings(model=str(dg_dir)), lambda _m: None).state == "ready"
        host.set_threads(1)
        assert worker.submit(cores_used).future.result() < 1.3
        host.set_threads(2)
        assert worker.submit(cores_used).future.result() > 1.4
    finally:
        worker.stop()
        host.stop()
