"""The soak: a workday of editor traffic against one server, checked answer by answer, with the server's memory,
threads, open files and caches sampled over the run (from `dglsp/stats`' footprint).

Typing in several documents at once, opens and closes, automatic and invoked inline requests, completions, code
actions with resolve, the command path with its workspace/applyEdit, cancels, settings changes, `dglsp.toml` edits
and model reloads."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..wire import INLINE, Silent, Wire, inline_params
from .phase import EXPECTED_ERRORS, PROBE_S, Phase, Server

# How often each kind of request comes, as a user typing in a few files makes them.
SOAK_MIX = {
    "type": 30, "inline-auto": 22, "inline": 12, "completion": 9, "action": 8, "cancel": 7, "settings": 3,
    "command": 2, "close": 2, "open": 2, "toml": 1, "reload": 0.2,
}  # fmt: skip
TYPED = ["x", " ", "(", ")", "\n    ", "a1", "#"]
SAMPLE_EVERY = 100  # soak requests between two samples of the server's footprint
DOCS = {
    "a.py": ("python", "def area(w, h):\n    return w * h\n\n\nclass Shape:\n    def __init__(self, name):\n"
             "        self.name = name\n"),
    "b.py": ("python", "import math\n\n\ndef scale(x):\n    y = ...\n    return y\n"),
    "c.rs": ("rust", "fn area(r: f64) -> f64 {\n    let x = r * r;\n    x\n}\n"),
    "d.js": ("javascript", "function area(r) {\n  return r * r;\n}\n"),
}  # fmt: skip
# A client that resolves actions lazily and takes CodeAction literals, as VS Code does.
CAPABILITIES = {
    "textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]},
                                    "codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["refactor"]}}}},
}  # fmt: skip


@dataclass
class SoakDocument:
    """One of the soak's documents, kept as the server should have it after each change sent."""

    uri: str
    language: str
    start_text: str
    text: str = ""
    version: int = 0
    is_open: bool = False

    def open(self, wire: Wire) -> None:
        self.text, self.version, self.is_open = self.start_text, 1, True
        wire.open(self.uri, self.text, language=self.language)

    def close(self, wire: Wire) -> None:
        self.is_open = False
        wire.notify("textDocument/didClose", {"textDocument": {"uri": self.uri}})

    def type(self, wire: Wire, piece: str, line: int, column: int) -> None:
        self.version += 1
        at = {"line": line, "character": column}
        wire.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                    "contentChanges": [{"range": {"start": at, "end": at}, "text": piece}]})  # fmt: skip
        lines = self.text.split("\n")
        lines[line] += piece
        self.text = "\n".join(lines)
        if self.text.count("\n") > 60:  # keep the buffer a working size: start over
            self.version += 1
            self.text = self.start_text
            wire.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                   "contentChanges": [{"text": self.text}]})  # fmt: skip

    def end_of_a_line(self, rng: random.Random) -> tuple[int, int]:
        lines = self.text.split("\n")
        line = rng.randrange(len(lines))
        return line, len(lines[line])


class Workday:
    """The soak's client: its documents, its folder (with the `dglsp.toml` it edits) and the server."""

    def __init__(self, options: dict, root: Path, rng: random.Random) -> None:
        self.options, self.root, self.rng = options, root, rng
        self.server = Server(options, capabilities=CAPABILITIES, root=root)
        self.server.wait_ready()
        self.docs = [SoakDocument(f"{root.as_uri()}/{name}", lang, text) for name, (lang, text) in DOCS.items()]
        self._connected()

    def _connected(self) -> None:
        """A fresh server: it is told the edits the soak applies (none), and sees every document opened anew."""
        self.wire.replies["workspace/applyEdit"] = {"applied": False, "failureReason": "the soak applies nothing"}
        for doc in self.docs:
            doc.open(self.wire)

    @property
    def wire(self) -> Wire:
        return self.server.wire

    def step(self, kind: str) -> dict:
        """One request of the mix; the server's answer, {} for a notification."""
        rng, wire = self.rng, self.wire
        open_docs = [d for d in self.docs if d.is_open]
        doc = rng.choice(open_docs)
        line, column = doc.end_of_a_line(rng)
        if kind == "type":
            doc.type(wire, rng.choice(TYPED), line, column)
        elif kind in ("inline", "inline-auto"):
            return wire.request(INLINE, inline_params(doc.uri, line, column, invoked=kind == "inline"), timeout=60)
        elif kind == "completion":
            position = {"line": line, "character": column}
            return wire.request("textDocument/completion", {"textDocument": {"uri": doc.uri}, "position": position})
        elif kind in ("action", "command"):
            return _code_action(wire, doc.uri, line, column, run_command=kind == "command")
        elif kind == "cancel":
            return _cancelled_inline(wire, doc.uri, line, column)
        elif kind == "close" and len(open_docs) > 1:
            doc.close(wire)
        elif kind == "open" and len(open_docs) < len(self.docs):
            rng.choice([d for d in self.docs if not d.is_open]).open(wire)
        elif kind == "settings":
            wire.notify("workspace/didChangeConfiguration",
                        {"settings": {"dglsp": {**self.options, "debounceMs": rng.choice([0, 50, 75])}}})  # fmt: skip
            return wire.request("dglsp/stats", timeout=PROBE_S)
        elif kind == "toml":
            toml = f'line_tokens = {rng.randint(8, 31)}\nmultiline = "{rng.choice(["auto", "always", "never"])}"\n'
            _replace(self.root / "dglsp.toml", toml)
        elif kind == "reload":
            return wire.request("workspace/executeCommand", {"command": "dglsp.reloadModel"}, timeout=60)
        return {}

    def restart(self) -> None:
        self.server.restart()
        self._connected()


