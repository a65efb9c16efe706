"""DiffusionGemma's reference sampler settings, as a model directory's generation_config.json holds them.

The engine's SamplerConfig takes its defaults from here, and an untrained model directory records them, so the
two never disagree.
"""

REFERENCE_GENERATION: dict = {
    "max_denoising_steps": 48,
    "sampler_config": {"entropy_bound": 0.1},
    "t_max": 0.8,
    "t_min": 0.4,
    "stability_threshold": 1,
    "confidence_threshold": 0.005,
}
