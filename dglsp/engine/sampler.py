"""The denoising loop: one sampler for uniform-state (DiffusionGemma) and absorbing-state (masked) models.

Each step the model predicts every open slot; the entropy-bounded rule accepts the lowest-entropy slots whose
summed entropy minus the largest stays under the bound (at least one), and the rest are re-noised (uniform:
random tokens; absorbing: the mask token, and accepted slots stay). Fixed tokens (suffix, code between holes)
never change. The answer is the argmax canvas, as in `transformers`' reference sampler. With
`draw="multinomial"` this loop repeats that sampler's random draws one for one (same seed, same tokens);
the default `inverse-cdf` draw takes one uniform number per slot instead of `torch.multinomial`'s one per
vocabulary entry, which is ~45x cheaper on a CPU and samples the same distribution.

With `tokens_per_step=k` the schedule is fixed instead: the k lowest-entropy open slots are committed each step
and stay, for either family, until none is open; that is the baseline that shows what the parallel
schedule buys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..models.base import Denoiser, PrefixState
from .canvas import Canvas
from .types import SamplerConfig, StepView, StopReason

OnStep = Callable[[StepView], bool | None]  # return True to cancel


@dataclass(frozen=True)
class Denoised:
    tokens: list[int]  # the whole canvas: filled slots and fixed tokens
    steps: int
    stop: StopReason


def entropy_bound_accept(entropy: torch.Tensor, bound: float) -> torch.Tensor:
    """Accept the lowest-entropy slots while cumsum(H) - H_k <= bound (always at least one)."""
    ordered, order = torch.sort(entropy, dim=-1)
    keep = (torch.cumsum(ordered, dim=-1) - ordered) <= bound
    return torch.zeros_like(keep).scatter(-1, order, keep)


def draw(probs: torch.Tensor, rng: torch.Generator, method: str) -> torch.Tensor:
    """One token per row of `probs` (rows, vocab)."""
    if method == "multinomial":
        return torch.multinomial(probs, 1, generator=rng).squeeze(-1)
    cdf = probs.cumsum(dim=-1)
    u = torch.rand(probs.shape[0], 1, generator=rng, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(-1).clamp_(max=probs.shape[-1] - 1)


def fixed_k_accept(entropy: torch.Tensor, k: int) -> torch.Tensor:
    """Accept exactly the k lowest-entropy slots (all of them if fewer are open)."""
    order = torch.argsort(entropy, dim=-1)[..., :k]
    return torch.zeros_like(entropy, dtype=torch.bool).scatter(-1, order, True)


def denoise(
    denoiser: Denoiser,
    state: PrefixState,
    canvas: Canvas,
    config: SamplerConfig,
    on_step: OnStep | None = None,
) -> Denoised:
    device = denoiser.device
    absorbing = denoiser.noise == "absorbing"
    fixed_k = config.tokens_per_step
    closing = absorbing or fixed_k > 0  # accepted slots stay as they are, and only open ones are predicted
    rng = torch.Generator(device=device).manual_seed(config.seed)

    fixed = torch.tensor([canvas.tokens], dtype=torch.long, device=device)
    free = torch.tensor([canvas.free], dtype=torch.bool, device=device)

    def noise() -> torch.Tensor:
        if absorbing:
            return torch.full_like(fixed, denoiser.mask_id)
        # Drawn over the whole canvas, as the reference does, so the random streams stay in step.
        return torch.randint(0, denoiser.vocab_size, fixed.shape, generator=rng, device=device)

    current = torch.where(free, noise(), fixed)
    rows = free[0].nonzero().squeeze(-1)  # slots still open
    total = -(-rows.numel() // fixed_k) if fixed_k else config.max_steps
    best = current
    history: list[torch.Tensor] = []
    self_conditioning = None
    stop: StopReason = "max_steps"
    steps = 0
    for step in range(total):
        steps = step + 1
        logits = denoiser.logits(state, current, self_conditioning) / config.temperature(step, total)
        self_conditioning = logits
        slot_logits = logits[0, rows]
        probs = torch.softmax(slot_logits, dim=-1, dtype=torch.float32)
        sampled = draw(probs, rng, config.draw)
        log_probs = torch.log_softmax(slot_logits, dim=-1).clamp(min=torch.finfo(torch.float32).min)
        entropy = -(probs * log_probs).sum(dim=-1)
        accepted = fixed_k_accept(entropy, fixed_k) if fixed_k else entropy_bound_accept(entropy, config.entropy_bound)
        renoised = noise()[0, rows]

        current = current.clone()
        current[0, rows] = torch.where(accepted, sampled, renoised)
        best = current.clone()
        guess = slot_logits.argmax(dim=-1)
        # Under a fixed schedule a committed slot's answer is what was committed; elsewhere the argmax.
        best[0, rows] = torch.where(accepted, sampled, guess) if fixed_k else guess
        mean_entropy = float(entropy.mean())
        if closing:
            rows = rows[~accepted]

        k = config.stability
        stable = k == 0 or (len(history) >= k and all(torch.equal(past, best) for past in history[-k:]))
        history = [*history, best][-k:] if k else []
        if on_step is not None and on_step(
            StepView(step=step, tokens=best[0].tolist(), accepted=int(accepted.sum()), mean_entropy=mean_entropy)
        ):
            stop = "cancelled"
            break
        if (stable and mean_entropy < config.confidence and not fixed_k) or rows.numel() == 0:
            stop = "converged"
            break
    return Denoised(tokens=best[0].tolist(), steps=steps, stop=stop)
