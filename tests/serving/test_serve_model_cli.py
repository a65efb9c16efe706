"""`dglsp serve-model` as a user runs it: its own local Ray cluster, a token when asked, and nothing of it left
running after SIGTERM. A non-loopback address without a token is refused before anything starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from http_calls import Http

from dglsp.bench.serve_load import free_port

RAY_PROCESSES = ("raylet", "gcs_server", "ray::")


def ray_pids() -> set[int]:
    """Live Ray processes on this machine (Linux /proc; zombies are dead already)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        try:
            text = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if proc.name.isdigit() and state != "Z" and any(name in text for name in RAY_PROCESSES):
            pids.add(int(proc.name))
    return pids


def test_a_non_loopback_address_without_a_token_is_refused_before_anything_starts():
    env = {k: v for k, v in os.environ.items() if k != "DGLSP_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "dglsp", "serve-model", "--host", "0.0.0.0"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2 and "--token" in done.stderr and not done.stdout


def test_serve_model_answers_with_its_token_and_leaves_no_ray_process_after_sigterm(dg_dir, tmp_path):
    before = ray_pids()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dglsp", "serve-model", "--model", str(dg_dir), "--port", str(port), "--token", "s3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        ready = proc.stdout.readline()  # the command says when it serves (or exits, and this is empty)
        assert "ready at http://127.0.0.1" in ready, ready
        assert Http(f"http://127.0.0.1:{port}").fill({"prefix": "x = "})[0] == 401
        status, answer = Http(f"http://127.0.0.1:{port}", token="s3").fill({"prefix": "x = ", "max_tokens": 4})
        assert status == 200 and answer["stop"] in ("converged", "max_steps")
        started = ray_pids() - before
        assert started  # it runs a cluster of its own
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "stopped" in rest
    assert not started & ray_pids()
