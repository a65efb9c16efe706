"""Weights stored in bf16: the export, the load on a CPU (upcast to float32), and the shipped model itself."""

import json

import pytest
import torch
from safetensors import safe_open

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig
from dglsp.models.export import save_model_dir
from dglsp.models.loader import DEFAULT_MODEL_DIR, DGLSP_FILE, LoadOptions, load_model

CPU = LoadOptions(device="cpu")  # the CPU rule (float32) even on a machine with a GPU
PROMPTS = [
    FillRequest(prefix="def area(r):\n    return ", suffix="\n\nprint(area(2))\n", max_tokens=8),
    FillRequest(prefix="import os\n\nfor name in os.listdir(", suffix="):\n    print(name)\n", max_tokens=16),
    FillRequest(prefix="class Point:\n    def __init__(self, x, y):\n", max_tokens=24),
    FillRequest(prefix="total = 0\nfor i in range(", suffix="\n    total += i\n", max_tokens=5),
    FillRequest(prefix="def f(a, b):\n    ", suffix="\n    return c\n", between=(" = a\n    ",), max_tokens=6),
]


def stored(path) -> dict[str, torch.Tensor]:
    tensors = {}
    for shard in sorted(path.glob("*.safetensors")):
        with safe_open(str(shard), framework="pt") as f:
            names = f.keys()
            tensors.update({key: f.get_tensor(key) for key in names})
    return tensors


def source(model_dir):
    """A float32 model (the HF module), its tokenizer and dglsp notes, from a saved directory."""
    loaded = load_model(model_dir, CPU)
    notes = json.loads((model_dir / DGLSP_FILE).read_text())
    return loaded.denoiser.model, loaded.tokenizer, notes


def rounded(model) -> dict[str, torch.Tensor]:
    """The model's weights rounded to bf16, held in float32."""
    return {k: v.to(torch.bfloat16).float() if v.is_floating_point() else v for k, v in model.state_dict().items()}


@pytest.mark.parametrize("family_dir", ["dg_dir", "masked_dir"])
def test_a_bf16_export_round_trips_and_loads_on_cpu_as_float32(family_dir, request, tmp_path):
    model, tokenizer, notes = source(request.getfixturevalue(family_dir))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    want = rounded(model)
    assert any(not torch.equal(want[k], before[k]) for k in want), "random weights lose bits in bf16"

    out = save_model_dir(model, tokenizer, tmp_path / "bf16", notes, dtype=torch.bfloat16)

    # The caller's model is neither cast nor changed.
    after = model.state_dict()
    assert all(v.dtype == before[k].dtype and torch.equal(v, before[k]) for k, v in after.items())
    assert model.config.dtype in ("float32", torch.float32)
    files = stored(out)
    assert files and all(t.dtype == torch.bfloat16 for t in files.values() if t.is_floating_point())
    assert all(torch.equal(t, before[k].to(torch.bfloat16)) for k, t in files.items())
    config = json.loads((out / "config.json").read_text())
    assert config["dtype"] == "bfloat16"
    assert all(sub.get("dtype", "bfloat16") == "bfloat16" for sub in config.values() if isinstance(sub, dict))
    assert (out / "model.safetensors").stat().st_size < 0.6 * sum(t.nbytes for t in before.values())

    loaded = load_model(out, CPU)
    assert loaded.info["dtype"] == "float32"
    state = loaded.denoiser.model.state_dict()
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    assert all(torch.equal(state[k], want[k]) for k in files)


def test_the_default_export_is_unchanged_and_shards_when_asked(dg_dir, tmp_path):
    model, tokenizer, notes = source(dg_dir)
    plain = save_model_dir(model, tokenizer, tmp_path / "plain", notes)
    assert json.loads((plain / "config.json").read_text())["dtype"] == "float32"
    files = stored(plain)
    assert all(t.dtype == torch.float32 for t in files.values())
    assert all(torch.equal(t, model.state_dict()[k]) for k, t in files.items())

    sharded = tmp_path / "sharded"
    save_model_dir(model, tokenizer, sharded, notes, dtype=torch.bfloat16, max_shard_size="200KB")
    assert len(list(sharded.glob("model-*-of-*.safetensors"))) > 1
    assert (sharded / "model.safetensors.index.json").exists()
    single = save_model_dir(model, tokenizer, tmp_path / "single", notes, dtype=torch.bfloat16)
    a, b = stored(sharded), stored(single)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = load_model(sharded, CPU).denoiser.model.state_dict()
    assert all(torch.equal(state[k], b[k].float()) for k in b)


