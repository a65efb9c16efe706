"""dglsp's engine behind Ray Serve: concurrent requests batched at the canvas level, answers as the local engine
gives them, and bad input answered with a 4xx that leaves the replica serving."""

from __future__ import annotations

import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig

TASKS = [
    {"prefix": f"def f{i}(x):\n    return ", "suffix": "\n", "max_tokens": 8 + i, "seed": i, "max_steps": 6}
    for i in range(8)
]


def test_concurrent_fills_are_batched_and_equal_the_local_engines(served, dg_model):
    with ThreadPoolExecutor(len(TASKS)) as pool:
        answers = list(pool.map(served.fill, TASKS))
    assert all(status == 200 for status, _ in answers), answers
    local = Engine(dg_model)
    for task, (_, answer) in zip(TASKS, answers, strict=True):
        request = FillRequest(task["prefix"], task["suffix"], max_tokens=task["max_tokens"])
        expected = local.fill(request, SamplerConfig(seed=task["seed"], max_steps=task["max_steps"]))
        assert (answer["completion"], answer["steps"], answer["stop"]) == (expected.text, expected.steps, expected.stop)
    status, stats = served.call("GET", "/stats")
    assert status == 200 and max(int(size) for size in stats["batch_sizes"]) > 1  # some requests shared a batch


def test_several_holes_fill_in_one_request(served):
    status, answer = served.fill({"prefix": "def f(x):\n    ", "suffix": "\n    return y\n", "between": ["\n    y = "]})
    assert status == 200 and len(answer["fills"]) == 2 and answer["completion"] == answer["fills"][0]


def test_bad_input_gets_a_4xx_with_the_reason_and_the_replica_goes_on(served):
    cases = [
        (b"{not json", 400, "not JSON"),
        (b'["a list"]', 400, "JSON object"),
        (b'{"prefix": 3}', 400, '"prefix"'),
        (b'{"prefix": "x", "max_tokens": 0}', 400, "max_tokens"),
        (b'{"prefix": "x", "colour": "red"}', 400, "'colour'"),
        (b'{"prefix": "x", "max_steps": -2}', 400, "max_steps"),
        (b'{"prefix": "' + b"x" * (9 << 20) + b'"}', 413, "bytes"),
    ]
    for body, status, reason in cases:
        got, answer = served.call("POST", "/fill", body)
        assert (got, reason in answer["error"]) == (status, True), (body[:40], got, answer)
    assert served.call("GET", "/nope")[0] == 404
    status, answer = served.fill({"prefix": "x = ", "max_tokens": 3})
    assert status == 200 and set(answer) == {"completion", "steps", "tokens_per_step", "ms", "stop", "confidence"}
    status, health = served.call("GET", "/health")
    assert status == 200 and health["ok"] and health["model"] == served.call("GET", "/stats")[1]["model"]


def test_a_client_that_goes_away_stops_its_canvas_on_the_server_within_a_step(served):
    # A random model never converges by itself: only the cancellation can end this fill early.
    endless = json.dumps({"prefix": "x = ", "max_tokens": 16, "max_steps": 100000, "entropy_bound": 0.001})
    host, port = served.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", "/fill", endless, {"Content-Type": "application/json"})
    wait_until(lambda: any(s > 2 for s in served.call("GET", "/stats")[1]["in_flight_steps"]), "the fill to run")
    connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()
    stats = wait_until(lambda: (s := served.call("GET", "/stats")[1])["steps_after_cancel"] and s, "the cancel")
    assert stats["counts"]["cancelled"] == 1 and stats["steps_after_cancel"][0] <= 1
    assert served.fill({"prefix": "y = ", "max_tokens": 3})[0] == 200


def wait_until(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
