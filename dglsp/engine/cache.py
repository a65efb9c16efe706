"""Prefix KV cache: typing at the cursor re-encodes only the few tokens that changed."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from ..models.base import Denoiser, PrefixState


def common_length(a: list[int] | tuple[int, ...], b: list[int] | tuple[int, ...]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """LRU of encoded prefixes, bounded by bytes and entries.

    `state_for(ids)` starts from the entry sharing the longest start with `ids`, keeps that shared part (a
    zero-copy fork), and encodes only the rest. An entry that the new prefix merely extends is replaced.
    """

    def __init__(
        self,
        denoiser: Denoiser,
        max_bytes: int = 512 << 20,
        max_entries: int = 16,
        before_encode: Callable[[int, int], None] | None = None,
    ) -> None:
        self.denoiser = denoiser
        self.before_encode = before_encode  # (new, cached) tokens: may refuse an encoder pass that cannot fit
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._entries: OrderedDict[int, PrefixState] = OrderedDict()
        self._next_key = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def state_for(self, ids: list[int] | tuple[int, ...]) -> PrefixState:
        ids = list(ids)
        best_key, best_len = None, 0
        for key, entry in self._entries.items():
            n = common_length(entry.ids, ids)
            if n > best_len:
                best_key, best_len = key, n
        if self.before_encode is not None:  # before the entry is touched: a refusal keeps the cache as it was
            self.before_encode(len(ids) - best_len, best_len)
        if best_key is None:
            self.misses += 1
            state = self.denoiser.new_state()
        else:
            self.hits += 1
            entry = self._entries[best_key]
            state = self.denoiser.fork(entry, best_len)
            if best_len == len(entry.ids):
                del self._entries[best_key]  # the new prefix only extends it
        self.denoiser.extend(state, ids[best_len:])
        self._insert(state)
        return state

    def clear(self) -> None:
        self._entries.clear()

    def _insert(self, state: PrefixState) -> None:
        self._entries[self._next_key] = state
        self._next_key += 1
        total = sum(self.denoiser.state_bytes(s) for s in self._entries.values())
        while len(self._entries) > 1 and (len(self._entries) > self.max_entries or total > self.max_bytes):
            _, dropped = self._entries.popitem(last=False)
            total -= self.denoiser.state_bytes(dropped)
