"""`dglsp bench --stress`: the real server under fuzzing (hypothesis over raw JSON-RPC), heavy documents, bursts,
and a soak of mixed editor traffic. Counts crashes, hangs (no answer to a cheap request within 2 s), errors,
latency over time and memory over time."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from ..report.plots import save_plot
from ..report.tables import render_table
from .wire import INLINE, Closed, Silent, Wire, inline_params

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PROBE_S = 2.0  # a cheap request must be answered this fast, or the server counts as hung
EXIT_S = 10.0  # a server that closed its output must be gone this soon
METHODS = (
    "initialize", "initialized", "shutdown", "exit", "textDocument/didOpen", "textDocument/didChange",
    "textDocument/didClose", INLINE, "textDocument/completion", "textDocument/codeAction", "codeAction/resolve",
    "workspace/didChangeConfiguration", "workspace/executeCommand", "$/cancelRequest", "dglsp/stats", "dglsp/nope",
)  # fmt: skip
EXPECTED_ERRORS = {-32800, -32801}  # RequestCancelled, ContentModified: the protocol working, not failing
DOC = "def area(w, h):\n    return w * h\n\n\nclass Shape:\n    def __init__(self, name):\n        self.name = name\n"


@dataclass
class Phase:
    name: str
    cases: int = 0
    crashes: int = 0
    hangs: int = 0
    errors: int = 0
    seconds: float = 0.0
    rss_mb: list[tuple[int, float]] = field(default_factory=list)  # (case or request, MB)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, ms)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        rss = [mb for _, mb in self.rss_mb]
        ms = [m for _, m in self.latencies]
        out = {
            "phase": self.name,
            "cases": self.cases,
            "crashes": self.crashes,
            "hangs": self.hangs,
            "errors": self.errors,
            "seconds": round(self.seconds, 1),
            "rss_start_mb": round(rss[0], 1) if rss else None,
            "rss_end_mb": round(rss[-1], 1) if rss else None,
            "rss_growth_mb": round(rss[-1] - rss[0], 1) if rss else None,
        }
        if ms:
            p50, p95 = np.percentile(ms, [50, 95])
            out |= {"p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1)}
        return out


class Server:
    """A `dglsp --stdio` that is restarted when it dies, counting the deaths."""

    def __init__(self, options: dict, encoding: str = "utf-16") -> None:
        self.options, self.encoding = options, encoding
        self.wire = self._start()

    def _start(self) -> Wire:
        wire = Wire()
        caps = {"general": {"positionEncodings": [self.encoding]}}
        wire.request("initialize", {"capabilities": caps, "initializationOptions": self.options})
        wire.notify("initialized", {})
        return wire

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Until the model has loaded, so a case's time is the case's, not the load's."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if self.wire.request("dglsp/stats", timeout=30)["result"]["model"]["state"] in ("ready", "error"):
                return
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.wire.proc.poll() is None

    def probe(self) -> str:
        """ok, hang or crash: a cheap request, answered within PROBE_S."""
        if not self.alive():
            return "crash"
        try:
            answer = self.wire.request("dglsp/stats", timeout=PROBE_S)
            return "shut down" if answer.get("error", {}).get("code") == -32600 else "ok"
        except Closed:
            # On its way out (told to exit, or dying): about a second of teardown with torch loaded is not a hang.
            try:
                self.wire.proc.wait(timeout=EXIT_S)
            except subprocess.TimeoutExpired:
                return "hang"
            return "crash"
        except Silent:
            return "crash" if not self.alive() else "hang"
        except (BrokenPipeError, OSError):
            return "crash"

    def restart(self) -> None:
        self.wire.close()
        self.wire = self._start()

    def close(self) -> None:
        self.wire.close()


def _message_strategy():
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=12,
    )
    position = st.fixed_dictionaries(
        {"line": st.integers(-3, 2**33), "character": st.integers(-3, 2**33)}
    ) | st.fixed_dictionaries({"line": st.integers(0, 12), "character": st.integers(0, 40)})
    uri = st.sampled_from(["file:///fuzz/a.py", "file:///fuzz/b.rs", "untitled:x", "file:///nope.py", ""])
    text = st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    version = st.integers(-2, 2**31)
    change = st.fixed_dictionaries({"range": st.fixed_dictionaries({"start": position, "end": position}), "text": text})
    msg_id = st.integers(1, 10**6) | st.text(max_size=8) | st.none() | st.booleans()
    messages = st.one_of(
        st.builds(lambda m, p, i: {"jsonrpc": "2.0", "id": i, "method": m, "params": p},
                  st.sampled_from(METHODS), json_values, msg_id),
        st.builds(lambda u, p: {"jsonrpc": "2.0", "id": 1, "method": INLINE,
                                "params": {"textDocument": {"uri": u}, "position": p, "context": {"triggerKind": 1}}},
                  uri, position),
        st.builds(lambda u, t, v, lang: {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
                      "textDocument": {"uri": u, "languageId": lang, "version": v, "text": t}}},
                  uri, text, version, st.sampled_from(["python", "rust", "brainfuck", ""])),
        st.builds(lambda u, v, c: {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                      "textDocument": {"uri": u, "version": v}, "contentChanges": c}},
                  uri, version, st.lists(change | st.fixed_dictionaries({"text": text}), max_size=3)),
        json_values,  # anything at all as a message
    )  # fmt: skip
    framed = messages.map(lambda m: _frame(json.dumps(m).encode()))
    junk = st.binary(max_size=120) | st.builds(lambda n, b: b"Content-Length: %d\r\n\r\n" % n + b,
                                               st.integers(0, 64), st.binary(max_size=64))  # fmt: skip
    return st.lists(framed | junk, min_size=1, max_size=6)


def _frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def fuzz(options: dict, cases: int, seed: int = 0, progress: bool = True) -> Phase:
    """Random message sequences, each followed by a probe; a dead server is counted and restarted."""
    from hypothesis import HealthCheck, given, settings

    phase = Phase("fuzz")
    server = Server(options)
    start = time.perf_counter()
    bar = tqdm(total=cases, desc="fuzz", unit="case", disable=not progress)

    @settings(max_examples=cases, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(_message_strategy())
    def case(chunks: list[bytes]) -> None:
        phase.cases += 1
        try:
            for chunk in chunks:
                server.wire.raw(chunk)
            # A body shorter than its Content-Length waits for bytes that never come; any framed reader does.
            # Close the frame with spaces (JSON whitespace), as the next message of a real client would.
            server.wire.raw(b" " * 256)
        except (BrokenPipeError, OSError):
            pass
        outcome = server.probe()
        told_to_exit = any(b'"exit"' in c for c in chunks) and server.wire.proc.returncode in (0, 1)
        if outcome == "crash" and not told_to_exit:
            phase.crashes += 1
        elif outcome == "hang":
            phase.hangs += 1
        if outcome != "ok":  # a fuzzed shutdown or exit is obeyed: start a fresh server for the next case
            if outcome != "shut down" and not told_to_exit:
                phase.notes.append(f"{outcome} after {[c[:80] for c in chunks]}")
            server.restart()
        if phase.cases % 25 == 0:
            phase.rss_mb.append((phase.cases, server.wire.rss_mb()))
        bar.update()

    case()
    bar.close()
    phase.rss_mb.append((phase.cases, server.wire.rss_mb()))
    phase.seconds = time.perf_counter() - start
    server.close()
    return phase


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


# The soak's traffic: how often each kind of request comes, as a user typing makes them.
SOAK_MIX = {"type": 30, "inline-auto": 25, "inline": 15, "completion": 10, "action": 8, "cancel": 8, "settings": 4}
TYPED = ["x", " ", "(", ")", "\n    ", "a1", "#"]
RSS_EVERY = 100  # soak requests between two samples of the server's memory


@dataclass
class SoakDocument:
    """The soak's one open document, kept as the server should have it after each change sent."""

    wire: Wire
    uri: str = "file:///soak.py"
    text: str = DOC
    version: int = 1

    def __post_init__(self) -> None:
        self.wire.open(self.uri, self.text)

    def type(self, piece: str, line: int, column: int) -> None:
        self.version += 1
        at = {"line": line, "character": column}
        self.wire.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                         "contentChanges": [{"range": {"start": at, "end": at}, "text": piece}]})  # fmt: skip
        lines = self.text.split("\n")
        lines[line] += piece
        self.text = "\n".join(lines)
        if self.text.count("\n") > 60:  # keep the buffer a working size: start over
            self.version += 1
            self.text = DOC
            self.wire.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                        "contentChanges": [{"text": self.text}]})  # fmt: skip


