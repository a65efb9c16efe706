import io
import json
import resource
import shutil
import subprocess
import sys

import pytest
from big_files import big_python_file

from dglsp.cli import main

TASKS = [
    {"prefix": "def add(a, b):\n    return ", "suffix": "\n", "max_tokens": 8},
    "this is not json",
    {"suffix": "no prefix"},
    {"prefix": "x = ", "max_tokens": 0},
    {"prefix": "", "suffix": ""},
    {"prefix": "# café ✓ 日本語\nname = '", "suffix": "'\n", "language": "python", "max_tokens": 6},
    [1, 2],
]


def jsonl(tasks):
    return "".join((t if isinstance(t, str) else json.dumps(t, ensure_ascii=False)) + "\n" for t in tasks)


def run_cli(args, stdin_text="", monkeypatch=None, capsys=None):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin_text.encode("utf-8")), encoding="utf-8"))
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_jsonl_round_trip_keeps_order_and_reports_bad_lines(dg_dir, monkeypatch, capsys):
    code, out, _ = run_cli(
        ["fill", "--model", str(dg_dir), "--steps", "3", "--max-tokens", "16", "--min-confidence", "0"],
        jsonl(TASKS),
        monkeypatch,
        capsys,
    )
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == len(TASKS)
    good = [records[i] for i in (0, 4, 5)]
    for record in good:
        assert set(record) == {"completion", "steps", "tokens_per_step", "ms", "stop", "confidence"}
        assert 1 <= record["steps"] <= 3 and record["stop"] in ("converged", "max_steps")
        assert set(record["confidence"]) == {"score", "worst", "settled"}
        assert 0 <= record["confidence"]["worst"] <= record["confidence"]["score"] <= 1
    assert "not JSON" in records[1]["error"]
    assert "prefix" in records[2]["error"]
    assert "max_tokens" in records[3]["error"]
    assert "JSON object" in records[6]["error"]


def test_same_seed_gives_the_same_output(dg_dir, monkeypatch, capsys):
    args = ["fill", "--model", str(dg_dir), "--steps", "3", "--seed", "9", "--min-confidence", "0"]
    first = run_cli(args, jsonl(TASKS[:1]), monkeypatch, capsys)[1]
    second = run_cli(args, jsonl(TASKS[:1]), monkeypatch, capsys)[1]
    assert json.loads(first)["completion"] == json.loads(second)["completion"]


def test_fill_at_a_cursor_prints_one_line(dg_dir, tmp_path, monkeypatch, capsys):
    source = tmp_path / "app.py"
    source.write_text("def add(a, b):\n    return \n\nprint(add(1, 2))\n", encoding="utf-8")
    code, out, _ = run_cli(
        ["fill", f"{source}:2:12", "--model", str(dg_dir), "--steps", "2", "--json", "--min-confidence", "0"],
        "",
        monkeypatch,
        capsys,
    )
    assert code == 0
    record = json.loads(out)
    assert record["completion"] and "\n" not in record["completion"].strip("\n")


