"""dglsp's sampler against transformers' own DiffusionGemma generate(): same seed, same tokens."""

import pytest
import torch
from transformers.models.diffusion_gemma.generation_diffusion_gemma import EntropyBoundSamplerConfig

from dglsp.engine.canvas import build_canvas
from dglsp.engine.sampler import denoise
from dglsp.engine.types import SamplerConfig


@pytest.mark.parametrize("seed", [0, 7, 1234])
def test_prompt_layout_without_suffix_matches_generate(dg_model, seed):
    denoiser = dg_model.denoiser
    model = denoiser.model
    canvas_length = model.config.canvas_length
    assert denoiser.text_config.sliding_window < 40  # the prompt is longer than the window: that path is tested
    prompt = torch.randint(8, denoiser.vocab_size, (1, 40), generator=torch.Generator().manual_seed(seed + 1))
    prompt[0, 0] = denoiser.bos_id
    settings = SamplerConfig(max_steps=12, seed=seed, draw="multinomial", stop_on="canvas")  # the reference rule

    torch.manual_seed(seed)  # generate() draws from the global generator
    reference = model.generate(
        prompt,
        max_new_tokens=canvas_length,
        max_denoising_steps=settings.max_steps,
        t_max=settings.t_max,
        t_min=settings.t_min,
        sampler_config=EntropyBoundSamplerConfig(entropy_bound=settings.entropy_bound),
        stability_threshold=settings.stability,
        confidence_threshold=settings.confidence,
        eos_token_id=None,
        pad_token_id=None,
    )
    expected = reference.sequences[0, prompt.shape[1] :].tolist()

    state = denoiser.new_state()
    denoiser.extend(state, prompt[0].tolist())
    canvas = build_canvas([canvas_length], [], [])
    ours = denoise(denoiser, state, canvas, settings)
    assert ours.tokens == expected
    steps_taken = canvas_length / float(reference.tokens_per_forward[0])
    assert ours.steps == round(steps_taken)
