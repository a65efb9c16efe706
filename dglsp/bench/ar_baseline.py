"""An autoregressive fill-in-the-middle model on the same tasks: prefix-suffix-middle prompt, greedy decoding."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..models.base import ModelError
from ..models.fim import END_TOKENS, FIM_FORMATS
from ..models.loader import pick_device, pick_dtype
from .humaneval_tasks import InfillTask
from .infill_run import Attempt

FIM_TOKENS = tuple(f.tokens for f in FIM_FORMATS)


@dataclass
class ArFiller:
    name: str
    model: torch.nn.Module
    tokenizer: object
    fim_ids: tuple[int, int, int]
    end_ids: list[int]
    bos: list[int]
    device: torch.device
    parameters: int

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", dtype: str = "auto") -> ArFiller:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        root = Path(path)
        if not (root / "config.json").is_file():
            raise ModelError(f"--ar-baseline {root}: no config.json there")
        if not any(root.glob("*.safetensors")):
            raise ModelError(f"--ar-baseline {root}: no *.safetensors weights (pickle weights are not loaded)")
        torch_device = pick_device(device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(root, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                root, local_files_only=True, use_safetensors=True, dtype=pick_dtype(dtype, torch_device)
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"--ar-baseline {root}: {exc}") from exc
        vocab = tokenizer.get_vocab()
        fim = next((t for t in FIM_TOKENS if all(s in vocab for s in t)), None)
        if fim is None:
            known = "; ".join(" ".join(t) for t in FIM_TOKENS)
            raise ModelError(f"--ar-baseline {root}: the tokenizer has no known FIM tokens ({known})")
        ends = {vocab[t] for t in END_TOKENS if t in vocab} | ({tokenizer.eos_token_id} - {None})
        if not ends:
            raise ModelError(f"--ar-baseline {root}: the tokenizer has no eos or end-of-middle token")
        # Some families want their bos first (DeepSeek); use it exactly when the tokenizer adds it itself.
        bos_id = tokenizer.bos_token_id
        bos = [bos_id] if bos_id is not None and tokenizer("a").input_ids[:1] == [bos_id] else []
        return cls(
            name=f"ar:{root.name}",
            model=model.to(torch_device).eval(),
            tokenizer=tokenizer,
            fim_ids=tuple(vocab[t] for t in fim),
            end_ids=sorted(ends),
            bos=bos,
            device=torch_device,
            parameters=sum(p.numel() for p in model.parameters()),
        )

    def prepare(self) -> None:
        self.model.generate(
            torch.tensor([[self.fim_ids[0], self.fim_ids[1], self.fim_ids[2]]], device=self.device),
            max_new_tokens=2,
            do_sample=False,
            pad_token_id=self.end_ids[0],
        )

    def fill(self, task: InfillTask, max_tokens: int) -> Attempt:
        encode = self.tokenizer.encode
        pre, suf, mid = self.fim_ids
        ids = [*self.bos, pre, *encode(task.prefix, add_special_tokens=False), suf]
        ids += [*encode(task.suffix, add_special_tokens=False), mid]
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                torch.tensor([ids], device=self.device),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=self.device),
                max_new_tokens=max_tokens,
                do_sample=False,
                eos_token_id=self.end_ids,
                pad_token_id=self.end_ids[0],
                # A single-line task needs one line: stop there, as editors' AR completers do.
                stop_strings=["\n"] if task.single_line else None,
                tokenizer=self.tokenizer,
            )
        ms = (time.perf_counter() - start) * 1000
        new = out[0, len(ids) :].tolist()
        ended = bool(new) and new[-1] in self.end_ids
        body = new[:-1] if ended else new
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        return Attempt(text, ms, len(new), len(body), "converged" if ended else "max_steps")