def test_a_fill_the_model_is_not_confident_of_is_not_printed_unless_asked(dg_dir, tmp_path, monkeypatch, capsys):
    source = tmp_path / "app.py"
    source.write_text("def add(a, b):\n    return \n", encoding="utf-8")
    # A random model's directory has no calibration: the conservative default threshold holds.
    base = ["fill", f"{source}:2:12", "--model", str(dg_dir), "--steps", "8"]
    code, out, err = run_cli(base, "", monkeypatch, capsys)
    assert code == 0 and out == "" and "the model is not confident here" in err and "--min-confidence 0" in err
    code, out, _ = run_cli([*base, "--json"], "", monkeypatch, capsys)
    record = json.loads(out)
    assert (record["completion"], record["stop"]) == ("", "low_confidence")
    assert record["confidence"]["score"] < 0.9 and record["steps"] == 4  # given up at half its steps
    code, out, _ = run_cli([*base, "--json", "--min-confidence", "0"], "", monkeypatch, capsys)
    record = json.loads(out)
    assert record["completion"] and record["stop"] in ("converged", "max_steps") and record["steps"] > 4
    lines = jsonl(TASKS[:1])
    (gated,) = [json.loads(x) for x in run_cli(base[:1] + base[2:], lines, monkeypatch, capsys)[1].splitlines()]
    assert (gated["completion"], gated["stop"]) == ("", "low_confidence")
    code, _, err = run_cli([*base, "--min-confidence", "2"], "", monkeypatch, capsys)
    assert code == 2 and "between 0 and 1" in err


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("app.py:9:1", "line 9 is out of range"),
        ("app.py:1:99", "column 99 is out of range"),
        ("app.py:x:1", "FILE:LINE:COL"),
        ("missing.py:1:1", "cannot read"),
        ("blob.bin:1:1", "binary"),
    ],
)
def test_bad_cursors_are_clear_errors(dg_dir, tmp_path, monkeypatch, capsys, cursor, message):
    (tmp_path / "app.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["fill", cursor, "--model", str(dg_dir)], "", monkeypatch, capsys)
    assert code == 2 and out == "" and message in err


def test_missing_model_exits_nonzero_with_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DGLSP_MODEL", raising=False)
    code, out, err = run_cli(["fill", "--model", str(tmp_path / "none")], jsonl(TASKS[:1]), monkeypatch, capsys)
    assert code == 2 and out == "" and "model directory not found" in err


def test_corrupt_model_through_the_real_command(dg_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(dg_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    proc = subprocess.run(
        [sys.executable, "-m", "dglsp", "fill", "--model", str(broken)],
        input=jsonl(TASKS[:1]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "model.safetensors is damaged or incomplete" in proc.stderr and "Traceback" not in proc.stderr


def test_real_command_round_trip(dg_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "dglsp", "fill", "--model", str(dg_dir), "--steps", "2"],
        input=jsonl(TASKS[:2]),
        capture_output=True,
        text=True,
        timeout=300,
        encoding="utf-8",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and "completion" in json.loads(lines[0]) and "error" in json.loads(lines[1])
    # What a user sees on stderr: dglsp's own progress, no library deprecations, no bar for a model this small.
    assert "Warning" not in proc.stderr and "Loading weights" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("flag", "expected"), [("0.5", (0.5, 0.5)), ("0.9:0.3", (0.9, 0.3)), ("a:b", None), ("1:2:3", None)]
)
def test_temperature_flag_is_a_constant_or_a_schedule(flag, expected):
    from dglsp.cli import build_parser
    from dglsp.cli.options import CliError, sampler_config
    from dglsp.engine.types import SamplerConfig

    args = build_parser().parse_args(["fill", "--temperature", flag])
    if expected is None:
        with pytest.raises(CliError, match="TMAX:TMIN"):
            sampler_config(args, SamplerConfig())
    else:
        config = sampler_config(args, SamplerConfig())
        assert (config.t_max, config.t_min) == expected


def limited(gib: int):
    """For a child process: at most `gib` GiB of address space, so a runaway allocation fails instead of the
    kernel's OOM killer taking the machine's memory first."""
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (gib << 30, gib << 30))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limits are Linux's")
def test_a_model_with_131072_positions_fills_a_66000_line_file_within_its_context_budget(long_positions_dir, tmp_path):
    big = big_python_file(tmp_path / "big.py")
    fill = [sys.executable, "-m", "dglsp", "fill", f"{big}:50000:12", "--model", str(long_positions_dir)]
    fill += ["--steps", "2", "--max-tokens", "8", "--json"]
    # Sized from the model's positions, this grew to 24 GB and was killed; the budget keeps it to 2048 tokens.
    done = subprocess.run(fill, capture_output=True, text=True, timeout=300, preexec_fn=limited(8))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["steps"] >= 1
    # Asked for the model's whole context, the encoder pass cannot fit: one line, a non-zero exit.
    done = subprocess.run(
        [*fill, "--context-tokens", "131072"], capture_output=True, text=True, timeout=300, preexec_fn=limited(8)
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (said,) = [line for line in done.stderr.splitlines() if line.startswith("dglsp fill:")]
    assert "out of memory on cpu" in said and "--context-tokens" in said
    assert "prefix tokens needs about" in said  # refused before the encoder tried: no allocation failed


def test_show_prompt_prints_what_the_model_sees_and_still_fills(dg_dir, tmp_path, monkeypatch, capsys):
    source = tmp_path / "add.py"
    source.write_text("def add(a, b):\n    return \n\n\nprint(add(1, 2))\n")
    args = ["fill", f"{source}:2:12", "--model", str(dg_dir), "--steps", "2", "--max-tokens", "8", "--show-prompt"]
    args += ["--min-confidence", "0"]
    code, out, err = run_cli(args, "", monkeypatch, capsys)
    encoder, canvas = err.split("--- encoder: ")[1].split("--- decoder canvas: ")
    assert code == 0 and out.endswith("\n")  # the fill, on stdout as without the flag
    assert encoder.startswith("14 tokens") and encoder.endswith("def add(a, b):\n    return \n")
    assert "[16 slots]" in canvas and "print(add(1, 2))" in canvas  # 8 tokens + end-of-fill: a 16-slot bucket
    code, _, err = run_cli([*args, "--backend", "http://127.0.0.1:9"], "", monkeypatch, capsys)
    assert code == 2 and "needs a local model" in err


def test_a_directory_shaped_as_googles_release_fills_through_its_chat_template(
    google_dir, tmp_path, monkeypatch, capsys
):
    source = tmp_path / "add.py"
    source.write_text("def add(a, b):\n    return \n\n\nprint(add(1, 2))\n")
    args = ["fill", f"{source}:2:12", "--model", str(google_dir), "--steps", "2", "--max-tokens", "8", "--show-prompt"]
    args += ["--min-confidence", "0"]
    code, out, err = run_cli(args, "", monkeypatch, capsys)
    encoder, canvas = err.split("--- encoder: ")[1].split("--- decoder canvas: ")
    assert code == 0 and out.endswith("\n")
    assert "<|turn>user\n```python\ndef add(a, b):\n    return <FILL>\n\n\nprint(add(1, 2))\n\n```" in encoder
    assert canvas.splitlines()[1] == "[16 slots]"  # chat: the answer alone
    code, _, err = run_cli([*args, "--layout", "chat-pinned"], "", monkeypatch, capsys)
    assert code == 0 and "[16 slots]\n\n\nprint(add(1, 2))\n" in err.split("--- decoder canvas: ")[1]


def test_a_chat_layout_on_a_model_without_a_chat_template_is_one_clear_line(dg_dir, tmp_path, monkeypatch, capsys):
    source = tmp_path / "add.py"
    source.write_text("x = \n")
    code, out, err = run_cli(
        ["fill", f"{source}:1:5", "--model", str(dg_dir), "--layout", "chat"], "", monkeypatch, capsys
    )
    assert code == 2 and out == ""
    assert err.strip().endswith(
        "layout 'chat' needs a chat template, and the tokenizer in " + str(dg_dir) + " has none"
    )
