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


@dataclass
class BlindScores:
    drawn: torch.Tensor  # (len,) the token drawn at the slot's last blind step
    drawn_logp: torch.Tensor
    best: torch.Tensor  # (len,) that step's argmax
    best_logp: torch.Tensor

    @classmethod
    def empty(cls, length: int, device: torch.device) -> BlindScores:
        tokens = torch.full((length,), -1, dtype=torch.long, device=device)
        logp = torch.full((length,), float("-inf"), device=device)
        return cls(tokens, logp, tokens.clone(), logp.clone())

    def remember(self, rows: torch.Tensor, raw: torch.Tensor, drawn: torch.Tensor, best: torch.Tensor) -> None:
        """The blind `rows` (canvas positions) with their untempered logits, drawn tokens and argmaxes."""
        if not rows.numel():
            return
        raw = raw.float()
        norm = torch.logsumexp(raw, dim=-1)
        self.drawn[rows], self.best[rows] = drawn, best
        self.drawn_logp[rows] = raw.gather(-1, drawn.unsqueeze(-1)).squeeze(-1) - norm
        self.best_logp[rows] = raw.gather(-1, best.unsqueeze(-1)).squeeze(-1) - norm

    def logprobs(self, positions: torch.Tensor, tokens: torch.Tensor) -> list[float]:
        """The blind log-probability of `tokens` at `positions`."""
        best_logp = self.best_logp[positions]
        bound = torch.minimum(best_logp, torch.log1p(-best_logp.exp().clamp(max=1 - 1e-6)))
        named_best = torch.where(self.best[positions] == tokens, best_logp, bound)
        return torch.where(self.drawn[positions] == tokens, self.drawn_logp[positions], named_best).tolist()


def min_confidence(asked: float | None, engine: object) -> float:
    """The least confidence score a fill needs to be shown: what the user asked, else the model's calibrated
    threshold (`LoadedModel.min_confidence`), else 0 for a backend that scores nothing."""
    if asked is not None:
        return asked
    calibrated = getattr(engine, "min_confidence", None)
    return 0.0 if calibrated is None else calibrated