def soak(options: dict, requests: int, minutes: float, seed: int = 0, progress: bool = True) -> Phase:
    """Mixed traffic as a user typing makes it: edits with automatic requests, invoked requests, completions,
    code actions and their resolve, cancels, settings changes. Every answer is checked; time-bounded."""
    phase = Phase("soak")
    rng = random.Random(seed)
    server = Server(options)
    server.wait_ready()
    doc = SoakDocument(server.wire)
    start = time.perf_counter()
    deadline = start + minutes * 60
    bar = tqdm(total=requests, desc="soak", unit="req", disable=not progress)
    while phase.cases < requests and time.perf_counter() < deadline:
        kind = rng.choices(list(SOAK_MIX), list(SOAK_MIX.values()))[0]
        line = rng.randrange(doc.text.count("\n") + 1)
        column = len(doc.text.split("\n")[line])
        began = time.perf_counter()
        try:
            answer = soak_step(doc, kind, line, column, rng, options)
        except Silent as exc:
            phase.hangs += 1
            phase.notes.append(f"{kind}: {exc}")
            phase.crashes += not server.alive()
            server.restart()
            doc = SoakDocument(server.wire)
            continue
        error = answer.get("error")
        if error and error.get("code") not in EXPECTED_ERRORS:
            phase.errors += 1
            phase.notes.append(f"{kind}: error {error}")
        phase.cases += 1
        if kind != "type":  # an edit is a notification: nothing to time
            phase.latencies.append((time.perf_counter() - start, (time.perf_counter() - began) * 1000))
        if phase.cases % RSS_EVERY == 0:
            phase.rss_mb.append((phase.cases, doc.wire.rss_mb()))
        bar.update()
    bar.close()
    phase.rss_mb.append((phase.cases, doc.wire.rss_mb()))
    phase.seconds = time.perf_counter() - start
    server.close()
    return phase


