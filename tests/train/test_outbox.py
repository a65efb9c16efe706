"""The output folder of a GPU round must come back whole: 8 files, 16 MiB each, 64 MiB, two folders down."""

import os

import pytest

from dglsp.train import outbox


def write(path, size: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def test_a_round_shaped_folder_comes_back(tmp_path):
    for name in ("model.tar", "MODEL_CARD.md", "log.jsonl", "loss.png", "bench.txt", "bench.json", "round.json"):
        write(tmp_path / name, 1000)
    write(tmp_path / "a" / "b" / "deep.txt")
    assert outbox.problems(tmp_path) == []


def test_a_planted_17_mib_file_is_refused(tmp_path):
    write(tmp_path / "model.tar", 17 << 20)
    assert outbox.problems(tmp_path) == ["model.tar: 17.0 MiB, over 16 MiB"]


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: [write(d / f"f{i}") for i in range(9)], "9 files, over 8"),
        (lambda d: [write(d / f"f{i}", 15 << 20) for i in range(5)], "75.0 MiB in all, over 64 MiB"),
        (lambda d: write(d / "a" / "b" / "c" / "f"), "a/b/c/f: more than 2 folders down"),
        (lambda d: write(d / "two words"), "two words: a name other than"),
        (lambda d: os.symlink("/etc/hostname", d / "link"), "link: not a plain file or folder"),
    ],
)
def test_each_limit_is_named(tmp_path, make, expected):
    make(tmp_path)
    assert any(p.startswith(expected) for p in outbox.problems(tmp_path)), outbox.problems(tmp_path)


def test_a_model_packs_into_tars_that_fit_and_unpack_to_the_same_files(tmp_path, monkeypatch):
    model = tmp_path / "model"
    files = {"model-00001.safetensors": 3000, "model-00002.safetensors": 2500, "config.json": 50, "tok.json": 1500}
    for name, size in files.items():
        (model / name).parent.mkdir(exist_ok=True)
        (model / name).write_bytes(os.urandom(size))
    out = tmp_path / "out"
    out.mkdir()
    assert [p.name for p in outbox.pack_model(model, out)] == ["model.tar"]  # fits one tar at 16 MiB
    monkeypatch.setattr(outbox, "MAX_FILE_BYTES", 16384)  # the same at a scale the test can afford
    tars = outbox.pack_model(model, out)
    assert [p.name for p in tars] == ["model-1.tar", "model-2.tar"]
    assert sorted(p.name for p in out.iterdir()) == ["model-1.tar", "model-2.tar"]  # the old model.tar is gone
    assert all(p.stat().st_size <= 16384 for p in tars)
    back = outbox.unpack_model(tars, tmp_path / "back")
    assert {p.name: p.read_bytes() for p in back.iterdir()} == {p.name: p.read_bytes() for p in model.iterdir()}


def test_a_file_too_big_for_any_tar_says_to_shard(tmp_path, monkeypatch):
    monkeypatch.setattr(outbox, "MAX_FILE_BYTES", 16384)
    write(tmp_path / "model" / "model.safetensors", 7000)
    with pytest.raises(ValueError, match="smaller shards"):
        outbox.pack_model(tmp_path / "model", tmp_path)
