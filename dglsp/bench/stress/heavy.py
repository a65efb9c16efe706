"""Documents and traffic an editor can produce that a soak never does: huge, long, binary, bursts, versions out of
order, positions inside surrogate pairs; a fresh server per case."""

from __future__ import annotations

import time

from tqdm import tqdm

from ..wire import INLINE, Silent, Wire, inline_params
from .phase import Phase, Server


def heavy(options: dict, progress: bool = True) -> Phase:
    """Documents and traffic an editor can produce: huge, long, binary, bursts, versions out of order, and
    positions inside surrogate pairs in each encoding."""
    phase = Phase("heavy")
    start = time.perf_counter()
    jobs = [
        ("10 MB document", "utf-16", lambda w: _big_doc(w, "x = 1  # " + "a" * 80 + "\n", 10 << 20)),
        ("100k-line document", "utf-16", lambda w: _big_doc(w, "y = 2\n", 100_000 * 6)),
        ("NUL and binary text", "utf-16", _binary_doc),
        ("1000 didChange in a burst", "utf-16", lambda w: _burst(w, 1000)),
        ("versions out of order", "utf-16", _out_of_order),
        *((f"surrogate positions, {encoding}", encoding, _surrogates) for encoding in ("utf-8", "utf-16", "utf-32")),
    ]
    for name, encoding, job in tqdm(jobs, desc="heavy", unit="case", disable=not progress):
        server = Server(options, encoding)
        server.wait_ready()
        began = time.perf_counter()
        try:
            detail = job(server.wire)
        except (Silent, BrokenPipeError, OSError) as exc:
            detail = f"no answer: {exc}"
        took = (time.perf_counter() - began) * 1000
        outcome = server.probe()
        phase.cases += 1
        phase.crashes += outcome == "crash"
        phase.hangs += outcome == "hang"
        phase.latencies.append((time.perf_counter() - start, took))
        phase.rss_mb.append((phase.cases, server.wire.rss_mb()))
        phase.notes.append(f"{name}: {outcome}, {took:.0f} ms, {detail}")
        server.close()
    phase.seconds = time.perf_counter() - start
    return phase


def _answer_kind(answer: dict) -> str:
    if "error" in answer:
        return f"error {answer['error']['code']}: {answer['error']['message'][:70]}"
    items = (answer.get("result") or {}).get("items", [])
    return f"{len(items)} item(s)"


def _big_doc(wire: Wire, line: str, chars: int) -> str:
    text = line * (chars // len(line))
    wire.open("file:///big.py", text)
    lines = text.count("\n")
    answer = wire.request(INLINE, inline_params("file:///big.py", lines // 2, 0), timeout=60)
    return f"{len(text) >> 10} KiB, {lines} lines; inline at the middle: {_answer_kind(answer)}"


def _binary_doc(wire: Wire) -> str:
    binary = bytes(range(256)).decode("latin-1").replace("\n", "").replace("\r", "")
    wire.open("file:///bin.py", "x = 1\n\x00\ufffd\udcff" + binary + "\ny = ")
    return "inline at the end: " + _answer_kind(wire.request(INLINE, inline_params("file:///bin.py", 2, 4), timeout=60))


def _burst(wire: Wire, n: int) -> str:
    wire.open("file:///burst.py", "")
    began = time.perf_counter()
    for version in range(2, n + 2):
        change = {
            "range": {"start": {"line": 0, "character": version - 2}, "end": {"line": 0, "character": version - 2}}
        }
        wire.notify("textDocument/didChange", {"textDocument": {"uri": "file:///burst.py", "version": version},
                                               "contentChanges": [{**change, "text": "a"}]})  # fmt: skip
    sent = (time.perf_counter() - began) * 1000
    answer = wire.request(INLINE, inline_params("file:///burst.py", 0, n), timeout=60)
    return f"{n} changes sent in {sent:.0f} ms; then inline at the end: {_answer_kind(answer)}"


def _out_of_order(wire: Wire) -> str:
    wire.open("file:///v.py", "a = 1\n", version=5)
    wire.notify("textDocument/didChange", {"textDocument": {"uri": "file:///v.py", "version": 3},
                                           "contentChanges": [{"text": "b = 2\n"}]})  # fmt: skip
    return "inline after a change back to version 3: " + _answer_kind(
        wire.request(INLINE, inline_params("file:///v.py", 0, 0), timeout=60)
    )


def _surrogates(wire: Wire) -> str:
    wire.open("file:///emoji.py", "s = '😋😋'\nt = ")
    kinds = [
        _answer_kind(wire.request(INLINE, inline_params("file:///emoji.py", 0, c), timeout=60)) for c in range(4, 10)
    ]
    return "inline at each character of '😋😋': " + "; ".join(kinds)
