"""The 26B-A4B shape bench: the shape itself (counted on the meta device) and a whole run at a tiny shape."""

import json

import pytest
import torch

from dglsp.bench.gpu_shape import build, measure, parameter_counts, roofline_ms, step_bytes, touched_fraction
from dglsp.cli import main


def test_the_shape_is_26b_with_3_8b_active():
    total, active = parameter_counts("26b-a4b")
    assert 25.0e9 < total < 25.5e9  # the text model; the vision tower makes up the rest of "26B"
    assert 3.7e9 < active < 3.9e9


def test_a_diffusion_step_reads_nearly_every_expert_and_a_token_reads_eight():
    assert touched_fraction(1, 128, 8) == pytest.approx(8 / 128)
    assert touched_fraction(256, 128, 8) > 0.99
    total, active = parameter_counts("26b-a4b")
    assert step_bytes("26b-a4b", 1, 2.0) == pytest.approx(active * 2.0)
    assert step_bytes("26b-a4b", 256, 2.0) == pytest.approx(total * 2.0, rel=0.01)
    assert roofline_ms("26b-a4b", 256, torch.device("cpu")) is None  # no peak figures for a CPU


def test_meta_build_materialises_finite_weights_on_the_device():
    model = build("diffusion", "tiny", "cpu", torch.float32)
    assert not any(p.is_meta for p in model.parameters()) and not any(b.is_meta for b in model.buffers())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    out = model(input_ids=torch.tensor([[2, 5, 6]]), decoder_input_ids=torch.tensor([[7, 8, 9, 10]]))
    assert out.logits.shape == (1, 4, 1024) and torch.isfinite(out.logits).all()


def test_a_run_at_the_tiny_shape_reports_every_measure():
    report = measure(
        shape="tiny",
        device="cpu",
        dtype=torch.float32,
        prefills=(64, 256),
        canvases=(32, 16),
        decoders=("dynamic", "static"),
        ar_tokens=4,
        repeats=1,
        progress=False,
    )
    names = [r.measure for r in report.rows]
    for mode in ("dynamic", "static"):
        assert f"decoder step, {mode}, canvas 32" in names
        assert f"decoder step, {mode}, canvas 16 + 64 pinned suffix" in names
    assert {"prefill 64 tokens", "prefill 256 tokens", "autoregressive decode, batch 1, KV cache"} <= set(names)
    assert all(r.value > 0 for r in report.rows)
    packed = report.value("memory, weights with 4-bit experts (Linear layers as they were)")
    assert packed < report.value("memory, weights (float32)")
    assert report.value("decoder step, dynamic, 4-bit experts, canvas 32") > 0
    ratio = report.value("diffusion fill / autoregressive decode")
    fill = next(r.value for r in report.rows if r.measure.startswith("fill of 32 tokens"))
    assert ratio == pytest.approx(fill / report.value("autoregressive decode, batch 1, KV cache"))
    assert "| measure" in report.table() and "weights random" in report.table()


def test_cli_writes_the_report(tmp_path, capsys):
    code = main(
        [
            "bench",
            "--gpu-shape",
            "tiny",
            "--device",
            "cpu",
            "--prefills",
            "32",
            "--canvases",
            "16",
            "--decoders",
            "dynamic",
            "--ar-tokens",
            "2",
            "--repeats",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    payload = json.loads((tmp_path / "gpu-shape.json").read_text())
    assert payload["header"]["shape"] == "tiny" and payload["rows"]
    assert "decoder step, dynamic, canvas 16" in capsys.readouterr().out


def test_cli_refuses_a_bad_list():
    assert main(["bench", "--gpu-shape", "tiny", "--device", "cpu", "--prefills", "0,x"]) == 2
