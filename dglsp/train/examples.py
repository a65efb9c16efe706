"""Training examples in the engine's infill layout, and their noised batches.

An example is what the engine builds for a fill: the encoder gets [bos | prefix]; the decoder gets the canvas
(each hole: the middle, end-of-fill, pad) with the code between holes and the suffix fixed after it. A middle
longer than its hole is cut, without end-of-fill: the engine's next block continues it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch

from ..engine.canvas import BUCKETS, build_canvas
from ..models.tokenizer import BOS, END_OF_FILL, PAD
from .config import TrainConfig
from .spans import Span, as_lines, line_span, random_span

CHARS_PER_TOKEN = 6  # generous: text cut before tokenizing must still fill the token budget


@dataclass(frozen=True)
class Example:
    prefix: list[int]  # bos first
    decoder: list[int]  # the clean decoder sequence: canvas targets, code between holes, suffix
    free: list[bool]  # canvas slots: noised and scored
    pad: list[bool]  # canvas slots after end-of-fill


@dataclass
class Batch:
    prefix: torch.Tensor  # (B, P), left-padded
    prefix_mask: torch.Tensor
    prefix_pos: torch.Tensor
    clean: torch.Tensor  # (B, D), right-padded
    noised: torch.Tensor
    decoder_mask: torch.Tensor  # (B, P + D): which cached and decoder positions are real
    decoder_pos: torch.Tensor
    weight: torch.Tensor  # (B, D): loss weight, 0 outside the canvas
    free: torch.Tensor  # (B, D): the canvas slots (noised and scored)
    self_conditioning: bool

    def to(self, device: torch.device) -> Batch:
        """On a GPU through pinned memory, so the copy overlaps the step before it (and fails on step one if
        pinning does)."""
        cuda = device.type == "cuda"
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.pin_memory().to(device, non_blocking=True) if cuda else value.to(device))
        return self

    @property
    def tokens(self) -> int:
        return int(self.decoder_mask.sum())  # prefix and decoder positions


class Split:
    """A packed split: texts and their tree-sitter spans, written once and read on every resume."""

    def __init__(self, texts: list[str], spans: list[np.ndarray]) -> None:
        if not texts:
            raise ValueError("no documents: the corpus is empty")
        self.texts, self.spans = texts, spans
        self.cum = np.cumsum([len(t) for t in texts])

    def __len__(self) -> int:
        return len(self.texts)

    def pick(self, rng: np.random.Generator) -> int:
        """A document, drawn in proportion to its length."""
        return int(np.searchsorted(self.cum, rng.integers(int(self.cum[-1])), side="right"))

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        with open(path / "texts.jsonl", "w", encoding="utf-8") as out:
            for text in self.texts:
                out.write(json.dumps(text) + "\n")
        lengths = np.array([len(s) for s in self.spans], dtype=np.int64)
        np.savez(path / "spans.npz", spans=np.concatenate(self.spans).reshape(-1, 3), lengths=lengths)

    @classmethod
    def load(cls, path: Path) -> Split:
        with open(path / "texts.jsonl", encoding="utf-8") as f:
            texts = [json.loads(line) for line in f]
        data = np.load(path / "spans.npz")
        spans = np.split(data["spans"], np.cumsum(data["lengths"])[:-1])
        return cls(texts, spans)


class ExampleMaker:
    def __init__(self, tokenizer, config: TrainConfig, vocab_size: int) -> None:
        self.tok = tokenizer
        self.cfg = config
        self.vocab_size = vocab_size
        vocab = tokenizer.get_vocab()
        self.bos, self.pad, self.end = vocab[BOS], vocab[PAD], vocab[END_OF_FILL]
        self.buckets = np.array(sorted(config.buckets))
        self.bucket_p = np.array([config.buckets[b] for b in self.buckets]) / sum(config.buckets.values())
        self.kinds = list(config.span_kinds)
        self.kind_p = np.array([config.span_kinds[k] for k in self.kinds]) / sum(config.span_kinds.values())

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False) if text else []

    def batch(self, docs: Split, rng: np.random.Generator) -> Batch:
        canvas = int(rng.choice(self.buckets, p=self.bucket_p))
        examples = [self.example(docs, rng, canvas) for _ in range(self.cfg.batch_size)]
        return self.collate(examples, rng, self_conditioning=bool(rng.random() < self.cfg.self_conditioning))

    def example(self, docs: Split, rng: np.random.Generator, canvas: int) -> Example:
        doc = docs.pick(rng)
        text = docs.texts[doc]
        roll = rng.random()
        if roll < self.cfg.empty_suffix:
            return self._continuation(text, rng, canvas)
        if roll < self.cfg.empty_suffix + self.cfg.multi_hole:
            holes = self._multi_hole(text, rng)
            if holes:
                return holes
        return self._single(text, docs.spans[doc], rng, canvas)

    def _prefix(self, text: str) -> list[int]:
        ids = self.encode(text[-(self.cfg.prefix_tokens * CHARS_PER_TOKEN) :])
        return [self.bos, *ids[len(ids) - (self.cfg.prefix_tokens - 1) :]] if ids else [self.bos]

    def _suffix(self, text: str) -> list[int]:
        return self.encode(text[: self.cfg.suffix_tokens * CHARS_PER_TOKEN])[: self.cfg.suffix_tokens]

    def _hole(self, middle: list[int], size: int) -> tuple[list[int], list[bool]]:
        if len(middle) >= size:
            return middle[:size], [False] * size
        pads = size - len(middle) - 1
        return [*middle, self.end] + [self.pad] * pads, [False] * (len(middle) + 1) + [True] * pads

    def _draw_span(self, text: str, spans: np.ndarray, rng: np.random.Generator) -> Span:
        kind = self.kinds[int(rng.choice(len(self.kinds), p=self.kind_p))]
        if kind == "node" and len(spans):
            start, end, _ = spans[int(rng.integers(len(spans)))]
            span = Span(int(start), int(end))
            return as_lines(text, span) if rng.random() < 0.5 else span
        if kind in ("line", "rest_of_line", "node"):
            return line_span(text, rng, whole=kind != "rest_of_line")
        return random_span(text, rng, 120)

    def _single(self, text: str, spans: np.ndarray, rng: np.random.Generator, canvas: int) -> Example:
        for _ in range(4):  # prefer a gap that fits: a cut middle teaches continuation, not infilling
            span = self._draw_span(text, spans, rng)
            middle = self.encode(text[span.start : span.end])
            if len(middle) < canvas:
                break
        return self._lay_out(text[: span.start], [middle], [], text[span.end :], canvas)

    def _continuation(self, text: str, rng: np.random.Generator, canvas: int) -> Example:
        at = int(rng.integers(len(text)))
        if rng.random() < 0.7:
            at = text.rfind("\n", 0, at) + 1
        # Wide enough that a window cut short of the file's end always holds a whole canvas.
        return self._lay_out(text[:at], [self.encode(text[at : at + canvas * 32])], [], "", canvas)

    def _multi_hole(self, text: str, rng: np.random.Generator) -> Example | None:
        """Two or three lines near each other, each its own hole; every hole the same size, as the engine lays."""
        first = line_span(text, rng, whole=True)
        window = text[first.start : first.start + 800]
        lines = [i for i, line in enumerate(window.splitlines(keepends=True)) if line.strip()]
        count = int(rng.integers(2, 4))
        if len(lines) < count:
            return None
        picked = sorted(rng.choice(lines, size=count, replace=False))
        offsets = np.cumsum([0] + [len(s) for s in window.splitlines(keepends=True)])
        spans = []
        for i in picked:
            start, end = first.start + int(offsets[i]), first.start + int(offsets[i + 1])
            if rng.random() < 0.5:  # as typed: after the indentation, without the newline
                line = text[start:end]
                start, end = start + len(line) - len(line.lstrip()), start + len(line.rstrip("\n"))
            spans.append(Span(start, end))
        middles = [self.encode(text[s.start : s.end]) for s in spans]
        need = max(len(m) for m in middles) + 1
        size = next((b for b in BUCKETS if b >= need), None)
        if size is None or size > max(self.buckets):
            return None
        between = [text[left.end : right.start] for left, right in pairwise(spans)]
        return self._lay_out(text[: spans[0].start], middles, between, text[spans[-1].end :], size)

    def _lay_out(self, before: str, middles: list[list[int]], between: list[str], after: str, size: int) -> Example:
        """The engine's canvas (`build_canvas`), its holes holding the middles: what a fill of this gap sees."""
        canvas = build_canvas([size] * len(middles), [self.encode(b) for b in between], self._suffix(after))
        tokens, pad = list(canvas.tokens), [False] * len(canvas)
        for hole, middle in zip(canvas.holes, middles, strict=True):
            tokens[hole.start : hole.stop], pad[hole.start : hole.stop] = self._hole(middle, size)
        return Example(self._prefix(before), tokens, list(canvas.free), pad)

    def collate(self, examples: list[Example], rng: np.random.Generator, self_conditioning: bool) -> Batch:
        b = len(examples)
        p = max(len(e.prefix) for e in examples)
        d = max(len(e.decoder) for e in examples)
        prefix = np.full((b, p), self.pad, dtype=np.int64)
        prefix_mask = np.zeros((b, p), dtype=np.int64)
        clean = np.full((b, d), self.pad, dtype=np.int64)
        dec_mask = np.zeros((b, d), dtype=np.int64)
        free = np.zeros((b, d), dtype=bool)
        weight = np.zeros((b, d), dtype=np.float32)
        for i, e in enumerate(examples):
            prefix[i, p - len(e.prefix) :] = e.prefix
            prefix_mask[i, p - len(e.prefix) :] = 1
            clean[i, : len(e.decoder)] = e.decoder
            dec_mask[i, : len(e.decoder)] = 1
            free[i, : len(e.free)] = e.free
            weight[i, : len(e.free)] = np.where(e.pad, self.cfg.pad_weight, 1.0) * np.array(e.free)
        # Uniform-state noise: each canvas slot becomes a random token with probability t; t=1 is the first step.
        t = np.where(rng.random(b) < 0.1, 1.0, rng.random(b))[:, None]
        noise = rng.integers(0, self.vocab_size, size=(b, d))
        noised = np.where(free & (rng.random((b, d)) < t), noise, clean)
        lengths = prefix_mask.sum(1, keepdims=True)
        prefix_pos = np.maximum(np.arange(p)[None] - (p - lengths), 0)
        return Batch(
            prefix=torch.from_numpy(prefix),
            prefix_mask=torch.from_numpy(prefix_mask),
            prefix_pos=torch.from_numpy(prefix_pos),
            clean=torch.from_numpy(clean),
            noised=torch.from_numpy(noised),
            decoder_mask=torch.from_numpy(np.concatenate([prefix_mask, dec_mask], axis=1)),
            decoder_pos=torch.from_numpy(lengths + np.arange(d)[None]),
            weight=torch.from_numpy(weight),
            free=torch.from_numpy(free),
            self_conditioning=self_conditioning,
        )
