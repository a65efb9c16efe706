"""Requests of one document go to one replica, so that replica's prefix cache keeps the document's encoded prefix.

A client names the document in `X-Dglsp-Document: <opaque key>` (the language server sends a hash of its URI).
The router ranks the replicas by rendezvous (highest-random-weight) hashing of the key and each replica's id: the
key's home is the replica with the highest weight, so adding or removing a replica moves only the documents whose
home it becomes or was. When the home is full (at max_ongoing_requests) or does not answer, and for requests
without the header, the choice is Ray's default one: the less loaded of two random replicas, same node first.

Why a request router and not Serve's model multiplexing: `@serve.batch` splits its batches by multiplexed model id,
so every document would be batched alone and canvas-level batching would be lost.

Why the header is read from the request's pickled ASGI scope: for a request through the HTTP proxy, the router sees
no headers in `PendingRequest.metadata` (only `session_id`, from one header whose name is set cluster-wide by
$RAY_SERVE_SESSION_ID_HEADER_KEY, in the proxy's environment: not ours to set on a cluster we join). The router runs
in the proxy, and the request's one argument there is `pickle.dumps(StreamingHTTPRequest(asgi_scope))` (Serve
2.60, proxy_request_response.py), made by the proxy itself; its scope holds the headers, without the body. That
is Serve's internal format: tests/serving/test_affinity.py fails if a Ray upgrade changes it.
"""

from __future__ import annotations

import hashlib
import pickle
import random
from collections.abc import Iterable

from ray import serve
from ray.serve.request_router import LocalityMixin, PendingRequest, RequestRouter, RunningReplica

from .client import DOCUMENT_HEADER

REPLICA_HEADER = "X-Dglsp-Replica"  # on each answer: the replica's id (`replica_id()`)

_DOCUMENT_HEADER_BYTES = DOCUMENT_HEADER.lower().encode()  # as ASGI servers give header names


def replica_id() -> str:
    """This replica's id, as the router hashes it (call it inside a replica)."""
    return serve.get_replica_context().replica_id.unique_id


def home(key: str, replica_ids: Iterable[str]) -> str | None:
    """The replica a document's requests go to: the highest weight of the key with each id (None: no replica)."""
    return max(replica_ids, key=lambda replica: _weight(key, replica), default=None)


def _weight(key: str, replica: str) -> int:
    # A stable hash (not Python's hash(), salted per process): every proxy must pick the same home.
    return int.from_bytes(hashlib.blake2b(f"{replica}\0{key}".encode(), digest_size=8).digest(), "big")


def document_key(request: PendingRequest) -> str | None:
    """The X-Dglsp-Document header of an HTTP request through the proxy, or None."""
    if not request.metadata.is_http_request or not request.args or not isinstance(request.args[0], bytes):
        return None
    scope_bytes = request.args[0]
    if _DOCUMENT_HEADER_BYTES not in scope_bytes:  # most requests without the header are never unpickled
        return None
    try:
        headers = pickle.loads(scope_bytes).asgi_scope["headers"]
    except Exception:  # not the format this was written against: route as if there were no header
        return None
    for name, value in headers:
        if name == _DOCUMENT_HEADER_BYTES:
            return value.decode("latin-1")
    return None


class DocumentAffinityRouter(LocalityMixin, RequestRouter):
    """The document's home replica first; then, or without a document, two random ones (Ray's default).

    Not FIFOMixin, which Ray's default router has: it hands a replica found for one request to the oldest waiting
    request instead, which could be another document's. The base class gives it to the request it was chosen for.
    """

    async def choose_replicas(
        self, candidate_replicas: list[RunningReplica], pending_request: PendingRequest | None = None
    ) -> list[list[RunningReplica]]:
        by_id = {replica.replica_id: replica for replica in candidate_replicas}
        ranks = []
        key = document_key(pending_request) if pending_request is not None else None
        if key is not None:
            ids = {replica_id.unique_id: replica_id for replica_id in by_id}
            if (chosen := home(key, ids)) is not None:
                ranks.append([by_id[ids[chosen]]])
        # Ray's default (PowerOfTwoChoicesRequestRouter) less FIFO and multiplexing: two random replicas, from
        # this node's in the first round. Serve sends the request to the less loaded one of a rank that is not full;
        # when none is, it asks again (the home first again), backing off once every replica could have been chosen
        # (apply_locality_routing sets should_backoff).
        nearby = [by_id[i] for i in self.apply_locality_routing(pending_request) if i in by_id]
        ranks.append(random.sample(nearby, min(2, len(nearby))))
        return ranks
