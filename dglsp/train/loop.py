"""`dglsp train`: pack the corpus once, train with uniform-state diffusion, validate, checkpoint, resume.

Every step draws its batch from a generator seeded by (seed, step), so a resumed run continues exactly where
the interrupted one would have gone, and two runs with one seed train the same weights.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import AutoTokenizer, DiffusionGemmaForBlockDiffusion, DynamicCache

from ..engine.types import SamplerConfig
from ..models.blank import SIZES, new_diffusion_gemma
from ..models.export import save_model_dir
from ..models.loader import DGLSP_FILE, read_optional_json
from ..models.self_conditioning import NOTE as SELF_CONDITIONING
from ..models.self_conditioning import fixed_read_tokens
from ..models.tokenizer import END_OF_FILL, train_tokenizer_on_texts
from .config import CONFIGS, TrainConfig
from .corpus import Corpus, collect, parallel_map, resolve_sources, sample
from .examples import Batch, ExampleMaker, Split
from .pipeline import BatchStream
from .spans import node_spans

CHECKPOINT = "checkpoint"
STATE_FILE = "trainer.pt"
LOG_FILE = "log.jsonl"
VALID_SEED = 1 << 40  # validation batches come from their own stream, the same at every validation


@dataclass
class TrainOptions:
    out: Path
    config: TrainConfig | None = None  # None: the checkpoint's recipe on a resume, else CONFIGS["default"]
    sources: list[str] = field(default_factory=list)
    resume: Path | None = None
    init: Path | None = None
    minutes: float | None = None
    steps: int | None = None  # total steps to reach, counting those already done
    seed: int = 0
    batch_size: int | None = None  # overrides the recipe's (a GPU takes far more)
    device: str = "cpu"
    quiet: bool = False
    workers: int = 0  # processes building batches ahead of the loop, and packing the corpus (0: none)
    max_files: int | None = None  # pack an even sample of this many corpus files (a rehearsal)
    held_out: tuple[str, ...] = ()  # the benchmark's solutions: no training file may carry them
    autocast: bool | None = None  # bf16 autocast; None: on CUDA only


@dataclass
class TrainState:
    step: int = 0
    tokens: int = 0
    seconds: float = 0.0
    best_valid: float | None = None  # None until the first validation (JSON has no infinity)
    schedule_start: int = 0  # the step this optimizer started at: its warm-up counts from here


@dataclass
class Speed:
    """This process's training: tokens, seconds, and seconds of them spent waiting for batches."""

    tokens: int = 0
    seconds: float = 0.0
    data_wait: float = 0.0


def packed(
    out: Path,
    sources: list[str],
    seed: int,
    quiet: bool,
    reuse_any: bool = False,
    workers: int = 1,
    max_files: int | None = None,
    held_out: tuple[str, ...] = (),
) -> tuple[Split, Split]:
    """The corpus packed under OUT/data, packing it first unless an earlier start packed the same sources
    (or any, for a resume: the run goes on with its own data). `max_files`: an even sample of the files."""
    card = out / "data" / "card.json"
    request = [sources, seed] + ([max_files] if max_files else [])
    if card.exists() and (reuse_any or json.loads(card.read_text(encoding="utf-8")).get("request") == request):
        return Split.load(out / "data" / "train"), Split.load(out / "data" / "valid")
    resolved = resolve_sources(sources)
    if max_files:
        resolved = sample(resolved, max_files)
    corpus = collect(resolved, held_out=held_out, seed=seed, workers=workers, quiet=quiet)
    return pack(corpus, out, request, quiet, workers)


def pack(corpus: Corpus, out: Path, request: list, quiet: bool = False, workers: int = 1) -> tuple[Split, Split]:
    """Parse every file once for its spans (on `workers` processes) and write both splits under OUT/data."""
    splits = []
    for name, files in (("train", corpus.train), ("valid", corpus.valid)):
        texts = [f.text for f in files]
        spans = parallel_map(node_spans, texts, workers, desc=f"spans ({name})", quiet=quiet)
        docs = Split(texts, spans)
        docs.save(out / "data" / name)
        splits.append(docs)
    (out / "data" / "card.json").write_text(
        json.dumps({"sources": corpus.card(), "dropped": dict(corpus.dropped), "request": request}, indent=2),
        encoding="utf-8",
    )
    return splits[0], splits[1]


