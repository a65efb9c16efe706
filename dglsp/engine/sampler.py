"""The denoising loop: one sampler for uniform-state (DiffusionGemma) and absorbing-state (masked) models.

Each step the model predicts every open slot, a schedule picks the slots to accept and the noise re-noises the
rest. Fixed tokens (suffix, code between holes) never change.

- `EntropyBound` (the default, DiffusionGemma's reference sampler): accept the lowest-entropy slots whose summed
  entropy minus the largest stays under the bound (at least one); the answer is the argmax canvas; stop when the
  answer is stable and confident, or at max steps.
- `FixedK` (`tokens_per_step=k`): commit the k lowest-entropy open slots each step until none is open; the
  baseline that shows what the parallel schedule buys.
- `Noising`: uniform noise puts random tokens in rejected slots and leaves every slot open; absorbing noise puts
  the mask token there and accepted slots stay.

Each step remembers what the model predicted for the slots it could not see (`BlindScores`): a fill's
`Confidence` is made of that. With `give_up`, a fill still scoring under it at half its step budget stops there.

`denoise_many` runs several canvases (of several requests) through each decoder call together.

With `draw="multinomial"` this loop repeats `transformers`' reference sampler's random draws one for one (same
seed, same tokens); the default `inverse-cdf` draw takes one uniform number per slot instead of
`torch.multinomial`'s one per vocabulary entry, which is ~45x cheaper on a CPU and samples the same distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch

from ..models.base import Denoiser, PrefixState
from .canvas import Canvas
from .confidence import BlindScores
from .types import Confidence, SamplerConfig, StepView, StopReason

OnStep = Callable[[StepView], bool | None]  # return True to cancel


@dataclass(frozen=True)
class Denoised:
    tokens: list[int]  # the whole canvas: filled slots and fixed tokens
    steps: int
    stop: StopReason
    logprobs: tuple[float, ...] = ()  # of the fill's tokens (`fill_positions`): blind and untempered


def fill_positions(answer: torch.Tensor, holes: tuple[range, ...], ends: frozenset[int]) -> torch.Tensor:
    """The canvas positions the fill is made of: each hole's slots up to and including its first end token (the
    whole hole when it has none); the pads after an end are never read."""
    tokens = answer[0].tolist()
    positions: list[int] = []
    for hole in holes:
        for at in hole:
            positions.append(at)
            if tokens[at] in ends:
                break
    return torch.tensor(positions, dtype=torch.long, device=answer.device)


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


def propose(slot_logits: torch.Tensor, rng: torch.Generator, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A drawn token and the entropy of its distribution, per open slot."""
    probs = torch.softmax(slot_logits, dim=-1, dtype=torch.float32)
    sampled = draw(probs, rng, method)
    log_probs = torch.log_softmax(slot_logits, dim=-1).clamp(min=torch.finfo(torch.float32).min)
    return sampled, -(probs * log_probs).sum(dim=-1)


@dataclass(frozen=True)
class Noising:
    """What rejected slots become, and whether accepted slots stay (`commits`)."""

    commits: bool
    vocab_size: int
    mask_id: int | None
    rng: torch.Generator
    device: torch.device

    @classmethod
    def of(cls, denoiser: Denoiser, rng: torch.Generator) -> Noising:
        absorbing = denoiser.noise == "absorbing"
        return cls(absorbing, denoiser.vocab_size, denoiser.mask_id, rng, denoiser.device)

    def like(self, canvas: torch.Tensor) -> torch.Tensor:
        if self.commits:
            return torch.full_like(canvas, self.mask_id)
        # Drawn over the whole canvas, as the reference does, so the random streams stay in step.
        return torch.randint(0, self.vocab_size, canvas.shape, generator=self.rng, device=self.device)


class Schedule(Protocol):
    commits: bool  # accepted slots are final whatever the noise

    def max_steps(self, open_slots: int) -> int: ...

    def accept(self, entropy: torch.Tensor) -> torch.Tensor: ...

    def answer(self, accepted: torch.Tensor, sampled: torch.Tensor, guess: torch.Tensor) -> torch.Tensor: ...

    def done(self, answer: torch.Tensor, entropy: torch.Tensor, rows: torch.Tensor, open_slots: int) -> bool:
        """`entropy` of each of this step's open slots, `rows` their positions; `open_slots` left after it."""
        ...


