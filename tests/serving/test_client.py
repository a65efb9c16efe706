"""A `dglsp serve-model` server as the engine (`serving/client.py`): the same fills as the local engine, a
cancel that stops the canvas on the server, `dglsp fill --backend`, and a clear error when nobody answers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from test_replica import wait_until

from dglsp.bench.serve_load import free_port
from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig
from dglsp.serving.client import RemoteEngine
from dglsp.serving.http_json import BackendUnavailable


def test_a_remote_fill_is_the_local_engines_fill(served, dg_model):
    remote, local = RemoteEngine(served.base), Engine(dg_model)
    assert remote.connect()["max_positions"] == remote.denoiser.max_positions == local.denoiser.max_positions
    assert remote.min_confidence == local.min_confidence  # the server's model's threshold, for the gate here
    config = SamplerConfig(seed=3, max_steps=8)
    for request in [
        FillRequest("def area(r):\n    return ", "\n", max_tokens=12),
        FillRequest("def f(x):\n    ", "\n    return y\n", max_tokens=6, between=("\n    y = ",)),
    ]:
        mine, theirs = local.fill(request, config), remote.fill(request, config)
        assert (theirs.fills, theirs.steps, theirs.stop) == (mine.fills, mine.steps, mine.stop)
        assert theirs.confidence.score == pytest.approx(mine.confidence.score, abs=1e-4)


def test_cancelling_a_remote_fill_stops_its_canvas_on_the_server(served):
    remote = RemoteEngine(served.base)
    cancel = threading.Event()
    endless = SamplerConfig(max_steps=100000, entropy_bound=0.001)
    results = []

    def fill() -> None:
        results.append(remote.fill(FillRequest("z = ", max_tokens=16), endless, lambda _: cancel.is_set()))

    worker = threading.Thread(target=fill)
    before = len(served.call("GET", "/stats")[1]["steps_after_cancel"])
    worker.start()
    wait_until(lambda: any(s > 2 for s in served.call("GET", "/stats")[1]["in_flight_steps"]), "the fill to run")
    cancel.set()
    worker.join(timeout=30)
    assert results and results[0].stop == "cancelled"
    after = wait_until(lambda: served.call("GET", "/stats")[1]["steps_after_cancel"][before:], "the server's cancel")
    assert after[0] <= 1


def test_dglsp_fill_with_a_backend_fills_on_the_server(served, tmp_path):
    tasks = [{"prefix": "def add(a, b):\n    return ", "max_tokens": 6, "seed": 1}, {"suffix": "no prefix"}]

    def fill(*flags):
        done = subprocess.run(
            [sys.executable, "-m", "dglsp", "fill", "--backend", served.base, *flags],
            input="".join(json.dumps(t) + "\n" for t in tasks),
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    first, second = fill("--min-confidence", "0")
    assert first["stop"] in ("converged", "max_steps") and first["completion"] and "prefix" in second["error"]
    # Without it, the server's model's own threshold holds: the random model's fill is not printed.
    gated, _ = fill()
    assert (gated["completion"], gated["stop"]) == ("", "low_confidence") and gated["confidence"]["score"] < 0.9


def test_a_server_that_is_not_there_is_a_clear_error_and_the_cli_says_so(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendUnavailable, match=r"does not answer \(ConnectionRefusedError\)"):
        RemoteEngine(url).fill(FillRequest("x = ", max_tokens=2))
    done = subprocess.run(
        [sys.executable, "-m", "dglsp", "fill", "--backend", url], input="", capture_output=True, text=True
    )
    assert done.returncode == 2 and "does not answer" in done.stderr
