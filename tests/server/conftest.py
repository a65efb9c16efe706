"""End-to-end fixtures: a real `dglsp --stdio` on the tiny random model."""

from __future__ import annotations

import pytest_asyncio
from session import RAW, model_ready, start, stop


@pytest_asyncio.fixture
async def served(tmp_path, dg_dir):
    """A server on the tiny random model, with raw fills and no debounce; the workspace is tmp_path."""
    client = await start(tmp_path, {"model": str(dg_dir), **RAW})
    assert await model_ready(client) == "ready"
    yield client
    await stop(client)


@pytest_asyncio.fixture
async def slow(tmp_path, dg_dir):
    """A server whose fills never end by themselves: a random model never converges, and 100000 steps are
    allowed, so only cancellation, superseding or an edit ends one."""
    client = await start(tmp_path, {"model": str(dg_dir), **RAW, "sampler": {"maxSteps": 100000}})
    assert await model_ready(client) == "ready"
    yield client
    await stop(client)
