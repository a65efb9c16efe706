"""Named training configurations: the model's shape (a `blank.SIZES` entry) and how its examples are drawn."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..models.self_conditioning import ROWS


@dataclass(frozen=True)
class TrainConfig:
    size: str  # model shape, from dglsp.models.blank.SIZES
    batch_size: int = 16
    lr: float = 1e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    prefix_tokens: int = 256  # longest prefix, bos included
    suffix_tokens: int = 96
    # Canvas sizes (the engine's buckets) and how often each is drawn.
    buckets: dict[int, float] = field(default_factory=lambda: {16: 0.15, 32: 0.3, 64: 0.4, 128: 0.15})
    # Kinds of gap: tree-sitter nodes, whole lines, rest of a line as typed, random character spans.
    span_kinds: dict[str, float] = field(
        default_factory=lambda: {"node": 0.45, "line": 0.2, "rest_of_line": 0.15, "random": 0.2}
    )
    empty_suffix: float = 0.1  # plain continuation at the end of the known text
    multi_hole: float = 0.1  # two or three holes in one canvas
    self_conditioning: float = 0.5  # share of batches trained with the previous pass's logits
    # Which rows read them: "slots" (fixed rows read their own token, so inference needs the head over the slots
    # only; models/self_conditioning.py) or "all" (every row; what runs from before this option go on with).
    self_conditioning_rows: str = "slots"
    pad_weight: float = 0.25  # loss weight of the pad slots after end-of-fill
    tokenizer_mb: int = 24  # how much training text the tokenizer is trained on
    valid_every: int = 100
    valid_batches: int = 8
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        if self.self_conditioning_rows not in ROWS:
            raise ValueError(f"self_conditioning_rows must be {' or '.join(ROWS)}, got {self.self_conditioning_rows!r}")

    def to_dict(self) -> dict:
        return {k: {str(b): w for b, w in v.items()} if k == "buckets" else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data.setdefault("self_conditioning_rows", "all")  # a run from before the option: as it was trained
        if "buckets" in data:
            data["buckets"] = {int(b): float(w) for b, w in data["buckets"].items()}
        return cls(**data)


CONFIGS = {
    # The shipped model. On a GPU, raise the batch with --batch-size; the shape stays, so a run only resumes.
    "default": TrainConfig(size="default"),
    # The same shape on a laptop-class CPU (about 40 GFLOP/s): shorter context, so more steps per hour.
    "default-cpu": TrainConfig(size="default", warmup_steps=100, prefix_tokens=128, suffix_tokens=64),
    # `dglsp train --round` on a GPU: the shipped shape, a batch that keeps an H200 busy (about 115k tokens a
    # step), and a peak learning rate raised for it. Validation and checkpoints are rare: the round exports by
    # the clock instead.
    "round": TrainConfig(
        size="default", batch_size=256, lr=2e-3, warmup_steps=200, valid_every=500, checkpoint_every=100_000
    ),
    # `dglsp train --round --rehearse`: the same round at toy scale on a CPU, in about a minute.
    "round-rehearsal": TrainConfig(
        size="default",
        batch_size=4,
        warmup_steps=5,
        prefix_tokens=64,
        suffix_tokens=16,
        buckets={16: 0.5, 32: 0.5},
        tokenizer_mb=1,
        valid_every=10,
        valid_batches=2,
        checkpoint_every=100_000,
    ),
    # Seconds on a CPU: what the tests train.
    "smoke": TrainConfig(
        size="tiny",
        batch_size=4,
        warmup_steps=5,
        prefix_tokens=64,
        suffix_tokens=16,
        buckets={16: 0.5, 32: 0.5},
        tokenizer_mb=1,
        valid_every=5,
        valid_batches=2,
        checkpoint_every=5,
    ),
}
