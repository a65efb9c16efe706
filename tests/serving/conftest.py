"""A real local Ray cluster (2 CPUs) serving the tiny random model, started once for these tests."""

from __future__ import annotations

import pytest
from http_calls import Http

from dglsp.bench.serve_load import free_port

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="module")
def served(cluster, dg_dir) -> Http:
    from dglsp.serving.replica import application

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(application(str(dg_dir), {}, max_batch_size=8, batch_wait_ms=20), name="dglsp", route_prefix="/")
    return Http(f"http://127.0.0.1:{port}")
