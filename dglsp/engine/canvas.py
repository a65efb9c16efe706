"""One canvas layout for every family: prefix state | [slots | fixed code | slots | ... | suffix]."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

BUCKETS = (16, 32, 64, 128, 256)
# The prefix is cut from the left in steps of this many tokens, so its first token stays put while the user
# types and the prefix cache keeps hitting.
PREFIX_CUT_STEP = 128
CHAT_SPARE = 8
# What a slot holds before the sampler draws its noise; the model never sees it.
FILLER = 0


def canvas_size(max_tokens: int, limit: int = BUCKETS[-1]) -> int:
    """Smallest bucket that holds `max_tokens` plus the end-of-fill token, at most `limit`."""
    need = max(1, max_tokens) + 1
    for size in BUCKETS:
        if size >= need:
            return min(size, limit)
    return min(BUCKETS[-1], limit)


@dataclass(frozen=True)
class Canvas:
    """The decoder sequence: `free` marks the slots the sampler fills; the rest are fixed tokens."""

    tokens: tuple[int, ...]
    free: tuple[bool, ...]
    holes: tuple[range, ...]

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class Layout:
    prefix: tuple[int, ...]  # what the prefix state must hold
    canvas: Canvas


@dataclass(frozen=True)
class SpecialIds:
    bos: int | None
    fim_prefix: int | None = None
    fim_suffix: int | None = None


def build_canvas(slots: list[int], between: list[list[int]], suffix: list[int]) -> Canvas:
    if len(slots) != len(between) + 1:
        raise ValueError(f"{len(slots)} holes need {len(slots) - 1} pieces of code between them")
    tokens: list[int] = []
    free: list[bool] = []
    holes: list[range] = []
    for i, size in enumerate(slots):
        holes.append(range(len(tokens), len(tokens) + size))
        tokens += [FILLER] * size
        free += [True] * size
        fixed = between[i] if i < len(between) else suffix
        tokens += fixed
        free += [False] * len(fixed)
    return Canvas(tuple(tokens), tuple(free), tuple(holes))


def lay_out(
    prefix: list[int],
    suffix: list[int],
    slots: list[int],
    special: SpecialIds,
    *,
    max_positions: int,
    between: list[list[int]] | None = None,
    layout: str = "infill",
    suffix_share: float = 0.25,
) -> Layout:
    """Fit prefix, holes and suffix into the model's positions, keeping the code nearest the gap."""
    between = between or []
    head = [] if special.bos is None else [special.bos]
    fixed_between = sum(len(b) for b in between)
    room = max_positions - sum(slots) - fixed_between - len(head)
    if room <= 0:
        raise ValueError(f"the canvas ({sum(slots)} slots) does not fit in {max_positions} positions")
    suffix = suffix[: max(0, int(room * suffix_share))]
    if layout == "prompt":
        if between:
            raise ValueError("several holes need the infill layout")
        if suffix and special.fim_prefix is not None and special.fim_suffix is not None:
            # Suffix first, so the prefix sits right before the canvas that continues it.
            head = [*head, special.fim_suffix, *suffix, special.fim_prefix]
        prefix = _keep_tail(prefix, max_positions - sum(slots) - len(head))
        return Layout(tuple(head + prefix), build_canvas(slots, [], []))
    prefix = _keep_tail(prefix, room - len(suffix))
    return Layout(tuple(head + prefix), build_canvas(slots, between, suffix))


def lay_out_chat(
    prefix: list[int],
    suffix: list[int],
    slots: int,
    render: Callable[[list[int], list[int]], list[int]],
    *,
    max_positions: int,
    pinned: bool,
    suffix_share: float = 0.25,
) -> Layout:
    """An instruction-tuned model's layout: `render(prefix, suffix)` is its chat prompt, which shows both sides of
    the gap, in the encoder; the canvas is its answer, with the suffix pinned after it when `pinned`."""
    # A few positions spare: tokens can merge differently where the code meets the template's text.
    overhead = len(render([], [])) + CHAT_SPARE
    room = max_positions - slots - overhead
    if room <= 0:
        raise ValueError(f"the chat prompt and the canvas ({slots} slots) do not fit in {max_positions} positions")
    suffix = suffix[: max(0, int(room * suffix_share))]
    prefix = _keep_tail(prefix, room - len(suffix) * (2 if pinned else 1))
    return Layout(tuple(render(prefix, suffix)), build_canvas([slots], [], suffix if pinned else []))


def _keep_tail(ids: list[int], budget: int) -> list[int]:
    if budget <= 0:
        return []
    if len(ids) <= budget:
        return ids
    drop = len(ids) - budget
    drop = -(-drop // PREFIX_CUT_STEP) * PREFIX_CUT_STEP
    return ids[drop:]
