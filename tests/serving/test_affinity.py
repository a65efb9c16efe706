"""Requests naming one document (X-Dglsp-Document) go to one replica, its home by rendezvous hashing, whose prefix
cache then keeps the document's prefix; a full home sends the document elsewhere; requests without the header are
routed as Ray routes them. Two replicas of the tiny model on a real local Ray cluster."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from test_replica import wait_until

from dglsp.bench.serve_load import free_port

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

from dglsp.serving.routing import DOCUMENT_HEADER, REPLICA_HEADER, home  # noqa: E402  (it needs Ray)


@dataclass
class Answer:
    status: int
    body: Any
    replica: str | None  # the X-Dglsp-Replica header


def call(url: str, body: dict | None = None, document: str | None = None, timeout: float = 120) -> Answer:
    headers = {"Content-Type": "application/json"} | ({DOCUMENT_HEADER: document} if document is not None else {})
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Answer(answer.status, json.loads(answer.read()), answer.headers.get(REPLICA_HEADER))
    except urllib.error.HTTPError as err:
        return Answer(err.code, json.loads(err.read()), err.headers.get(REPLICA_HEADER))


def keys_homed_on(replica: str, replicas: list[str], prefix: str, count: int = 1) -> list[str]:
    keys = (f"{prefix}-{i}" for i in range(10_000))
    return [key for key in keys if home(key, replicas) == replica][:count]


def wait_for_the_proxy_to_know(url: str, replicas: list[str]) -> None:
    # serve.run returns once the replicas run; the proxy's router hears of them a moment later, and until then
    # it hashes over the replicas it knows.
    for replica in replicas:
        (probe,) = keys_homed_on(replica, replicas, "probe")
        wait_until(lambda: call(url, document=probe).replica == replica, f"the proxy to route to {replica}")  # noqa: B023


@dataclass
class TwoReplicas:
    base: str
    replicas: list[str]

    def stats(self) -> dict[str, dict]:
        """Every replica's GET /stats, by replica (a broadcast reaches each one, whatever the routing)."""
        everyone = serve.get_deployment_handle("dglsp", app_name="dglsp").broadcast("stats").results()
        return {stats["replica"]: stats for stats in everyone}


@pytest.fixture(scope="module")
def two(cluster, dg_dir) -> TwoReplicas:
    from dglsp.serving.replica import application

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    app = application(str(dg_dir), {}, replicas=2, cpus=0.5, max_batch_size=8, batch_wait_ms=20)
    serve.run(app, name="dglsp", route_prefix="/")
    served = TwoReplicas(f"http://127.0.0.1:{port}", [])
    served.replicas = sorted(served.stats())
    assert len(served.replicas) == 2
    wait_for_the_proxy_to_know(served.base + "/health", served.replicas)
    return served


def test_rendezvous_homes_move_only_the_documents_that_must_move():
    documents = [f"doc-{i}" for i in range(300)]
    three = ["r1", "r2", "r3"]
    before = {doc: home(doc, three) for doc in documents}
    assert set(before.values()) == set(three)
    after_removal = {doc: home(doc, ["r1", "r3"]) for doc in documents}
    moved = {doc for doc in documents if after_removal[doc] != before[doc]}
    assert moved == {doc for doc in documents if before[doc] == "r2"}
    after_adding = {doc: home(doc, [*three, "r4"]) for doc in documents}
    moved = {doc for doc in documents if after_adding[doc] != before[doc]}
    assert moved and all(after_adding[doc] == "r4" for doc in moved)
    assert home("doc-1", ["r3", "r1", "r2"]) == before["doc-1"] and home("doc-1", []) is None


