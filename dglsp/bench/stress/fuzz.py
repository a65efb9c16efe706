"""Fuzzing: hypothesis-generated sequences of raw JSON-RPC, each followed by a probe; a dead server is counted and
restarted. The settings, commands and action kinds the messages aim at come from the server's own description
(`dglsp/describe`), so a new setting or command is fuzzed without a change here."""

from __future__ import annotations

import json
import time

from tqdm import tqdm

from ..wire import INLINE
from .phase import PROBE_S, Phase, Server

METHODS = (
    "initialize", "initialized", "shutdown", "exit", "textDocument/didOpen", "textDocument/didChange",
    "textDocument/didClose", INLINE, "textDocument/completion", "textDocument/codeAction", "codeAction/resolve",
    "workspace/didChangeConfiguration", "workspace/didChangeWatchedFiles", "workspace/executeCommand",
    "$/cancelRequest", "dglsp/stats", "dglsp/describe", "dglsp/nope",
)  # fmt: skip


def _message_strategy(described: dict):
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
    small = st.integers(-3, 400) | st.integers(-(2**40), 2**40)
    kinds = st.sampled_from([a["kind"] for a in described["actions"]] + ["", "nope"])
    commands = st.sampled_from([c["name"] for c in described["commands"]] + ["dglsp.nope", ""])
    keys = st.sampled_from([s["key"] for s in described["settings"]])

    def request(method: str, params) -> dict:
        return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}

    def note(method: str, params) -> dict:
        return {"jsonrpc": "2.0", "method": method, "params": params}

    # An action's data as the server hands it out, each field possibly of the wrong type or out of range.
    forged = st.fixed_dictionaries(
        {"uri": uri | json_values, "version": small | json_values, "kind": kinds | json_values,
         "start": small | json_values, "end": small | json_values}
    ) | json_values  # fmt: skip
    messages = st.one_of(
        st.builds(lambda m, p, i: {"jsonrpc": "2.0", "id": i, "method": m, "params": p},
                  st.sampled_from(METHODS), json_values, msg_id),
        st.builds(lambda u, p: request(INLINE, {"textDocument": {"uri": u}, "position": p,
                                                "context": {"triggerKind": 1}}), uri, position),
        st.builds(lambda u, t, v, lang: note("textDocument/didOpen", {
                      "textDocument": {"uri": u, "languageId": lang, "version": v, "text": t}}),
                  uri, text, version, st.sampled_from(["python", "rust", "brainfuck", ""])),
        st.builds(lambda u, v, c: note("textDocument/didChange", {"textDocument": {"uri": u, "version": v},
                                                                  "contentChanges": c}),
                  uri, version, st.lists(change | st.fixed_dictionaries({"text": text}), max_size=3)),
        st.builds(lambda t, d: request("codeAction/resolve", {"title": t, "data": d}), st.text(max_size=20), forged),
        st.builds(lambda c, a: request("workspace/executeCommand", {"command": c, "arguments": a}),
                  commands, st.lists(forged | json_values, max_size=3) | json_values),
        st.builds(lambda s: note("workspace/didChangeConfiguration", {"settings": s}),
                  st.dictionaries(keys, json_values, max_size=3).map(lambda d: {"dglsp": d})
                  | st.dictionaries(keys, json_values, max_size=3) | json_values),
        st.builds(lambda c: note("workspace/didChangeWatchedFiles", {"changes": c}),
                  st.lists(st.fixed_dictionaries({"uri": uri | json_values, "type": st.integers(-1, 5)}), max_size=3)
                  | json_values),
        json_values,  # anything at all as a message
    )  # fmt: skip
    # Sequences that only make sense together: a load cut short by `exit`, a request whose cancel comes with
    # cancels for ids never sent.
    exit_in_load = st.sampled_from([
        [request("workspace/executeCommand", {"command": "dglsp.reloadModel"}), note("exit", None)],
        [note("workspace/didChangeConfiguration", {"settings": {"dglsp": {"sampler": {"maxSteps": 3}}}}),
         request("workspace/executeCommand", {"command": "dglsp.reloadModel"}), request("shutdown", None),
         note("exit", None)],
    ])  # fmt: skip
    cancels = st.builds(
        lambda ids, u, p: [
            {"jsonrpc": "2.0", "id": 77, "method": INLINE, "params": {"textDocument": {"uri": u}, "position": p}},
            *[note("$/cancelRequest", {"id": i}) for i in ids], note("$/cancelRequest", {"id": 77}),
        ],
        st.lists(msg_id | json_values, max_size=4), uri, position,
    )  # fmt: skip
    framed = messages.map(lambda m: [_frame(json.dumps(m).encode())])
    together = (exit_in_load | cancels).map(lambda ms: [_frame(json.dumps(m).encode()) for m in ms])
    junk = st.binary(max_size=120) | st.builds(lambda n, b: b"Content-Length: %d\r\n\r\n" % n + b,
                                               st.integers(0, 64), st.binary(max_size=64))  # fmt: skip
    chunks = st.lists(framed | together | junk.map(lambda b: [b]), min_size=1, max_size=6)
    return chunks.map(lambda parts: [c for part in parts for c in part])


def _frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def fuzz(options: dict, cases: int, seed: int = 0, progress: bool = True) -> Phase:
    """`cases` random message sequences, each followed by a probe; derandomized, so a run repeats exactly."""
    from hypothesis import HealthCheck, given, settings

    phase = Phase("fuzz")
    server = Server(options)
    described = server.wire.request("dglsp/describe", timeout=30)["result"]
    start = time.perf_counter()
    bar = tqdm(total=cases, desc="fuzz", unit="case", disable=not progress)

    @settings(max_examples=cases, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(_message_strategy(described))
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
        began = time.perf_counter()
        outcome = server.probe()
        told_to_exit = any(b'"exit"' in c for c in chunks) and server.wire.proc.returncode in (0, 1)
        if told_to_exit and time.perf_counter() - began > PROBE_S:  # gone, but slowly: said, not hidden
            phase.slow += 1
            phase.notes.append(f"exit took {time.perf_counter() - began:.1f} s after {[c[:80] for c in chunks]}")
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
