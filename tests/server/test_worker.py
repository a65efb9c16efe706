"""The model worker: one job at a time, superseded and cancelled jobs stop, a failing job does not stop it."""

import threading
import time

import pytest

from dglsp.server.worker import Cancelled, Worker


def steps_until_cancelled(started: threading.Event):
    def run(cancel: threading.Event) -> str:
        started.set()
        for _ in range(500):  # like denoising steps: the cancel flag is read between them
            if cancel.is_set():
                raise Cancelled("stopped between steps")
            time.sleep(0.01)
        return "finished"

    return run


def test_a_newer_job_for_the_same_key_stops_the_running_one_and_the_queued_one():
    worker = Worker()
    started = threading.Event()
    running = worker.submit(steps_until_cancelled(started), key="a.py")
    assert started.wait(5)
    queued = worker.submit(lambda _c: "never", key="a.py")
    newest = worker.submit(lambda _c: "newest", key="a.py")
    other = worker.submit(lambda _c: "other document", key="b.py")
    assert newest.future.result(timeout=5) == "newest"
    assert other.future.result(timeout=5) == "other document"
    for job in (running, queued):
        with pytest.raises(Cancelled):
            job.future.result(timeout=5)
    assert running.superseded and queued.superseded
    worker.stop()


def test_cancel_stops_a_running_job_within_a_step():
    worker = Worker()
    started = threading.Event()
    job = worker.submit(steps_until_cancelled(started))
    assert started.wait(5)
    begin = time.perf_counter()
    job.cancel()
    with pytest.raises(Cancelled):
        job.future.result(timeout=5)
    assert time.perf_counter() - begin < 1.0
    worker.stop()


def test_a_failing_job_does_not_stop_the_worker():
    worker = Worker()

    def boom(_cancel):
        raise MemoryError("out of memory")

    with pytest.raises(MemoryError):
        worker.submit(boom).future.result(timeout=5)
    assert worker.submit(lambda _c: 42).future.result(timeout=5) == 42
    worker.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        worker.submit(lambda _c: 1)


def test_the_worker_says_which_job_it_is_running_and_when_it_is_idle():
    worker = Worker()
    started, release = threading.Event(), threading.Event()

    def run(_cancel: threading.Event) -> str:
        started.set()
        release.wait(5)
        return "done"

    assert worker.running is None
    job = worker.submit(run, key="a.py")
    assert started.wait(5)
    assert worker.running == "a.py"
    release.set()
    assert job.future.result(5) == "done"
    keyless = worker.submit(lambda _c: worker.running)
    assert keyless.future.result(5) == ""  # a job without a key is still a running job
    worker.stop()
