"""Training batches built by worker processes, in step order, ahead of the step that needs them.

A tiny model on a big GPU finishes a step faster than one Python thread builds its examples (about 1,000
examples/s per core here). So `workers` processes each build whole batches, every one exactly the batch the
training loop would build itself for that step (`maker.batch(docs, rng(seed, step))`): resuming, and runs with
or without workers, stay bit for bit the same. The time the loop spends waiting is counted, so a run says
whether the data or the model is the bottleneck.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import torch

from .corpus import start_worker
from .examples import Batch, ExampleMaker, Split

_job: tuple[ExampleMaker, Split, int] | None = None  # a worker's maker, documents and seed


def _start_worker(maker: ExampleMaker, docs: Split, seed: int) -> None:
    global _job
    start_worker()  # SIGTERM back to its default
    torch.set_num_threads(1)  # a worker builds numpy arrays; torch's thread pool would only compete
    _job = (maker, docs, seed)


def build(maker: ExampleMaker, docs: Split, seed: int, step: int) -> Batch:
    """The batch of `step`: the same wherever and whenever it is built."""
    return maker.batch(docs, np.random.default_rng([seed, step]))


def _build_in_worker(step: int) -> Batch:
    assert _job is not None
    return build(*_job, step)


def default_workers() -> int:
    """All cores but one (the training loop's), at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores - 1)


class BatchStream(Iterator[tuple[int, Batch]]):
    """(step, batch) from `start` on; `workers=0` builds each batch in this process when it is asked for."""

    def __init__(
        self, maker: ExampleMaker, docs: Split, seed: int, start: int, workers: int = 0, ahead: int = 0
    ) -> None:
        self.maker, self.docs, self.seed = maker, docs, seed
        self.next_step = start  # the step whose batch is handed out next
        self.wait_seconds = 0.0  # time the consumer spent blocked on a batch
        self.pool: ProcessPoolExecutor | None = None
        self.pending: deque[Future[Batch]] = deque()
        self.submitted = start
        self.ahead = ahead or 2 * workers
        if workers > 0:
            # fork shares the packed corpus with the workers for free; elsewhere they get a pickled copy.
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            context = multiprocessing.get_context(method)
            self.pool = ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=(maker, docs, seed))

    def __next__(self) -> tuple[int, Batch]:
        started = time.monotonic()
        if self.pool is None:
            batch = build(self.maker, self.docs, self.seed, self.next_step)
        else:
            while self.submitted < self.next_step + self.ahead:
                self.pending.append(self.pool.submit(_build_in_worker, self.submitted))
                self.submitted += 1
            batch = self.pending.popleft().result()
        self.wait_seconds += time.monotonic() - started
        step, self.next_step = self.next_step, self.next_step + 1
        return step, batch

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)  # waits for the batches being built, no more
            self.pool = None

    def __enter__(self) -> BatchStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def examples_per_second(maker: ExampleMaker, docs: Split, workers: int, seconds: float) -> tuple[float, float]:
    """(examples/s, tokens/s) that `workers` processes deliver to one consumer over about `seconds`."""
    with BatchStream(maker, docs, seed=0, start=0, workers=workers) as stream:
        next(stream)  # workers up and their first batches under way
        started, examples, tokens = time.monotonic(), 0, 0
        while time.monotonic() - started < seconds:
            _, batch = next(stream)
            examples += batch.clean.shape[0]
            tokens += batch.tokens
        elapsed = time.monotonic() - started
    return examples / elapsed, tokens / elapsed
