"""Tiny random-weight models of both families from real configs, saved and loaded as users' models are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dglsp.models.blank import make_blank_model, stdlib_files
from dglsp.models.loader import load_model
from dglsp.models.tokenizer import train_tokenizer

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer(stdlib_files(12), vocab_size=512)


@pytest.fixture(scope="session")
def dg_dir(tmp_path_factory, tokenizer) -> Path:
    # canvas_length 32 so transformers' own generate() runs the same canvas in the reference test.
    return make_blank_model(tmp_path_factory.mktemp("dg") / "model", canvas_length=32, tokenizer=tokenizer)


@pytest.fixture(scope="session")
def long_positions_dir(tmp_path_factory, tokenizer) -> Path:
    """The tiny model with the 131,072 positions of DiffusionGemma's config defaults (the released one has
    262,144): what the context budget, not the model's positions, must size."""
    out = tmp_path_factory.mktemp("long") / "model"
    return make_blank_model(out, canvas_length=32, tokenizer=tokenizer, max_positions=131_072)


@pytest.fixture(scope="session")
def converging_dir(tmp_path_factory, tokenizer) -> Path:
    """The tiny model trained until it reproduces a few files (tests/converging.py); ~35 s, made once."""
    from converging import make_converging

    return make_converging(tmp_path_factory.mktemp("converging") / "model", tokenizer)


@pytest.fixture(scope="session")
def google_dir(tmp_path_factory) -> Path:
    """A tiny directory shaped as Google's released DiffusionGemma -it (tests/google_shaped.py)."""
    from google_shaped import make_google_shaped

    return make_google_shaped(tmp_path_factory.mktemp("google") / "diffusiongemma-it")


@pytest.fixture(scope="session")
def masked_dir(tmp_path_factory, tokenizer) -> Path:
    return make_blank_model(tmp_path_factory.mktemp("mlm") / "model", family="masked", tokenizer=tokenizer)


@pytest.fixture(scope="session")
def dg_model(dg_dir):
    return load_model(dg_dir)


@pytest.fixture(scope="session")
def masked_model(masked_dir):
    return load_model(masked_dir)


@pytest.fixture(params=["diffusion_gemma", "masked"])
def any_model(request, dg_model, masked_model):
    return dg_model if request.param == "diffusion_gemma" else masked_model


@pytest.fixture(scope="session")
def gpu_like_python(pytestconfig) -> Path:
    """A venv with only the GPU machine's packages (tests/gpu_like.py), kept in pytest's cache between runs."""
    from gpu_like import gpu_like_venv

    return gpu_like_venv(pytestconfig.cache.mkdir("gpu-like"))


@pytest.fixture(scope="session")
def llama_server_url(tmp_path_factory):
    """llama.cpp's llama-server on the tiny bigram GGUF (it writes `x)` after a FIM or a chat prompt). Without a
    binary it is built once into pytest's cache (about 7 minutes on 2 cores); skipped only without cmake and a
    C++ compiler."""
    from llama_server import build_llama_server, find_llama_server, llama_server
    from tiny_gguf import write_tiny_gguf

    from dglsp.bench.serve_load import free_port

    binary = find_llama_server()
    if binary is None:
        if not (shutil.which("cmake") and (shutil.which("c++") or shutil.which("g++"))):
            pytest.skip("no llama-server and no cmake and C++ compiler to build one (see tests/llama_server.py)")
        binary = build_llama_server()
    model = write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    with llama_server(binary, model, free_port(), alias="tiny-qwen2.5-coder") as url:
        yield url
