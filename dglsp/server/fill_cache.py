"""Recent fills, served again when the same gap comes back or when the user types what was suggested."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

TAIL = 512  # prefix characters that must match, besides the prefix length


@dataclass(frozen=True)
class Entry:
    prefix_len: int
    prefix_tail: str
    suffix: str
    fill: str
    score: float | None = None  # the fill's confidence score


class FillCache:
    def __init__(self, size: int = 64, suffix_chars: int = 1024) -> None:
        self.size = size
        self.suffix_chars = suffix_chars
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def put(self, scope: tuple, prefix: str, suffix: str, fill: str, score: float | None = None) -> None:
        """`scope` holds whatever else decides the fill (model, sampler settings, gap kind, budget)."""
        entry = Entry(len(prefix), prefix[-TAIL:], suffix[: self.suffix_chars], fill, score)
        key = (scope, entry.prefix_len, entry.prefix_tail, entry.suffix)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def get(self, scope: tuple, prefix: str, suffix: str) -> str | None:
        """The fill for this gap, or the rest of a cached fill whose start the user has since typed."""
        found = self.lookup(scope, prefix, suffix)
        return None if found is None else found[0]

    def lookup(self, scope: tuple, prefix: str, suffix: str) -> tuple[str, float | None] | None:
        """`get`, with the confidence score of the fill it comes from."""
        suffix = suffix[: self.suffix_chars]
        for key in reversed(self._entries):
            entry = self._entries[key]
            if key[0] != scope or entry.suffix != suffix:
                continue
            typed = len(prefix) - entry.prefix_len
            if not 0 <= typed < max(1, len(entry.fill)):
                continue
            start = entry.prefix_len - len(entry.prefix_tail)
            if (
                prefix[start : entry.prefix_len] == entry.prefix_tail
                and prefix[entry.prefix_len :] == entry.fill[:typed]
            ):
                self._entries.move_to_end(key)
                return entry.fill[typed:], entry.score
        return None
