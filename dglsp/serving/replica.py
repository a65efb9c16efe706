"""One Ray Serve replica: the model, its prefix cache, and canvas-level batching of concurrent requests.

Requests that arrive within a short window are denoised together (`Engine.fill_many`: one decoder call per step
for all their canvases). A request whose client goes away is cancelled between denoising steps, on the server,
without holding up the others in its batch. The HTTP edge answers bad input with a 4xx and `{"error"}`.

With several replicas, requests naming one document (`X-Dglsp-Document`) go to one replica, whose prefix cache
then keeps the document's prefix (routing.py). Every answer names its replica in `X-Dglsp-Replica`, and GET /stats
says which replica it is and how its prefix cache did.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from ray import serve
from ray.serve.config import RequestRouterConfig
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..engine.engine import Engine
from ..engine.fill_json import FillTask, parse_task, result_record
from ..models.loader import LoadOptions, load_model, resolve_model_path
from .routing import REPLICA_HEADER, DocumentAffinityRouter, replica_id

MAX_BODY_BYTES = 8 << 20  # a 2M-character prefix and suffix with room to spare


@dataclass
class Job:
    task: FillTask
    cancel: threading.Event = field(default_factory=threading.Event)
    step: int = 0  # the denoising step the fill is at (what cancellation is measured against)
    cancelled_at: int | None = None

    def on_step(self, view) -> bool:
        self.step = view.step + 1
        return self.cancel.is_set()


class FillReplica:
    def __init__(
        self, model: str | None, options: dict[str, Any], token: str | None, batch: dict[str, Any], context_tokens: int
    ) -> None:
        path = resolve_model_path(model)
        self.path = str(path)
        # Every model call on one thread, as the language server does: OpenMP keeps a thread team per calling
        # thread, and a fill on a new thread each time ran 35% slower here (the old teams spin on the cores).
        self.model_thread = ThreadPoolExecutor(1, thread_name_prefix="dglsp-model")

        def load() -> Engine:
            return Engine(load_model(path, LoadOptions(**options)), context_tokens=context_tokens)

        self.engine = self.model_thread.submit(load).result()
        self.token = token
        self.replica = replica_id()
        self.fill_batch.set_max_batch_size(batch["max_batch_size"])
        self.fill_batch.set_batch_wait_timeout_s(batch["wait_s"])
        self.batch_sizes: Counter[int] = Counter()
        self.counts: Counter[str] = Counter()
        self.steps_after_cancel: list[int] = []
        self.in_flight: list[Job] = []

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.005)
    async def fill_batch(self, jobs: list[Job]) -> list[dict[str, Any]]:
        self.batch_sizes[len(jobs)] += 1
        samplers = [self.engine.sampler.with_overrides(**job.task.sampler) for job in jobs]
        self.in_flight = jobs
        try:
            fill = partial(self.engine.fill_many, [j.task.request for j in jobs], samplers, [j.on_step for j in jobs])
            results = await asyncio.get_running_loop().run_in_executor(self.model_thread, fill)
        finally:
            self.in_flight = []
        for job, result in zip(jobs, results, strict=True):
            self.counts[result.stop] += 1
            if job.cancelled_at is not None:
                self.steps_after_cancel.append(result.steps - job.cancelled_at)
        return [result_record(r) for r in results]

    async def __call__(self, request: Request) -> JSONResponse:
        response = await self._answer(request)
        # A header, not a key in the body: /fill's body is the JSON that `dglsp fill` writes too (fill_json.py).
        response.headers[REPLICA_HEADER] = self.replica
        return response

    async def _answer(self, request: Request) -> JSONResponse:
        if self.token and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {self.token}"):
            return _error(401, "this server needs its token: Authorization: Bearer <token>")
        route = (request.method, request.url.path.rstrip("/"))
        if route == ("GET", "/health"):
            positions = self.engine.denoiser.max_positions
            health = {"ok": True, "model": self.path, "max_positions": positions}
            extra = {"context_tokens": self.engine.context_tokens, "min_confidence": self.engine.min_confidence}
            return JSONResponse(health | extra)
        if route == ("GET", "/stats"):
            return JSONResponse(self.stats())
        if route != ("POST", "/fill"):
            return _error(404, "dglsp serve-model answers POST /fill, GET /health and GET /stats")
        try:
            job = Job(await _task(request))
        except ValueError as exc:
            self.counts["bad_request"] += 1
            return _error(400, str(exc))
        except _TooBig as exc:
            return _error(413, str(exc))
        return await self._fill(job)

    async def _fill(self, job: Job) -> JSONResponse:
        try:
            return JSONResponse(await self.fill_batch(job))
        except asyncio.CancelledError:  # the client went away: stop its canvas between steps, not at the end
            job.cancelled_at = job.step
            job.cancel.set()
            raise
        except Exception as exc:  # one failed batch answers its requests; the replica goes on
            self.counts["error"] += 1
            return _error(500, f"{type(exc).__name__}: {exc}")

    def stats(self) -> dict[str, Any]:
        cache = self.engine.cache
        return {
            "replica": self.replica,
            "model": self.path,
            "threads": torch.get_num_threads(),
            "batch_sizes": {str(k): v for k, v in sorted(self.batch_sizes.items())},
            "counts": dict(self.counts),
            "steps_after_cancel": self.steps_after_cancel[-100:],
            "in_flight_steps": [job.step for job in self.in_flight],
            # A hit is any shared start (the BOS token alone is one); encoded_tokens says what the cache did not save.
            "prefix_cache": {
                **({"hits": cache.hits, "misses": cache.misses, "entries": len(cache)} if cache is not None else {}),
                "encoded_tokens": self.engine.denoiser.encoded_tokens,
            },
            "time": time.time(),
        }


class _TooBig(Exception):
    pass


async def _task(request: Request) -> FillTask:
    # The body is read to its end even when it is too big (and then dropped): a server that stops reading
    # mid-upload makes the client see a reset connection instead of the 413 that says why.
    body, size = bytearray(), 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            body += chunk
    if size > MAX_BODY_BYTES:
        raise _TooBig(f"the body is {size} bytes; at most {MAX_BODY_BYTES} are read")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from exc
    return parse_task(data)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def application(
    model: str | None,
    options: dict[str, Any],
    *,
    token: str | None = None,
    replicas: int | None = 1,
    autoscaling: dict[str, int] | None = None,
    cpus: float = 1,
    gpus: float = 0,
    max_batch_size: int = 8,
    batch_wait_ms: float = 20,
    context_tokens: int = 0,
):
    """The Ray Serve application: `serve.run(application(...))`."""
    deployment = serve.deployment(FillReplica).options(
        name="dglsp",
        num_replicas=None if autoscaling else replicas,
        autoscaling_config=autoscaling,
        ray_actor_options={"num_cpus": cpus, "num_gpus": gpus},
        max_ongoing_requests=max(64, 4 * max_batch_size),
        request_router_config=RequestRouterConfig(request_router_class=DocumentAffinityRouter),
    )
    batch = {"max_batch_size": max_batch_size, "wait_s": batch_wait_ms / 1000}
    return deployment.bind(model, options, token, batch, context_tokens)
