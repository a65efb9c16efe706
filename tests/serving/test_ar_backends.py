"""The backends for servers people already run, against llama.cpp's real `llama-server` on a tiny GGUF whose
greedy output is known (tests/tiny_gguf.py): `/infill`, and `/v1/completions` / `/v1/chat/completions` as any
OpenAI-compatible server has them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tiny_gguf import ANSWER

from dglsp.bench.serve_load import free_port
from dglsp.engine.types import FillRequest
from dglsp.serving.backends import open_backend, parse_backend
from dglsp.serving.http_json import BackendError, BackendUnavailable

PREFIX, SUFFIX = "def show(a):\n    print(", "\n\n\nshow(1)\n"
FIM_TOKENS = 3  # prefix, suffix and middle sentinels; every other byte is one token of the tiny GGUF


def test_llama_cpp_infill_gets_the_whole_prefix_and_suffix_and_answers_the_model_s_fill(llama_server_url):
    backend = open_backend(f"llamacpp:{llama_server_url}")
    backend.connect()
    assert backend.denoiser.max_positions == 4096  # the server's context, not a guess
    result = backend.fill(FillRequest(PREFIX, SUFFIX, max_tokens=8))
    assert result.fills == (ANSWER,) and result.stop == "converged"
    assert result.prefix_tokens_encoded == len(PREFIX) + len(SUFFIX) + FIM_TOKENS


def test_other_open_files_reach_llama_cpp_before_the_fim_prompt(llama_server_url):
    other = ("util.py", "def helper():\n    return 1\n")
    request = FillRequest(PREFIX, SUFFIX, max_tokens=8, other_files=(other,))
    result = open_backend(f"llamacpp:{llama_server_url}").fill(request)
    assert result.fills == (ANSWER,)
    assert result.prefix_tokens_encoded >= len(PREFIX) + len(SUFFIX) + FIM_TOKENS + len(other[1])


def test_the_token_limit_ends_a_fill_as_the_engine_s_step_limit_does(llama_server_url):
    result = open_backend(f"llamacpp:{llama_server_url}").fill(FillRequest(PREFIX, SUFFIX, max_tokens=1))
    assert result.fills == (ANSWER[0],) and result.stop == "max_steps"


def test_several_holes_are_filled_in_order_each_seeing_the_ones_before_it(llama_server_url):
    between = ")\n    print("
    request = FillRequest(PREFIX, SUFFIX, max_tokens=8, between=(between,))
    result = open_backend(f"llamacpp:{llama_server_url}").fill(request)
    assert result.fills == (ANSWER, ANSWER) and result.blocks == 2
    first = len(PREFIX) + len(between) + len(SUFFIX)
    second = len(PREFIX) + len(ANSWER) + len(between) + len(SUFFIX)
    assert result.prefix_tokens_encoded == first + second + 2 * FIM_TOKENS


def test_an_openai_compatible_server_gets_the_fim_prompt_of_the_model_s_family(llama_server_url):
    backend = open_backend(f"openai:{llama_server_url}/v1")
    backend.connect()
    assert backend.model == "tiny-qwen2.5-coder" and backend.fim is not None and backend.fim.name == "qwen"
    result = backend.fill(FillRequest(PREFIX, SUFFIX, max_tokens=8))
    assert result.fills == (ANSWER,) and result.stop == "converged"
    assert result.prefix_tokens_encoded == len(PREFIX) + len(SUFFIX) + FIM_TOKENS


def test_a_chat_prompt_carries_prefix_and_suffix_for_a_model_without_fim_tokens(llama_server_url):
    backend = open_backend(f"openai:{llama_server_url}", prompt="chat")
    result = backend.fill(FillRequest(PREFIX, SUFFIX, language="python", max_tokens=8))
    assert backend.fim is None and result.fills == (ANSWER,)
    assert result.prefix_tokens_encoded > len(PREFIX) + len(SUFFIX)  # both sides, inside the chat template


def test_a_model_the_server_does_not_serve_is_refused_with_the_ones_it_does(llama_server_url):
    backend = open_backend(f"openai:{llama_server_url}", model="qwen-32b")
    with pytest.raises(BackendError, match=r"tiny-qwen2\.5-coder"):
        backend.connect()


def test_dglsp_fill_with_a_llama_cpp_backend(llama_server_url, tmp_path):
    source = tmp_path / "show.py"
    source.write_text(PREFIX + SUFFIX)
    line, col = PREFIX.count("\n") + 1, len(PREFIX.rsplit("\n", 1)[1]) + 1
    backend = ["--backend", f"llamacpp:{llama_server_url}", "--max-tokens", "8"]
    done = subprocess.run(
        [sys.executable, "-m", "dglsp", "fill", f"{source}:{line}:{col}", "--json", *backend],
        capture_output=True,
        text=True,
        timeout=120,
    )
    answer = json.loads(done.stdout)
    assert done.returncode == 0 and answer["completion"] == ANSWER and answer["stop"] == "converged"


def test_a_server_that_is_not_there_is_said_plainly():
    url = f"http://127.0.0.1:{free_port()}"
    for kind in ("llamacpp", "ollama", "openai"):
        with pytest.raises(BackendUnavailable, match=f"at {url} does not answer"):
            open_backend(f"{kind}:{url}").fill(FillRequest(PREFIX, SUFFIX))


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("local", ("local", "")),
        ("http://gpu-box:8000", ("dglsp", "http://gpu-box:8000")),
        ("llamacpp:http://localhost:8012", ("llamacpp", "http://localhost:8012")),
        ("ollama:http://localhost:11434", ("ollama", "http://localhost:11434")),
        ("openai:https://vllm.example/v1", ("openai", "https://vllm.example/v1")),
    ],
)
def test_backend_forms(spec, parsed):
    assert parse_backend(spec) == parsed


@pytest.mark.parametrize("spec", ["", "gpu-box:8000", "llamacpp:", "vllm:http://x", "ftp://x", "openai:localhost"])
def test_malformed_backends_are_refused_naming_the_forms(spec):
    with pytest.raises(ValueError, match="llamacpp:URL, ollama:URL, openai:URL"):
        parse_backend(spec)
