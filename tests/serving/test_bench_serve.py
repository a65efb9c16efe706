"""`dglsp bench --suite serve` prints its figures from a real local Ray cluster (a tiny run, not the numbers)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_serve_suite_prints_both_runs_the_batches_and_the_remote_overhead(dg_dir, tmp_path):
    out = tmp_path / "serve"
    command = [sys.executable, "-m", "dglsp", "bench", "--suite", "serve", "--model", str(dg_dir)]
    command += ["--limit", "6", "--clients", "3", "--pairs", "2", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "batching 8" in done.stdout and "one canvas at a time" in done.stdout
    assert "remote path: p50" in done.stdout
    report = json.loads((out / "serve.json").read_text())
    assert [load["fills"] for load in report["loads"]] == [6, 6] and not any(x["errors"] for x in report["loads"])
    assert set(report["batch_sizes"]["one canvas at a time"]) == {"1"}  # batching off means batches of one
    assert report["overhead"]["pairs"] == 2