def soak_step(doc: SoakDocument, kind: str, line: int, column: int, rng: random.Random, options: dict) -> dict:
    """One request of the mix at (line, column); the server's answer, {} for an edit (a notification)."""
    wire, uri = doc.wire, doc.uri
    if kind == "type":
        doc.type(rng.choice(TYPED), line, column)
        return {}
    if kind in ("inline", "inline-auto"):
        return wire.request(INLINE, inline_params(uri, line, column, invoked=kind == "inline"), timeout=60)
    if kind == "completion":
        position = {"line": line, "character": column}
        return wire.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": position}, timeout=60)
    if kind == "action":
        return _code_action(wire, uri, line, column)
    if kind == "cancel":
        return _cancelled_inline(wire, uri, line, column)
    wire.notify("workspace/didChangeConfiguration",
                {"settings": {"dglsp": {**options, "debounceMs": rng.choice([0, 50, 75])}}})  # fmt: skip
    return wire.request("dglsp/stats", timeout=PROBE_S)


def _code_action(wire: Wire, uri: str, line: int, column: int) -> dict:
    """The code actions on a line, and the first one resolved when it comes without its edit."""
    rng_range = {"start": {"line": line, "character": 0}, "end": {"line": line, "character": column}}
    answer = wire.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": rng_range,
                          "context": {"diagnostics": []}}, timeout=60)  # fmt: skip
    actions = answer.get("result") or []
    if actions and "data" in actions[0] and "edit" not in actions[0]:
        answer = wire.request("codeAction/resolve", actions[0], timeout=120)
    return answer


def _cancelled_inline(wire: Wire, uri: str, line: int, column: int) -> dict:
    """An inline request cancelled as soon as it is sent: its answer, a result or RequestCancelled."""
    wire.next_id += 1
    msg_id = wire.next_id
    wire.send({"jsonrpc": "2.0", "id": msg_id, "method": INLINE, "params": inline_params(uri, line, column)})
    wire.notify("$/cancelRequest", {"id": msg_id})
    return wire.answer(msg_id, timeout=60)


def drift(phase: Phase, windows: int = 5) -> list[tuple[float, float]]:
    """p95 latency in equal slices of the run: flat means no drift."""
    ms = [m for _, m in phase.latencies]
    if len(ms) < windows:
        return []
    size = len(ms) // windows
    return [tuple(np.percentile(ms[i * size : (i + 1) * size], [50, 95])) for i in range(windows)]


def table(phases: list[Phase]) -> str:
    rows = [p.summary() for p in phases]
    keys = ["phase", "cases", "crashes", "hangs", "errors", "seconds", "p50_ms", "p95_ms", "rss_start_mb",
            "rss_end_mb", "rss_growth_mb"]  # fmt: skip
    lines = [render_table([keys, *[[str(r.get(k, "")) for k in keys] for r in rows]])]
    for phase in phases:
        if phase.name == "soak" and (slices := drift(phase)):
            lines.append("soak p50/p95 ms by fifth of the run: " + ", ".join(f"{a:.0f}/{b:.0f}" for a, b in slices))
        lines += [f"  {phase.name}: {note}" for note in phase.notes[:20]]
    return "\n".join(lines)


def plot(phases: list[Phase], path: Path) -> bool:
    """The soak's latency and memory over the run; False without a soak or without matplotlib."""
    soak_phase = next((p for p in phases if p.name == "soak" and p.latencies), None)
    if soak_phase is None:
        return False
    return save_plot(path, lambda axes: _draw_soak(axes, soak_phase), nrows=2, ncols=1, figsize=(9, 6))


def _draw_soak(axes: Sequence[Axes], phase: Phase) -> None:
    top, bottom = axes
    t, ms = zip(*phase.latencies, strict=True)
    top.scatter(t, ms, s=4)
    top.set(ylabel="request ms", yscale="log", title="dglsp soak: latency and memory over the run")
    n, mb = zip(*phase.rss_mb, strict=True)
    bottom.plot(n, mb)
    bottom.set(xlabel="requests", ylabel="server RSS MB")
