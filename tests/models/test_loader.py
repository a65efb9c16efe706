import os
import shutil

import pytest
import torch

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig
from dglsp.models.base import ModelError
from dglsp.models.loader import LoadOptions, check_model_dir, load_model, pick_device, resolve_model_path


def copy_model(src, tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    return dst


def test_both_families_load_from_a_local_directory_and_fill(dg_model, masked_model):
    assert dg_model.family == "diffusion_gemma" and dg_model.denoiser.noise == "uniform"
    assert dg_model.info["layout"] == "infill"
    assert masked_model.family == "masked" and masked_model.denoiser.noise == "absorbing"
    for model in (dg_model, masked_model):
        assert model.info["device"] == "cpu" and model.info["dtype"] == "float32"
        result = Engine(model).fill(FillRequest(prefix="x = ", max_tokens=4), SamplerConfig(max_steps=2))
        assert result.steps >= 1


def test_hub_switches_are_off():
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nope")
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_model(tmp_path)


def test_corrupt_safetensors_is_a_clear_error(dg_dir, tmp_path):
    broken = copy_model(dg_dir, tmp_path)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a save cut short
    with pytest.raises(ModelError, match=r"model\.safetensors is damaged or incomplete"):
        check_model_dir(broken)
    with pytest.raises(ModelError, match="damaged or incomplete"):
        load_model(broken)
    weights.write_bytes(b"\x08" + bytes(7) + b"not json")
    with pytest.raises(ModelError, match="damaged or incomplete"):
        load_model(broken)


@pytest.mark.parametrize("family_dir", ["dg_dir", "masked_dir"])
def test_loaded_weights_do_not_follow_the_file(family_dir, request, tmp_path):
    """A checkpoint saved over the directory of a running model: the model must not change, or die of SIGBUS."""
    local = copy_model(request.getfixturevalue(family_dir), tmp_path)
    model = load_model(local)
    before = {k: v.clone() for k, v in model.denoiser.model.state_dict().items()}
    weights = local / "model.safetensors"
    data = weights.read_bytes()
    header = 8 + int.from_bytes(data[:8], "little")
    with open(weights, "r+b") as f:  # in place, the same inode: a memory map would see every byte of it
        f.seek(header)
        f.write(bytes(len(data) - header))
    after = model.denoiser.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    weights.write_bytes(b"")  # cut to nothing: only safe because no weight points into the file any more
    result = Engine(model).fill(FillRequest(prefix="x = ", max_tokens=4), SamplerConfig(max_steps=2))
    assert result.steps >= 1


def test_pickle_weights_are_refused_unless_allowed(dg_dir, tmp_path):
    pickled = copy_model(dg_dir, tmp_path)
    (pickled / "model.safetensors").unlink()
    torch.save({}, pickled / "pytorch_model.bin")
    with pytest.raises(ModelError, match="pickle"):
        load_model(pickled)


def test_quantize_and_cuda_need_a_gpu(dg_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelError, match="CUDA"):
        load_model(dg_dir, LoadOptions(quantize="4bit"))
    with pytest.raises(ModelError, match=r"--quantize fp8 needs a CUDA GPU \(transformers' FineGrainedFP8\)"):
        load_model(dg_dir, LoadOptions(quantize="fp8"))
    with pytest.raises(ModelError, match="CUDA"):
        pick_device("cuda")
    assert pick_device("auto").type in ("cpu", "mps")


def test_model_path_comes_from_the_flag_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DGLSP_MODEL", str(tmp_path / "env"))
    assert resolve_model_path(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_model_path(None) == tmp_path / "env"


def test_layout_can_be_overridden(dg_dir):
    assert load_model(dg_dir, LoadOptions(layout="prompt")).denoiser.layout == "prompt"


def test_sampler_defaults_come_from_generation_config(dg_model):
    engine = Engine(dg_model)
    assert engine.sampler == SamplerConfig()  # blank models write the reference settings
    assert dg_model.generation_config["max_denoising_steps"] == 48