def test_bf16_stored_weights_fill_on_cpu_as_the_same_weights_stored_in_float32(dg_dir, tmp_path):
    model, tokenizer, notes = source(dg_dir)
    # Random weights give near-uniform logits, whose draws hardly depend on rounding; 30x sharper logits do,
    # so a fill computed in bf16 differs from one in float32 (checked below) and the comparison can fail.
    with torch.no_grad():
        model.get_parameter("model.encoder.language_model.norm.weight").mul_(30)
    bf16_dir = save_model_dir(model, tokenizer, tmp_path / "bf16", notes, dtype=torch.bfloat16)
    twin = source(dg_dir)[0]
    twin.load_state_dict(rounded(model))
    fp32_dir = save_model_dir(twin, tokenizer, tmp_path / "fp32", notes)
    assert {t.dtype for t in stored(fp32_dir).values()} == {torch.float32}

    from_bf16, from_fp32 = load_model(bf16_dir, CPU), load_model(fp32_dir, CPU)
    in_bf16 = load_model(bf16_dir, LoadOptions(device="cpu", dtype="bfloat16"))  # what a bf16 CPU load would give
    sampler = SamplerConfig(max_steps=6, seed=3)
    differ = 0
    for request in PROMPTS:
        a, b = Engine(from_bf16).fill(request, sampler), Engine(from_fp32).fill(request, sampler)
        assert (a.fills, a.steps, a.tokens, a.stop) == (b.fills, b.steps, b.tokens, b.stop)
        differ += Engine(in_bf16).fill(request, sampler).fills != b.fills
    assert differ, "computing in bf16 should change some fill: else the fills above compare nothing"

    gen = torch.Generator().manual_seed(0)
    vocab = from_fp32.denoiser.vocab_size
    prefix = torch.randint(3, vocab, (40,), generator=gen).tolist()
    canvas = torch.randint(3, vocab, (1, 24), generator=gen)
    logits = {}
    for name, loaded in (("bf16", from_bf16), ("fp32", from_fp32), ("bf16 compute", in_bf16)):
        denoiser = loaded.denoiser
        state = denoiser.new_state()
        denoiser.extend(state, prefix)
        first = denoiser.logits(state, canvas, None)
        logits[name] = (first, denoiser.logits(state, canvas, first))  # and with self-conditioning
    assert logits["bf16"][0].dtype == torch.float32
    assert all(torch.equal(x, y) for x, y in zip(logits["bf16"], logits["fp32"], strict=True))
    # The comparison can tell: computing in bf16 (keeping the stored dtype) gives other logits.
    assert not torch.equal(logits["bf16 compute"][0].float(), logits["fp32"][0])


def test_the_shipped_model_is_stored_in_bf16_and_loads_on_cpu_as_float32():
    weights = sorted(DEFAULT_MODEL_DIR.glob("*.safetensors"))
    assert weights, "dglsp/models/default is not shipped"
    dtypes, elements = set(), 0
    for path in weights:
        with safe_open(str(path), framework="pt") as f:
            names = f.keys()
            for key in names:
                tensor = f.get_slice(key)
                dtypes.add(tensor.get_dtype())
                elements += torch.Size(tensor.get_shape()).numel()
    assert dtypes == {"BF16"}
    assert sum(p.stat().st_size for p in weights) < 2 * elements + (1 << 20)  # two bytes a weight, plus headers
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert config["dtype"] == config["text_config"]["dtype"] == "bfloat16"

    model = load_model(DEFAULT_MODEL_DIR, CPU)
    assert model.info["dtype"] == "float32" and model.info["device"] == "cpu"
    params = dict(model.denoiser.model.named_parameters())
    assert all(p.dtype == torch.float32 for p in params.values())
    files = stored(DEFAULT_MODEL_DIR)
    assert all(torch.equal(params[k], t.float()) for k, t in files.items() if k in params)
