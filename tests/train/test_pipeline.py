"""Batches built by worker processes are the batches the training loop would build itself, step for step."""

import numpy as np
import pytest
import torch

from dglsp.train.config import CONFIGS
from dglsp.train.corpus import collect, directory_source
from dglsp.train.examples import ExampleMaker
from dglsp.train.loop import pack
from dglsp.train.pipeline import BatchStream, examples_per_second


@pytest.fixture(scope="module")
def docs(tmp_path_factory, corpus):
    train, _ = pack(collect([directory_source(corpus)]), tmp_path_factory.mktemp("packed"), ["test"])
    return train


@pytest.fixture
def maker(tokenizer):
    return ExampleMaker(tokenizer, CONFIGS["smoke"], len(tokenizer))


def same(a, b) -> bool:
    return a.self_conditioning == b.self_conditioning and all(
        torch.equal(getattr(a, name), getattr(b, name)) for name, value in vars(a).items() if torch.is_tensor(value)
    )


def test_workers_hand_out_the_batch_of_each_step_in_order_as_the_loop_builds_it(maker, docs):
    with BatchStream(maker, docs, seed=3, start=7, workers=2) as stream:
        handed = [next(stream) for _ in range(6)]
    assert [step for step, _ in handed] == list(range(7, 13))
    for step, batch in handed:
        assert same(batch, maker.batch(docs, np.random.default_rng([3, step])))
    assert not same(handed[0][1], handed[1][1])  # each step its own batch
    in_process = BatchStream(maker, docs, seed=3, start=7, workers=0)
    assert all(same(next(in_process)[1], batch) for _, batch in handed)


def test_the_stream_counts_the_time_its_reader_waited(maker, docs):
    with BatchStream(maker, docs, seed=0, start=0, workers=0) as stream:
        for _ in range(3):
            next(stream)
        assert stream.wait_seconds > 0  # built in this process: all of it was waiting


def test_the_workers_rate_is_measured_in_examples_and_tokens(maker, docs):
    examples, tokens = examples_per_second(maker, docs, workers=1, seconds=1.0)
    assert examples > 0
    # smoke examples: bos and a canvas of at least 16 slots; a prefix of at most 64 tokens, a few holes, a suffix
    assert examples * 17 <= tokens <= examples * 400


def test_data_speed_command_prints_a_row_per_worker_count(corpus, capsys):
    from dglsp.cli import main

    assert main(["train", "--data-speed", "--corpus", str(corpus), "--workers", "2", "--minutes", "0.02"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line[:8].strip().isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2]
    assert all(float(r[1]) > 0 and float(r[2]) > float(r[1]) for r in rows)
