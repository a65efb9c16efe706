"""A model job awaited from a handler: the worker's failures as plain outcomes, the user told of the ones to act on.

Inline completion and code actions both submit to the one worker and await it; what each failure means to the
user (a stale answer, no model, out of memory) is decided here once, and each feature maps the outcome to its
own answer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

from ..engine.memory import OutOfMemory
from ..serving.http_json import BackendError, BackendUnavailable
from .app import DglspServer
from .model_host import ModelUnavailable
from .worker import Cancelled

log = logging.getLogger("dglsp")

Outcome = Literal["done", "cancelled", "no_model", "out_of_memory", "error"]


async def run_job(
    ls: DglspServer, work: Callable[[threading.Event], Any], key: str | None = None
) -> tuple[Outcome, Any]:
    """(outcome, the job's value or its exception). Out of memory is told to the user here; an asyncio
    cancellation of the awaiting request cancels the job too, and goes on."""
    job = ls.worker.submit(work, key)
    try:
        return "done", await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        job.cancel()
        raise
    except Cancelled as exc:
        return "cancelled", exc
    except (ModelUnavailable, BackendUnavailable, BackendError) as exc:  # said once, not per keystroke
        return "no_model", exc
    except OutOfMemory as exc:
        ls.tell_out_of_memory(exc)
        return "out_of_memory", exc
    except Exception as exc:  # any other failure: the caller says so and answers; the server stays up
        log.exception("model job failed")
        return "error", exc