@dataclass
class EntropyBound:
    """DiffusionGemma's reference schedule: parallel acceptance under an entropy bound, adaptive stop."""

    config: SamplerConfig
    ends: frozenset[int] = frozenset()  # tokens that end a fill (for `stop_on="fill"`)
    holes: tuple[range, ...] = ()
    history: list[torch.Tensor] = field(default_factory=list)  # the last `stability` answers
    commits: bool = field(default=False, init=False)

    def max_steps(self, open_slots: int) -> int:
        return self.config.max_steps

    def accept(self, entropy: torch.Tensor) -> torch.Tensor:
        return entropy_bound_accept(entropy, self.config.entropy_bound)

    def answer(self, accepted: torch.Tensor, sampled: torch.Tensor, guess: torch.Tensor) -> torch.Tensor:
        # The reference answers with the argmax even where it accepted a drawn token.
        return guess

    def done(self, answer: torch.Tensor, entropy: torch.Tensor, rows: torch.Tensor, open_slots: int) -> bool:
        if open_slots == 0:
            return True
        watched = self.fill_positions(answer) if self.config.stop_on == "fill" and self.ends else None
        k = self.config.stability
        history, self.history = self.history, [*self.history, answer][-k:] if k else []
        if watched is None:
            stable = k == 0 or (len(history) >= k and all(torch.equal(past, answer) for past in history[-k:]))
            return stable and float(entropy.mean()) < self.config.confidence
        stable = k == 0 or (
            len(history) >= k and all(torch.equal(past[0, watched], answer[0, watched]) for past in history[-k:])
        )
        # Confident on the fill, or as the canvas rule measures it (the pads' low entropy lowers the mean): so this
        # rule never stops later than the canvas rule, whose stability covers these positions too.
        open_watched = entropy[torch.isin(rows, watched)]
        confident = open_watched.numel() == 0 or float(open_watched.mean()) < self.config.confidence
        return stable and (confident or float(entropy.mean()) < self.config.confidence)

    def fill_positions(self, answer: torch.Tensor) -> torch.Tensor:
        return fill_positions(answer, self.holes, self.ends)