def _replace(path: Path, text: str) -> None:
    """As editors save: a new file renamed over the old one."""
    fresh = path.with_suffix(".tmp")
    fresh.write_text(text, encoding="utf-8")
    fresh.replace(path)


def _code_action(wire: Wire, uri: str, line: int, column: int, run_command: bool) -> dict:
    """The code actions on a line, then the first one resolved (VS Code's path) or run as the command
    `dglsp.runAction`, whose edit comes back as workspace/applyEdit (the path of clients that do not resolve)."""
    rng_range = {"start": {"line": line, "character": 0}, "end": {"line": line, "character": column}}
    answer = wire.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": rng_range,
                          "context": {"diagnostics": [], "triggerKind": 1}}, timeout=60)  # fmt: skip
    actions = answer.get("result") or []
    if not actions or "data" not in actions[0]:
        return answer
    if run_command:
        return wire.request("workspace/executeCommand", {"command": "dglsp.runAction",
                                                         "arguments": [actions[0]["data"]]}, timeout=120)  # fmt: skip
    return wire.request("codeAction/resolve", actions[0], timeout=120)


def _cancelled_inline(wire: Wire, uri: str, line: int, column: int) -> dict:
    """An inline request cancelled as soon as it is sent: its answer, a result or RequestCancelled."""
    wire.next_id += 1
    msg_id = wire.next_id
    wire.send({"jsonrpc": "2.0", "id": msg_id, "method": INLINE, "params": inline_params(uri, line, column)})
    wire.notify("$/cancelRequest", {"id": msg_id})
    return wire.answer(msg_id, timeout=60)


def soak(
    options: dict, requests: int, minutes: float, seed: int = 0, progress: bool = True, sample_every: int = SAMPLE_EVERY
) -> Phase:
    """`requests` requests of the mix (or `minutes`, whichever ends first); every answer is checked, and the
    server's footprint sampled every `sample_every` requests."""
    phase = Phase("soak")
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="dglsp-soak-") as folder:
        day = Workday(options, Path(folder), rng)
        start = time.perf_counter()
        deadline = start + minutes * 60
        bar = tqdm(total=requests, desc="soak", unit="req", disable=not progress)
        _sample(phase, day)
        while phase.cases < requests and time.perf_counter() < deadline:
            kind = rng.choices(list(SOAK_MIX), list(SOAK_MIX.values()))[0]
            began = time.perf_counter()
            try:
                answer = day.step(kind)
            except Silent as exc:
                phase.hangs += 1
                phase.notes.append(f"{kind}: {exc}")
                phase.crashes += not day.server.alive()
                day.restart()
                continue
            took = time.perf_counter() - began
            _check(phase, kind, answer, took)
            phase.cases += 1
            if answer:  # a notification has nothing to time
                phase.latencies.append((time.perf_counter() - start, took * 1000))
            if phase.cases % sample_every == 0:
                _sample(phase, day)
            bar.update()
        bar.close()
        if phase.rss_mb[-1][0] != phase.cases:  # the end, unless the last sample was taken there
            _sample(phase, day)
        phase.seconds = time.perf_counter() - start
        day.server.close()
    return phase


def _check(phase: Phase, kind: str, answer: dict, took: float) -> None:
    error = answer.get("error")
    if error and error.get("code") not in EXPECTED_ERRORS:
        phase.errors += 1
        phase.notes.append(f"{kind}: error {error}")
    if took > PROBE_S:
        phase.slow += 1
        phase.notes.append(f"{kind}: answered after {took:.1f} s")


def _sample(phase: Phase, day: Workday) -> None:
    # A server older than the footprint (a before/after run) still has its memory read from /proc here.
    footprint = day.server.stats(timeout=60).get("footprint") or {}
    phase.footprints.append({"requests": phase.cases, **footprint})
    rss = footprint.get("rss_mb")
    phase.rss_mb.append((phase.cases, rss if rss is not None else day.wire.rss_mb()))