def test_each_documents_fills_go_to_its_home_replica_whose_prefix_cache_keeps_it(two):
    # Two documents homed on each replica, so that a router that ignored the header would split some of them.
    keys = [key for replica in two.replicas for key in keys_homed_on(replica, two.replicas, "doc", 2)]
    prefixes = {
        key: f"# module {i}\n" + "".join(f"def f{i}_{j}(x):\n    return x * {j} + {i}\n" for j in range(6))
        for i, key in enumerate(keys)
    }

    def fill(key: str, typed: str = "") -> Answer:
        task = {"prefix": prefixes[key] + typed, "max_tokens": 4, "max_steps": 4, "seed": len(typed)}
        return call(two.base + "/fill", task, document=key)

    start = two.stats()
    with ThreadPoolExecutor(len(keys)) as pool:
        firsts = list(pool.map(fill, keys))
    middle = two.stats()
    # Typing on in every document at once: the repeats of one document share batches with each other's.
    typing = [(key, typed) for key in keys for typed in ("d", "de", "def")]
    with ThreadPoolExecutor(len(typing)) as pool:
        repeats = list(pool.map(lambda job: fill(*job), typing))
    end = two.stats()

    assert all(answer.status == 200 for answer in firsts + repeats), [a.body for a in firsts + repeats]
    homes = [home(key, two.replicas) for key in keys] + [home(key, two.replicas) for key, _ in typing]
    assert [answer.replica for answer in firsts + repeats] == homes
    for replica in two.replicas:
        before, between, after = (stats[replica]["prefix_cache"] for stats in (start, middle, end))
        assert after["hits"] - between["hits"] == 6 and after["misses"] == between["misses"]
        # Each repeat encoded only what was typed: a repeat sent to the other replica would encode its whole
        # document (a first fill encodes about 130 tokens), which the hit count alone would not show (the BOS
        # token is a shared start already).
        first_fills, repeat_fills = (
            between["encoded_tokens"] - before["encoded_tokens"],
            after["encoded_tokens"] - between["encoded_tokens"],
        )
        assert repeat_fills * 4 < first_fills, (replica, first_fills, repeat_fills)


def test_fills_without_a_document_header_are_served_by_either_replica(two):
    tasks = [{"prefix": f"x{i} = ", "max_tokens": 3, "max_steps": 3} for i in range(4)]
    with ThreadPoolExecutor(len(tasks)) as pool:
        answers = list(pool.map(lambda task: call(two.base + "/fill", task), tasks))
    assert all(answer.status == 200 and answer.replica in two.replicas for answer in answers), answers
    stats = call(two.base + "/stats")
    assert stats.body["replica"] == stats.replica and set(stats.body["prefix_cache"]) >= {"hits", "misses"}


@ray.remote(num_cpus=0)
class Gate:
    """Holds requests until opened; says when one is held."""

    def __init__(self) -> None:
        self.holding, self.opened = asyncio.Event(), asyncio.Event()

    async def hold(self) -> None:
        self.holding.set()
        await self.opened.wait()

    async def wait_holding(self) -> None:
        await self.holding.wait()

    def open(self) -> None:
        self.opened.set()


def test_a_document_whose_home_is_full_goes_to_another_replica(two):
    from ray.serve.config import RequestRouterConfig
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from dglsp.serving.routing import DocumentAffinityRouter, replica_id

    # One request at a time per replica, so that one held request makes its replica full.
    @serve.deployment(
        num_replicas=2,
        max_ongoing_requests=1,
        ray_actor_options={"num_cpus": 0},
        request_router_config=RequestRouterConfig(request_router_class=DocumentAffinityRouter),
    )
    class Held:
        def __init__(self, gate) -> None:
            self.gate, self.replica = gate, replica_id()

        def id(self) -> str:
            return self.replica

        async def __call__(self, request: Request) -> JSONResponse:
            if "hold" in request.query_params:
                await self.gate.hold.remote()
            return JSONResponse({}, headers={REPLICA_HEADER: self.replica})

    gate = Gate.remote()
    serve.run(Held.bind(gate), name="held", route_prefix="/held")
    try:
        url = two.base + "/held"
        replicas = sorted(serve.get_deployment_handle("Held", app_name="held").broadcast("id").results())
        wait_for_the_proxy_to_know(url, replicas)
        (key,) = keys_homed_on(replicas[0], replicas, "busy")
        held: list[Answer] = []
        holder = threading.Thread(target=lambda: held.append(call(url + "?hold", document=key)))
        holder.start()
        ray.get(gate.wait_holding.remote(), timeout=60)
        try:
            elsewhere = call(url, document=key, timeout=30)  # a router that waited for the home would time out
        finally:
            ray.get(gate.open.remote())
            holder.join(timeout=60)
        assert (held[0].replica, elsewhere.replica) == (replicas[0], replicas[1])
        assert call(url, document=key).replica == replicas[0]  # back home once it has room
    finally:
        serve.delete("held")