def tokenizer_sample(docs: Split, megabytes: int, seed: int) -> list[str]:
    order = np.random.default_rng(seed).permutation(len(docs))
    sample, total = [], 0
    for i in order:
        if total > megabytes << 20:
            break
        sample.append(docs.texts[i])
        total += len(docs.texts[i])
    return sample


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then inverse square root: no fixed end, so a run can always be resumed further."""
    warm = max(1, config.warmup_steps)
    return config.lr * min((step + 1) / warm, math.sqrt(warm / (step + 1)))


def logits_of(model: DiffusionGemmaForBlockDiffusion, batch: Batch, self_conditioning: torch.Tensor | None = None):
    """The decoder's logits over a padded batch: what the engine sees, one example at a time."""
    return model(
        input_ids=batch.prefix,
        attention_mask=batch.prefix_mask,
        position_ids=batch.prefix_pos,
        cache=DynamicCache(config=model.config.text_config),
        decoder_input_ids=batch.noised,
        decoder_attention_mask=batch.decoder_mask,
        decoder_position_ids=batch.decoder_pos,
        self_conditioning_logits=self_conditioning,
    ).logits


def loss_of(
    model: DiffusionGemmaForBlockDiffusion, batch: Batch, rows: str = "all"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted cross-entropy of the clean canvas, and the per-slot argmax hits (for accuracy); `rows`: which
    rows read self-conditioning (TrainConfig.self_conditioning_rows)."""
    previous = None
    if batch.self_conditioning:
        # Self-conditioning as in analog-bits training: the model's own first guess, without gradient.
        with torch.no_grad():
            previous = logits_of(model, batch)
            if rows == "slots":
                previous = fixed_read_tokens(previous, batch.noised, batch.free)
    logits = logits_of(model, batch, previous)
    ce = F.cross_entropy(logits.flatten(0, 1), batch.clean.flatten(), reduction="none").view_as(batch.weight)
    hits = logits.argmax(-1) == batch.clean
    return (ce * batch.weight).sum() / batch.weight.sum().clamp(min=1), hits


def new_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    # One fused kernel for all parameters instead of a dozen small ones each: what a small model on a GPU
    # needs; the CPU has it too, so the rehearsal runs the same optimizer.
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95), fused=True)


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    autocast: bool,
    grad_clip: float,
    rows: str = "all",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a batch already on the model's device (bf16 autocast if asked); loss and gradient
    norm stay on the device, since reading them waits for a GPU."""
    model.train()
    device = next(model.parameters()).device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        loss, _ = loss_of(model, batch, rows)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach(), norm


class Trainer:
    def __init__(self, options: TrainOptions) -> None:
        self.opt = options
        self.out = options.out
        self.device = torch.device(options.device)
        self.log_path = self.out / LOG_FILE
        self.state = TrainState()
        self.speed = Speed()
        if options.resume is not None:
            self._resume(options.resume)
        else:
            self._fresh()
        self.set_batch_size(options.batch_size or self.config.batch_size)

    # -- set-up ------------------------------------------------------------------------------------------------
    def _fresh(self) -> None:
        self.config = self.opt.config or CONFIGS["default"]
        self.out.mkdir(parents=True, exist_ok=True)
        self.train_docs, self.valid_docs = self._packed(self.opt.seed, reuse_any=False)
        if self.opt.init is not None:
            # Fine-tuning: the model's own tokenizer and shape; the config only shapes the examples.
            self.tokenizer = AutoTokenizer.from_pretrained(self.opt.init)
            self.model = DiffusionGemmaForBlockDiffusion.from_pretrained(self.opt.init, dtype=torch.float32)
        else:
            spec = SIZES[self.config.size]
            texts = tokenizer_sample(self.train_docs, self.config.tokenizer_mb, self.opt.seed)
            self.tokenizer = train_tokenizer_on_texts(texts, spec.vocab)
            self.model = new_diffusion_gemma(spec, len(self.tokenizer), seed=self.opt.seed)
        self.optimizer = self._optimizer()
        self.log_path.write_text("", encoding="utf-8")
        self._log(
            {
                "event": "start",
                "config": self.config.to_dict(),
                "seed": self.opt.seed,
                "init": str(self.opt.init) if self.opt.init else None,
                "sources": self.opt.sources,
                "train_files": len(self.train_docs),
                "valid_files": len(self.valid_docs),
            }
        )

    def _resume(self, checkpoint: Path) -> None:
        """Go on from OUT/checkpoint (exact: optimizer and all), or from an exported model such as the shipped one
        (its weights, tokenizer, recipe and counts; the optimizer starts afresh)."""
        if (checkpoint / STATE_FILE).exists():
            saved = torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=True)
            config, seed, state = json.loads(saved["config"]), int(saved["seed"]), json.loads(saved["state"])
        elif "train" in (notes := read_optional_json(checkpoint / DGLSP_FILE)):
            saved = None
            config, seed, state = notes["train"]["config"], notes["train"]["seed"], notes["train"]["state"]
        else:
            raise FileNotFoundError(
                f"no checkpoint at {checkpoint}: expected {STATE_FILE} (a run's checkpoint) or a model exported by "
                "dglsp train"
            )
        self.config = TrainConfig.from_dict(config)
        wanted = self.opt.config
        if wanted is not None and wanted != self.config:
            if wanted.size != self.config.size:
                raise ValueError(f"--config {wanted.size!r} has another shape than the checkpoint ({self.config.size})")
            self.config = wanted  # the same shape: a new recipe (bigger batch on a GPU) may go on from here
        self.opt.seed = seed
        self.state = TrainState(**state)
        if saved is None:
            self.state.schedule_start = self.state.step  # a fresh optimizer warms up again
            self.state.best_valid = None  # measured on another run's validation files: not comparable
        self.out.mkdir(parents=True, exist_ok=True)
        self.train_docs, self.valid_docs = self._packed(seed, reuse_any=True)
        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        self.model = DiffusionGemmaForBlockDiffusion.from_pretrained(checkpoint, dtype=torch.float32)
        self.optimizer = self._optimizer()
        if saved is not None:
            self.optimizer.load_state_dict(saved["optimizer"])
        self._log({"event": "resume", "step": self.state.step, "from": str(checkpoint)})

    def set_batch_size(self, size: int) -> None:
        self.config = replace(self.config, batch_size=size)
        self.maker = ExampleMaker(self.tokenizer, self.config, self.model.config.text_config.vocab_size)

    def _packed(self, seed: int, reuse_any: bool) -> tuple[Split, Split]:
        o = self.opt
        return packed(self.out, o.sources, seed, o.quiet, reuse_any, max(1, o.workers), o.max_files, o.held_out)

    def _optimizer(self) -> torch.optim.Optimizer:
        # On the device first: a loaded optimizer state then lands beside its parameters, where a fused step
        # needs it.
        self.model.to(self.device)
        return new_optimizer(self.model, self.config)

    # -- the loop ----------------------------------------------------------------------------------------------
    def run(self, every_step: Callable[[Trainer], None] | None = None) -> TrainState:
        """Train to the step or time limit, then checkpoint; `every_step` runs after each step (exports)."""
        target = self.opt.steps
        deadline = time.monotonic() + self.opt.minutes * 60 if self.opt.minutes else None
        bar = tqdm(total=target, initial=self.state.step, desc="train", unit="step", disable=self.opt.quiet)
        # `timeout`, a job scheduler or a closing terminal stop a run with SIGTERM (and background jobs ignore
        # Ctrl-C): either way the run ends through `finally` and saves its checkpoint.
        previous = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
        first = self.state.step
        stream = BatchStream(self.maker, self.train_docs, self.opt.seed, first, self.opt.workers)
        try:
            while (target is None or self.state.step < target) and (deadline is None or time.monotonic() < deadline):
                started, waited = time.monotonic(), stream.wait_seconds
                step, batch = next(stream)
                tokens = batch.tokens  # counted on the host: on the device, reading it would wait for the GPU
                loss, norm = self._step(step, batch.to(self.device))
                seconds = time.monotonic() - started
                self.state.step += 1
                self.state.tokens += tokens
                self.state.seconds += seconds
                self.speed.tokens += tokens
                self.speed.seconds += seconds
                self.speed.data_wait += stream.wait_seconds - waited
                bar.update(1)
                if self.state.step % 10 == 0 or self.state.step == first + 1:
                    self._log_step(step, loss.item(), float(norm), bar)
                if self.state.step % self.config.valid_every == 0:
                    self.validate()
                if self.state.step % self.config.checkpoint_every == 0:
                    self.save()
                if every_step is not None:
                    every_step(self)
        finally:
            stream.close()
            bar.close()
            self.save()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        return self.state

    def _step(self, step: int, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(step - self.state.schedule_start, self.config)
        autocast = self.opt.autocast if self.opt.autocast is not None else self.device.type == "cuda"
        return train_step(
            self.model, self.optimizer, batch, autocast, self.config.grad_clip, self.config.self_conditioning_rows
        )

    def _log_step(self, step: int, loss: float, norm: float, bar: tqdm) -> None:
        speed, wait = self.throughput()
        bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{speed:.0f}", data_wait=f"{wait:.0%}")
        self._log(
            {
                "event": "train",
                "step": self.state.step,
                "loss": round(loss, 4),
                "lr": lr_at(step - self.state.schedule_start, self.config),
                "grad_norm": round(norm, 3),
                "tokens": self.state.tokens,
                "seconds": round(self.state.seconds, 1),
                "tokens_per_s": round(speed),
                "data_wait": round(wait, 4),
            }
        )

    def throughput(self) -> tuple[float, float]:
        """This process's tokens per second of training, and the share of that time spent waiting for batches."""
        seconds = max(self.speed.seconds, 1e-9)
        return self.speed.tokens / seconds, self.speed.data_wait / seconds

    @torch.no_grad()
    def validate(self) -> dict:
        self.model.eval()
        losses, hits, slots = [], 0, 0
        for i in range(self.config.valid_batches):
            rng = np.random.default_rng([self.opt.seed, VALID_SEED + i])
            batch = self.maker.batch(self.valid_docs, rng).to(self.device)
            batch.self_conditioning = False
            loss, hit = loss_of(self.model, batch)
            content = batch.weight == 1.0  # middles and end-of-fill, not the pads after it
            losses.append(loss.item())
            hits += int((hit & content).sum())
            slots += int(content.sum())
        record = {
            "event": "valid",
            "step": self.state.step,
            "loss": round(float(np.mean(losses)), 4),
            "accuracy": round(hits / max(1, slots), 4),
            "tokens": self.state.tokens,
        }
        best = self.state.best_valid
        self.state.best_valid = record["loss"] if best is None else min(best, record["loss"])
        self._log(record)
        if not self.opt.quiet:
            tqdm.write(f"step {record['step']}: valid loss {record['loss']:.3f}, accuracy {record['accuracy']:.1%}")
        return record

    def save(self) -> Path:
        """Write the checkpoint beside the old one, then swap: an interrupted save never loses the last one."""
        final = self.out / CHECKPOINT
        tmp = self.out / f"{CHECKPOINT}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(tmp)
        self.tokenizer.save_pretrained(tmp)
        torch.save(
            {
                "optimizer": self.optimizer.state_dict(),
                "config": json.dumps(self.config.to_dict()),
                "state": json.dumps(vars(self.state)),
                "seed": self.opt.seed,
            },
            tmp / STATE_FILE,
        )
        old = self.out / f"{CHECKPOINT}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        return final

    def export(
        self,
        to: Path,
        card: str,
        sampler: SamplerConfig | None = None,
        dtype: torch.dtype | None = None,
        max_shard_size: int | None = None,
    ) -> Path:
        """The model directory dglsp serves; `sampler` (tuned with `dglsp bench`) becomes its generation config,
        `dtype` the weights' (bf16 ships at half the size)."""
        if sampler is not None:
            gen = self.model.generation_config
            for key, value in sampler.generation_config_keys().items():
                if key == "sampler_config":
                    gen.sampler_config.entropy_bound = value["entropy_bound"]
                else:
                    setattr(gen, key, value)
        notes = {
            "layout": "infill",
            "end_of_fill": END_OF_FILL,
            SELF_CONDITIONING: self.config.self_conditioning_rows,
            "trained": True,
            "steps": self.state.step,
            "tokens_seen": self.state.tokens,
            # What `dglsp train --resume MODEL_DIR` needs to go on from here.
            "train": {"config": self.config.to_dict(), "seed": self.opt.seed, "state": vars(self.state)},
        }
        for stale in to.glob("*.safetensors*") if to.is_dir() else ():
            stale.unlink()  # a shard count that changed must not leave old shards beside the new ones
        path = save_model_dir(self.model, self.tokenizer, to, notes, dtype=dtype, max_shard_size=max_shard_size)
        (path / "MODEL_CARD.md").write_text(card, encoding="utf-8")
        return path

    def _log(self, record: dict) -> None:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
