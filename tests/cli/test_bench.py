"""`dglsp bench` end to end on a tiny random model: the report files hold what the table says."""

import json

import pytest
import torch

from dglsp.cli import main


def run_bench(capsys, *argv):
    code = main(["bench", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def table_rows(text):
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("config"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def test_humaneval_single_runs_end_to_end_and_the_files_agree_with_the_table(dg_dir, tmp_path, capsys):
    out = tmp_path / "report"
    code, text, _ = run_bench(
        capsys,
        "--suite", "humaneval-single", "--model", str(dg_dir), "--limit", "3", "--max-tokens", "15",
        "--configs", "oracle", "empty", "default", "sequential", "entropy_bound=5,steps=4",
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert code == 0
    rows = table_rows(text)
    assert list(rows) == ["oracle", "empty", "default", "sequential", "entropy_bound=5,steps=4"]
    data = json.loads((out / "results.json").read_text())
    assert (out / "report.txt").read_text().strip() in text
    assert (out / "pass_vs_speed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert data["settings"]["tasks"] == 3 and data["settings"]["max_tokens"] == 15
    assert data["settings"]["configs"]["sequential"]["tokens_per_step"] == 1
    assert len(data["tasks"]) == 3 * 5
    for summary in data["summaries"]:
        mine = [t for t in data["tasks"] if t["config"] == summary["config"]]
        assert summary["pass_at_1"] == sum(t["passed"] for t in mine) / 3
        cells = rows[summary["config"]]
        assert cells[1] == "3" and cells[2] == f"{summary['pass_at_1']:.1%}"
        assert cells[10] == f"{summary['tokens_per_s']:.1f}"
    by_config = {s["config"]: s for s in data["summaries"]}
    assert by_config["oracle"]["pass_at_1"] == 1.0 and by_config["oracle"]["exact"] == 1.0
    # Sequential commits one token per step: every slot of a 16-token canvas takes a step of its own.
    assert by_config["sequential"]["mean_steps"] == 16 and by_config["sequential"]["tokens_per_step"] <= 1
    assert by_config["entropy_bound=5,steps=4"]["mean_steps"] <= 4
    assert rows["sequential"][11] == "1.00x"
    for task in data["tasks"]:
        assert task["status"] in ("passed", "failed", "timeout")
        assert task["fill"].count("\n") == 1  # single-line tasks keep one line
        # The model's fills carry their confidence score; the model-free ones have none.
        assert (task["confidence"] is None) == (task["config"] in ("oracle", "empty"))
    # The confidence gate: a calibration per model configuration, in the report, the JSON and a PNG.
    calibrations = data["settings"]["calibration"]
    assert set(calibrations) == {"default", "sequential", "entropy_bound=5,steps=4"}
    for name, c in calibrations.items():
        scores = sorted((t["confidence"] for t in data["tasks"] if t["config"] == name), reverse=True)
        assert [p["threshold"] for p in c["curve"]] == sorted(set(scores), reverse=True)
        assert [p["shown"] for p in c["curve"]] == [sum(s >= p["threshold"] for s in scores) for p in c["curve"]]
        # A random model passes nothing: no threshold meets the target, and it shows nothing.
        assert (c["threshold"], c["met"], c["shown"]) == (1.0, False, 0)
    assert "confidence gate" in text and "target not met: nothing shown" in text
    assert (out / "coverage_precision.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_calibrate_writes_the_threshold_the_model_then_loads_with(dg_dir, tmp_path, capsys):
    import shutil

    from dglsp.models.base import ModelError
    from dglsp.models.loader import load_model

    model = tmp_path / "model"
    shutil.copytree(dg_dir, model)
    code, text, _ = run_bench(
        capsys, "--suite", "humaneval-single", "--model", str(model), "--limit", "2", "--max-tokens", "7",
        "--configs", "default", "--calibrate", "--precision", "0.3", "--out", str(tmp_path / "b"), "--quiet",
    )  # fmt: skip
    assert code == 0 and f"written to {model / 'dglsp.json'}" in text
    notes = json.loads((model / "dglsp.json").read_text())
    assert notes["confidence"]["suite"] == "humaneval-single" and notes["confidence"]["target_precision"] == 0.3
    assert notes["confidence"]["tasks"] == 2 and notes["layout"] == "infill"  # the other notes kept
    assert load_model(model).min_confidence == notes["confidence"]["threshold"] == 1.0
    notes["confidence"]["threshold"] = "high"
    (model / "dglsp.json").write_text(json.dumps(notes))
    with pytest.raises(ModelError, match=r"confidence\.threshold must be a number from 0 to 1"):
        load_model(model)


def test_oracle_alone_needs_no_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DGLSP_MODEL", str(tmp_path / "nowhere"))
    code, text, _ = run_bench(
        capsys, "--suite", "humaneval-span", "--limit", "4", "--configs", "oracle", "--out", str(tmp_path), "--quiet"
    )
    assert code == 0 and "no model" in text and table_rows(text)["oracle"][2] == "100.0%"


def test_a_time_boxed_run_stops_starting_tasks_and_counts_what_ran(dg_dir, tmp_path, capsys):
    code, text, _ = run_bench(
        capsys, "--suite", "humaneval-single", "--model", str(dg_dir), "--limit", "20",
        "--configs", "steps=2", "empty", "--stop-after", "0.001", "--out", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert code == 0 and "1 of 20 tasks (stopped after 0.001 s)" in text
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["settings"]["tasks"] == 20 and data["settings"]["tasks_run"] == 1
    assert [s["tasks"] for s in data["summaries"]] == [1, 1] and len(data["tasks"]) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--configs", "entropy_bound=high"], "bad value for entropy_bound"),
        (["--configs", "temperature=1"], "bad sampler config"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--stop-after", "0"], "--stop-after must be above 0"),
        (["--configs", "oracle", "--ar-baseline", "/nonexistent"], "no config.json"),
        (["--precision", "0"], "--precision must be above 0"),
        (["--configs", "sequential", "--calibrate"], "--calibrate writes the `default` config's threshold"),
    ],
)
def test_bad_options_are_clear_errors(dg_dir, tmp_path, capsys, argv, message):
    code, _, err = run_bench(
        capsys, "--suite", "humaneval-single", "--model", str(dg_dir), "--out", str(tmp_path), "--quiet", *argv
    )
    assert code == 2 and message in err and "Traceback" not in err


@pytest.fixture(scope="module")
def ar_dir(tmp_path_factory, tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("ar") / "tiny-fim"
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.parametrize("suite", ["humaneval-single", "humaneval-multi"])
def test_an_autoregressive_fim_baseline_joins_the_report(ar_dir, tmp_path, capsys, suite):
    code, text, _ = run_bench(
        capsys,
        "--suite", suite, "--limit", "2", "--configs", "oracle", "--ar-baseline", str(ar_dir),
        "--max-tokens", "12", "--out", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert code == 0 and "ar:tiny-fim" in table_rows(text)
    data = json.loads((tmp_path / "results.json").read_text())
    ar = [t for t in data["tasks"] if t["config"] == "ar:tiny-fim"]
    assert len(ar) == 2
    for task in ar:
        # One forward pass per generated token; an ended fill's last token is the end token, not text.
        assert 1 <= task["steps"] <= 12 and task["tokens"] in (task["steps"], task["steps"] - 1)
    assert data["settings"]["ar_baseline"]["parameters"] > 0


def test_an_ar_model_without_fim_tokens_is_refused(ar_dir, tmp_path, capsys):
    from transformers import AutoTokenizer

    plain = tmp_path / "plain"
    plain.mkdir()
    for f in ar_dir.iterdir():
        if f.suffix in (".json", ".safetensors") and "token" not in f.name:
            (plain / f.name).write_bytes(f.read_bytes())
    tok = AutoTokenizer.from_pretrained(ar_dir)
    vocab = {k: v for k, v in tok.get_vocab().items() if "fim" not in k}
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel(vocab, unk_token="<pad>")).save(str(plain / "tokenizer.json"))
    code, _, err = run_bench(
        capsys, "--suite", "humaneval-single", "--configs", "oracle", "--ar-baseline", str(plain), "--quiet",
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 2 and "no known FIM tokens" in err


def test_engine_speed_prints_its_table_and_writes_json(dg_dir, tmp_path, capsys):
    code, text, _ = run_bench(
        capsys, "--suite", "engine-speed", "--model", str(dg_dir), "--prefix-tokens", "64", "--suffix-tokens", "8",
        "--canvas", "16", "--steps", "2", "--repeats", "1", "--out", str(tmp_path),
    )  # fmt: skip
    data = json.loads((tmp_path / "engine-speed.json").read_text())
    assert code == 0 and "decoder step, canvas 16 + suffix" in text
    assert data["rows"]["decoder step, canvas 16 + suffix"] > 0


def test_lsp_mode_fills_through_the_real_server_and_times_each_request(dg_dir, tmp_path, capsys):
    out = tmp_path / "lsp"
    code, text, _ = run_bench(
        capsys,
        "--suite", "humaneval-single", "--model", str(dg_dir), "--limit", "3", "--lsp", "--configs", "oracle",
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert code == 0
    rows = table_rows(text)
    assert list(rows) == ["oracle", "lsp"]
    assert "dglsp --stdio end to end" in text
    data = json.loads((out / "results.json").read_text())
    lsp = [r for r in data["tasks"] if r["config"] == "lsp"]
    assert len(lsp) == 3 and all(r["ms"] > 0 for r in lsp)
    assert all(r["stop"] in ("served", "empty") for r in lsp)
    # Each fill is what the server answered on the task's line: one line, indented like the reference line.
    assert all(r["fill"].endswith("\n") and r["fill"].count("\n") == 1 for r in lsp)


def test_engine_speed_runs_on_the_threads_asked_for(dg_dir, capsys):
    before = torch.get_num_threads()
    try:
        code, text, _ = run_bench(
            capsys, "--suite", "engine-speed", "--model", str(dg_dir), "--prefix-tokens", "32", "--suffix-tokens",
            "4", "--canvas", "16", "--steps", "1", "--repeats", "1", "--threads", "1",
        )  # fmt: skip
        assert code == 0 and "on cpu, 1 threads;" in text
    finally:
        torch.set_num_threads(before)
    code, _, err = run_bench(capsys, "--suite", "engine-speed", "--model", str(dg_dir), "--threads", "-1")
    assert code == 2 and "--threads must be at least 0" in err


def test_the_engine_speed_suite_profiles_its_first_canvas(dg_dir, tmp_path, capsys):
    code, text, _ = run_bench(
        capsys, "--suite", "engine-speed", "--model", str(dg_dir), "--prefix-tokens", "64", "--suffix-tokens", "8",
        "--canvas", "16", "--steps", "2", "--repeats", "2", "--profile", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0 and "where a step's time goes" in text and "matrix products" in text
    profile = json.loads((tmp_path / "engine-speed.json").read_text())["profile"]
    assert profile["step_ms"] > 0 and profile["kinds"]["matrix products"][0] > 0


def test_engine_speed_compares_backends_side_by_side_with_their_logits(dg_dir, tmp_path, capsys):
    code, text, _ = run_bench(
        capsys, "--suite", "engine-speed", "--model", str(dg_dir), "--prefix-tokens", "40", "--suffix-tokens", "8",
        "--canvas", "16", "--steps", "2", "--repeats", "2", "--backends", "dynamic,lean,lean:bfloat16,static",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0 and "dynamic / lean:bfloat16" in text
    data = json.loads((tmp_path / "engine-backends.json").read_text())
    assert data["backends"] == ["dynamic", "lean", "lean:bfloat16", "static"]
    assert set(data["ms"]) == {
        "encoder prefill (cold)",
        "decoder step, canvas 16 + suffix",
        "fill, canvas 16, 2 steps, cache warm",
    }
    assert all(ms > 0 for by in data["ms"].values() for ms in by.values())
    diff = data["logits_diff"]
    assert diff["dynamic"] == 0 and diff["lean"] < 1e-4 and diff["static"] < 1e-4  # the same arithmetic in float32
    assert 1e-4 < diff["lean:bfloat16"] < 1.0  # another rounding, the same model


def test_the_typing_suite_asks_at_each_keystroke_and_reports_percentiles(dg_dir, tmp_path, capsys):
    source = tmp_path / "shapes.py"
    source.write_text("import math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\nprint(area(2))\n")
    code, text, _ = run_bench(
        capsys, "--suite", "typing", "--model", str(dg_dir), "--file", str(source), "--first-line", "5",
        "--lines", "1", "--out", str(tmp_path / "t"),
    )  # fmt: skip
    assert code == 0 and "latency p95 ms" in text
    data = json.loads((tmp_path / "t" / "typing.json").read_text())
    typed = "    return math.pi * r * r\n"
    assert data["summary"]["keystrokes"] == len(data["keys"]) == len(typed)
    assert {k["kind"] for k in data["keys"]} <= {"line", "block"}  # typed at a line's end: each key asks
    asked = [k for k in data["keys"] if k["kind"] != "none"]
    assert data["summary"]["requests"] == len(asked)
    assert all(k["steps"] >= 1 and k["ms"] > 0 for k in asked)
    assert all("\n" not in k["fill"] for k in asked if k["kind"] == "line")  # a line gap's fill is one line
    assert data["summary"]["p50_ms"] <= data["summary"]["p95_ms"]
    # Automatic requests, as the server makes them: a random model never reaches the threshold, so each is given
    # up at half its steps and none is shown; asked not to give up, each runs on.
    assert data["floor"] == 0.9 and data["summary"]["shown"] == 0
    assert data["summary"]["given_up"] == len(asked) and all(k["score"] < 0.9 for k in asked)
    code, _, _ = run_bench(
        capsys, "--suite", "typing", "--model", str(dg_dir), "--file", str(source), "--first-line", "5",
        "--lines", "1", "--sampler", "give_up=0", "--out", str(tmp_path / "u"), "--quiet",
    )  # fmt: skip
    whole = json.loads((tmp_path / "u" / "typing.json").read_text())
    assert code == 0 and whole["summary"]["given_up"] == 0
    assert whole["summary"]["mean_steps"] > data["summary"]["mean_steps"]
