"""`dglsp bench --suite serve`: a local Ray cluster serving the model to concurrent clients, batching on and off,
and the remote path against a local fill of the same requests, side by side."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..bench.humaneval_tasks import build_tasks
from ..bench.serve_load import HEADER, Load, free_port, post_fill, run_load
from ..engine.engine import Engine
from ..engine.types import FillRequest
from ..models.loader import resolve_model_path
from ..report.tables import render_table
from .options import load

LINE_TOKENS = 31  # what the language server asks for a rest-of-line fill


def run_serve(args: argparse.Namespace) -> int:
    import ray
    from ray import serve

    from ..serving.replica import application

    model = str(resolve_model_path(args.model))
    tasks = [
        {"prefix": t.prefix, "suffix": t.suffix, "max_tokens": LINE_TOKENS, "seed": args.seed}
        for t in build_tasks("humaneval-single", limit=args.limit or 48)
    ]
    cores = os.cpu_count() or 1
    ray.init(address="local", num_cpus=cores, include_dashboard=False, log_to_driver=False, configure_logging=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    loads: list[Load] = []
    batches: dict[str, dict[str, int]] = {}
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        for batch in (args.max_batch, 1):
            serve.run(application(model, {}, cpus=cores, max_batch_size=batch), name="dglsp", route_prefix="/")
            post_fill(url, tasks[0])  # warm: the replica's first fill pays for lazy initialisation
            name = f"batching {batch}" if batch > 1 else "one canvas at a time"
            with tqdm(total=len(tasks), desc=name, unit="fill", disable=None) as bar:
                loads.append(run_load(name, lambda t: post_fill(url, t), tasks, args.clients, bar))
            with urllib.request.urlopen(url + "/stats", timeout=30) as answer:
                batches[name] = json.loads(answer.read())["batch_sizes"]
        overhead = _remote_overhead(args, url, tasks[: args.pairs])
    finally:
        serve.shutdown()
        ray.shutdown()
    _report(args, loads, overhead, cores, batches)
    return 0


def _remote_overhead(args: argparse.Namespace, url: str, tasks: list[dict]) -> dict[str, float]:
    """One request at a time, local (this process) and remote (the replica, batching off) in turns."""
    engine = Engine(load(args))
    local_ms, remote_ms = [], []
    for task in tqdm(tasks, desc="remote vs local", unit="pair", disable=None):
        request = FillRequest(task["prefix"], task["suffix"], max_tokens=task["max_tokens"])
        sampler = engine.sampler.with_overrides(seed=task["seed"])
        start = time.perf_counter()
        engine.fill(request, sampler)
        local_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        post_fill(url, task)
        remote_ms.append((time.perf_counter() - start) * 1000)
    local, remote = statistics.median(local_ms), statistics.median(remote_ms)
    return {"pairs": len(tasks), "local_p50_ms": local, "remote_p50_ms": remote, "added_p50_ms": remote - local}


def _report(args: argparse.Namespace, loads: list[Load], overhead: dict[str, float], cores: int, batches: dict) -> None:
    batched, single = loads
    speedup = batched.per_second / single.per_second if single.per_second else 0.0
    print(
        f"\nserve: {batched.fills + single.fills} fills of humaneval-single lines, {args.clients} clients, "
        f"one replica on {cores} cores"
    )
    print(render_table([HEADER, *(load.row() for load in loads)], style="plain", align="<>>>>>>"))
    print(f"\nbatching: {speedup:.2f}x the fills per second of one canvas at a time")
    for name, sizes in batches.items():
        print(f"  {name}: batches by size {', '.join(f'{k}: {v}' for k, v in sizes.items())}")
    print(
        f"remote path: p50 {overhead['remote_p50_ms']:.1f} ms vs local {overhead['local_p50_ms']:.1f} ms "
        f"(+{overhead['added_p50_ms']:.1f} ms over {overhead['pairs']} requests side by side)"
    )
    out = Path(args.out or f"runs/serve-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    payload = {"loads": [asdict(x) | {"per_second": x.per_second} for x in loads], "speedup": speedup}
    payload["batch_sizes"] = batches
    (out / "serve.json").write_text(json.dumps(payload | {"overhead": overhead}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}/serve.json")
