"""What the model thought of each slot's token when it could not see it: the ground of a fill's confidence.

A diffusion model that sees a token in its input leans towards keeping it (in training most tokens of a lightly
noised canvas are right), so the probabilities of the last step flatter any canvas that has settled: the shipped
model gives its noise fills 0.6 per token there. A slot is *blind* at a step when its input is noise or a mask
(it was rejected at the step before, or never shown): what the model predicts there comes from the context
alone. Each step records, for the blind slots, the untempered log-probability of the drawn token and of the
argmax; a fill's token is scored by the last blind prediction that named it. A token no blind step named (it
changed while shown, rare) gets the most it could have had: min(p, 1 - p) of that step's argmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class BlindScores:
    drawn: Tensor  # (len,) the token drawn at the slot's last blind step
    drawn_logp: Tensor
    best: Tensor  # (len,) that step's argmax
    best_logp: Tensor

    @classmethod
    def empty(cls, length: int, device: torch.device) -> BlindScores:
        tokens = torch.full((length,), -1, dtype=torch.long, device=device)
        logp = torch.full((length,), float("-inf"), device=device)
        return cls(tokens, logp, tokens.clone(), logp.clone())

    def remember(self, rows: Tensor, drawn: Tensor, drawn_logp: Tensor, best: Tensor, best_logp: Tensor) -> None:
        """The blind `rows` (canvas positions): the drawn tokens and argmaxes, with their untempered
        log-probabilities."""
        self.drawn[rows], self.drawn_logp[rows] = drawn, drawn_logp.float()
        self.best[rows], self.best_logp[rows] = best, best_logp.float()

    def logprobs(self, positions: Tensor, tokens: Tensor) -> list[float]:
        """The blind log-probability of `tokens` at `positions`."""
        best_logp = self.best_logp[positions]
        bound = torch.minimum(best_logp, torch.log1p(-best_logp.exp().clamp(max=1 - 1e-6)))
        named_best = torch.where(self.best[positions] == tokens, best_logp, bound)
        return torch.where(self.drawn[positions] == tokens, self.drawn_logp[positions], named_best).tolist()


def confident(score: float | None, floor: float) -> bool:
    """A fill clears the threshold: its score reaches `floor`, or its backend gives no score to judge by."""
    return score is None or score >= floor


def min_confidence(asked: float | None, engine: object) -> float:
    """The least confidence score a fill needs to be shown: what the user asked, else the model's calibrated
    threshold (`LoadedModel.min_confidence`), else 0 for a backend that scores nothing."""
    if asked is not None:
        return asked
    calibrated = getattr(engine, "min_confidence", None)
    return 0.0 if calibrated is None else calibrated