@dataclass(frozen=True)
class FixedK:
    """Commit the k lowest-entropy open slots per step until every slot is committed."""

    k: int
    commits: bool = field(default=True, init=False)

    def max_steps(self, open_slots: int) -> int:
        return -(-open_slots // self.k)

    def accept(self, entropy: torch.Tensor) -> torch.Tensor:
        return fixed_k_accept(entropy, self.k)

    def answer(self, accepted: torch.Tensor, sampled: torch.Tensor, guess: torch.Tensor) -> torch.Tensor:
        # A committed slot's answer is what was committed, or later steps would contradict it.
        return torch.where(accepted, sampled, guess)

    def done(self, answer: torch.Tensor, entropy: torch.Tensor, rows: torch.Tensor, open_slots: int) -> bool:
        return open_slots == 0


@dataclass
class Canvasing:
    """One canvas being denoised: its own random stream, schedule and open slots, so canvases of different
    requests can share each decoder step (`denoise_many`) and still come out as each would alone."""

    state: PrefixState
    config: SamplerConfig
    on_step: OnStep | None
    rng: torch.Generator
    noise: Noising
    schedule: Schedule
    current: torch.Tensor  # (1, len) the canvas as the model sees it
    answer: torch.Tensor  # (1, len) the best guess so far
    rows: torch.Tensor  # slots still open (canvas positions)
    read: torch.Tensor  # where those slots' logits are in what the denoiser returns
    slots: torch.Tensor | None  # every slot, for a denoiser that returns their logits only (`slots_only`)
    total: int
    holes: tuple[range, ...] = ()
    ends: frozenset[int] = frozenset()
    blind: BlindScores | None = None
    seen: torch.Tensor | None = None  # which open slots showed a token (not noise) to this step
    self_conditioning: torch.Tensor | None = None
    steps: int = 0
    stop: StopReason = "max_steps"
    finished: bool = False

    @classmethod
    def start(
        cls,
        denoiser: Denoiser,
        state: PrefixState,
        canvas: Canvas,
        config: SamplerConfig,
        on_step: OnStep | None,
        ends: frozenset[int] = frozenset(),
    ) -> Canvasing:
        """`ends`: the tokens that end a fill, which `stop_on="fill"` stops on."""
        rng = torch.Generator(device=denoiser.device).manual_seed(config.seed)
        noise = Noising.of(denoiser, rng)
        schedule: Schedule = (
            FixedK(config.tokens_per_step) if config.tokens_per_step else EntropyBound(config, ends, canvas.holes)
        )
        fixed = torch.tensor([canvas.tokens], dtype=torch.long, device=denoiser.device)
        free = torch.tensor([canvas.free], dtype=torch.bool, device=denoiser.device)
        current = torch.where(free, noise.like(fixed), fixed)
        rows = free[0].nonzero().squeeze(-1)
        slots = rows if denoiser.slots_only else None
        read = torch.arange(rows.numel(), device=rows.device) if denoiser.slots_only else rows
        total = schedule.max_steps(rows.numel())
        return cls(
            state,
            config,
            on_step,
            rng,
            noise,
            schedule,
            current,
            current,
            rows,
            read,
            slots,
            total,
            canvas.holes,
            ends,
            BlindScores.empty(fixed.shape[1], denoiser.device),
            finished=total == 0,
        )

    def advance(self, logits: torch.Tensor) -> None:
        """One denoising step from the model's logits for this canvas: (1, len, vocab), or (1, slots, vocab)."""
        step, self.steps = self.steps, self.steps + 1
        raw = logits[0]
        blind = torch.ones_like(self.read, dtype=torch.bool) if self.seen is None else ~self.seen
        # Normalised first, so its (blind slots x vocab) temporaries are gone before the step's own are made.
        norm = torch.logsumexp(raw[self.read[blind]].float(), dim=-1)
        logits = logits / self.config.temperature(step, self.total)
        self.self_conditioning, slot_logits = logits, logits[0, self.read]
        sampled, entropy = propose(slot_logits, self.rng, self.config.draw)
        accepted = self.schedule.accept(entropy)
        current = self.current.clone()
        current[0, self.rows] = torch.where(accepted, sampled, self.noise.like(current)[0, self.rows])
        answer = current.clone()
        guess = slot_logits.argmax(dim=-1)
        answer[0, self.rows] = self.schedule.answer(accepted, sampled, guess)
        self.current, self.answer = current, answer
        mean_entropy = float(entropy.mean())
        rows, read = self.rows, self.read[blind]
        drawn, best = sampled[blind], guess[blind]
        self.blind.remember(rows[blind], drawn, raw[read, drawn] - norm, best, raw[read, best] - norm)
        if self.schedule.commits or self.noise.commits:
            self.rows, self.read = self.rows[~accepted], self.read[~accepted]  # the rest shows noise or a mask
        else:
            self.seen = accepted
        view = StepView(step, answer[0].tolist(), int(accepted.sum()), mean_entropy)
        if self.on_step is not None and self.on_step(view):
            self.stop, self.finished = "cancelled", True
        elif self.schedule.done(answer, entropy, rows, self.rows.numel()):
            self.stop, self.finished = "converged", True
        elif self.steps == self.total:
            self.finished = True
        elif self.config.give_up and self.steps == self.total // 2 and self.score() < self.config.give_up:
            self.stop, self.finished = "low_confidence", True

    def fill_logprobs(self) -> list[float]:
        positions = fill_positions(self.answer, self.holes, self.ends)
        return self.blind.logprobs(positions, self.answer[0, positions])

    def score(self) -> float:
        return Confidence.of(self.fill_logprobs(), settled=False).score

    def result(self) -> Denoised:
        return Denoised(self.answer[0].tolist(), self.steps, self.stop, tuple(self.fill_logprobs()))


def denoise_many(denoiser: Denoiser, canvases: list[Canvasing]) -> list[Denoised]:
    """Denoise several canvases together: one decoder call per step for all still running (canvas-level
    batching); each ends on its own stop rule and leaves the batch."""
    live = [c for c in canvases if not c.finished]
    while live:
        logits = denoiser.logits_many(
            [c.state for c in live],
            [c.current for c in live],
            [c.self_conditioning for c in live],
            [c.slots for c in live],
        )
        for canvas, rows in zip(live, logits, strict=True):
            canvas.advance(rows)
        live = [c for c in live if not c.finished]
    return [c.result() for c in canvases]


def denoise(
    denoiser: Denoiser,
    state: PrefixState,
    canvas: Canvas,
    config: SamplerConfig,
    on_step: OnStep | None = None,
) -> Denoised:
    (out,) = denoise_many(denoiser, [Canvasing.start(denoiser, state, canvas, config, on_step)])
    return out
