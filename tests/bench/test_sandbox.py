import pytest

from dglsp.bench.sandbox import run_program


def test_a_program_that_returns_passes_and_one_that_raises_fails():
    assert run_program("x = 1\nassert x == 1\n").passed
    failed = run_program("assert 1 == 2, 'wrong'\n")
    assert failed.status == "failed" and "AssertionError: wrong" in failed.detail


def test_a_loop_that_never_ends_is_a_timeout():
    assert run_program("while True:\n    pass\n", timeout=1).status == "timeout"


@pytest.mark.parametrize(
    "source", ["import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n", "raise SystemExit\n", "quit()\n"]
)
def test_leaving_the_interpreter_early_is_a_fail(source):
    assert run_program(source).status == "failed"


def test_writes_deletes_and_renames_outside_its_temp_dir_are_refused(tmp_path):
    keep = tmp_path / "keep.txt"
    keep.write_text("precious")
    attacks = [
        f"open({str(tmp_path / 'new.txt')!r}, 'w').write('x')",
        f"open({str(keep)!r}, 'a').write('x')",
        f"import os\nos.remove({str(keep)!r})",
        f"import os\nos.rename({str(keep)!r}, 'stolen.txt')",
        f"import shutil\nshutil.rmtree({str(tmp_path)!r})",
        f"import pathlib\npathlib.Path({str(keep)!r}).write_text('x')",
        f"import os\nfd = os.open({str(keep)!r}, os.O_WRONLY | os.O_TRUNC)",
    ]
    for source in attacks:
        outcome = run_program(source)
        assert outcome.status == "failed" and "sandbox" in outcome.detail, source
    assert keep.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_its_own_temp_dir_is_writable():
    assert run_program("open('scratch.txt', 'w').write('ok')\nassert open('scratch.txt').read() == 'ok'\n").passed


@pytest.mark.parametrize(
    "source",
    [
        "import socket\nsocket.create_connection(('127.0.0.1', 9))",
        "import urllib.request\nurllib.request.urlopen('http://example.com')",
        "import subprocess\nsubprocess.run(['true'])",
        "import os\nos.system('true')",
        "import ctypes\n",
        "import os\nos.kill(os.getppid(), 9)",
    ],
)
def test_network_processes_signals_and_ctypes_are_refused(source):
    outcome = run_program(source)
    assert outcome.status == "failed" and "sandbox" in outcome.detail


def test_memory_is_bounded():
    assert run_program("x = bytearray(8 << 30)\n", memory_mb=512).status == "failed"
