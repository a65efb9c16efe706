"""Serve the model to a team over HTTP: dglsp's engine as a Ray Serve application, batching at the canvas level.

dglsp serve-model --model DIR                       a local Ray cluster, one replica, http://127.0.0.1:8000
dglsp serve-model --address auto --replicas 4 --gpus-per-replica 1 --host 0.0.0.0 --token SECRET

POST /fill takes what `dglsp fill` reads, one task per request, and answers what it writes; GET /health and
GET /stats (the replica's batch sizes and outcomes). Runs until Ctrl-C or SIGTERM, then takes its application
down, and with it the local cluster it started.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import threading

from .options import CliError

LOOPBACK = "127.0.0.1"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR", help="model directory (default: $DGLSP_MODEL, then the shipped one)")
    parser.add_argument("--device", default="auto", help="device in each replica (auto, cpu, cuda, ...)")
    parser.add_argument("--dtype", default="auto", help="model dtype (auto, float32, float16, bfloat16)")
    parser.add_argument("--address", help="an existing Ray cluster (e.g. auto, ray://head:10001); default: start one")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--replicas", type=int, default=1, help="replicas of the model (default 1)")
    scale.add_argument("--autoscale", metavar="MIN:MAX", help="autoscale between MIN and MAX replicas")
    parser.add_argument("--gpus-per-replica", type=float, default=0, help="GPUs each replica takes (default 0)")
    parser.add_argument("--cpus-per-replica", type=float, default=1, help="CPUs each replica takes (default 1)")
    parser.add_argument("--host", default=LOOPBACK, help=f"address to listen on (default {LOOPBACK})")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--token", default=os.environ.get("DGLSP_TOKEN"), help="required bearer token ($DGLSP_TOKEN)")
    parser.add_argument("--max-batch", type=int, default=8, help="most requests denoised together (1: no batching)")
    parser.add_argument(
        "--context-tokens", type=int, default=0, help="tokens of code around a gap (0: 2048 on a CPU, 8192 on a GPU)"
    )
    parser.add_argument("--batch-wait-ms", type=float, default=20, help="how long a batch waits to fill (default 20)")


def check(args: argparse.Namespace) -> dict[str, int] | None:
    """The flags checked before anything starts; the autoscaling bounds, if any."""
    if not _loopback(args.host) and not args.token:
        raise CliError(
            f"--host {args.host} would let other machines send fills (and read your code's completions): "
            "pass --token (or set $DGLSP_TOKEN) so that only editors with the token are served"
        )
    if args.max_batch < 1 or args.batch_wait_ms < 0 or args.replicas < 1 or args.context_tokens < 0:
        raise CliError("--max-batch and --replicas must be at least 1, --batch-wait-ms and --context-tokens at least 0")
    if not args.autoscale:
        return None
    low, _, high = args.autoscale.partition(":")
    if not (low.isdigit() and high.isdigit() and 0 <= int(low) <= int(high) and int(high) >= 1):
        raise CliError(f"--autoscale wants MIN:MAX with 0 <= MIN <= MAX, MAX >= 1, got {args.autoscale!r}")
    return {"min_replicas": int(low), "max_replicas": int(high)}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    autoscaling = check(args)
    import ray
    from ray import serve

    from ..models.loader import ModelError, check_model_dir, resolve_model_path
    from ..serving.replica import application

    try:
        check_model_dir(resolve_model_path(args.model))
    except ModelError as exc:
        raise CliError(str(exc)) from exc
    ray.init(address=args.address or "local", include_dashboard=False, log_to_driver=False, configure_logging=False)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # after ray.init, which installs handlers of its own
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": args.host, "port": args.port})
        app = application(
            args.model,
            {"device": args.device, "dtype": args.dtype},
            token=args.token,
            replicas=args.replicas,
            autoscaling=autoscaling,
            cpus=args.cpus_per_replica,
            gpus=args.gpus_per_replica,
            max_batch_size=args.max_batch,
            batch_wait_ms=args.batch_wait_ms,
            context_tokens=args.context_tokens,
        )
        serve.run(app, name="dglsp", route_prefix="/")
        print(f"dglsp serve-model: ready at http://{args.host}:{args.port} (POST /fill, GET /health, GET /stats)")
        print("Ctrl-C or SIGTERM stops it.", flush=True)
        stop.wait()
    finally:
        # On a cluster of our own, shutting Serve and Ray down stops every process we started; on an existing
        # cluster, only our application goes.
        if args.address:
            serve.delete("dglsp")
        else:
            serve.shutdown()
        ray.shutdown()
    print("dglsp serve-model: stopped", flush=True)
    return 0
