from dglsp.cli import main


def test_doctor_reports_a_working_model(dg_dir, capsys):
    assert main(["doctor", "--model", str(dg_dir)]) == 0
    out = capsys.readouterr().out
    for word in ("torch", "transformers", "devices", "diffusion_gemma", "test fill", "ok"):
        assert word in out
    # A random model's directory has no calibration: the default threshold, which its fill does not reach.
    assert "threshold 0.900: not shown while typing" in out


def test_doctor_fails_with_the_reason(tmp_path, capsys):
    assert main(["doctor", "--model", str(tmp_path)]) == 1
    assert "no config.json" in capsys.readouterr().err


def test_init_model_writes_a_model_that_loads(tmp_path, capsys):
    assert main(["init-model", "--out", str(tmp_path / "m"), "--family", "masked"]) == 0
    assert main(["doctor", "--model", str(tmp_path / "m")]) == 0
    assert "masked" in capsys.readouterr().out


def test_doctor_on_a_directory_shaped_as_googles_release(google_dir, capsys):
    # Sharded bf16 safetensors with their index, a vision tower, a chat template and no FIM tokens or dglsp.json.
    assert main(["doctor", "--model", str(google_dir)]) == 0
    out = capsys.readouterr().out
    assert "diffusion_gemma (chat layout)" in out and "test fill" in out
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("weights ")}
    assert "vision" in rows and "experts" in rows
