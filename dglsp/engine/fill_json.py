"""The JSON of one fill: what `dglsp fill` reads and writes line by line and `dglsp serve-model` answers over HTTP.

A task is `{"prefix", "suffix"?, "language"?, "max_tokens"?, "between"?, "single_line"?, <sampler fields>?}`
(`between`: the code between several holes, which then fill in one canvas; `single_line`: the fill ends at its
first newline; sampler fields: `SamplerConfig`'s, e.g. `max_steps`,
`seed`); unknown keys are refused, so a typo is not silently ignored. The answer is
`{"completion", "steps", "tokens_per_step", "ms", "stop", "confidence"}` (`confidence`: `{"score", "worst",
"settled"}`; `"fills"`, one per hole, when there are several), or `{"error"}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from .types import Confidence, FillRequest, FillResult, SamplerConfig

MAX_FILL_TOKENS = 4096
REQUEST_KEYS = ("prefix", "suffix", "language", "max_tokens", "between", "single_line")
SAMPLER_KEYS = tuple(f.name for f in fields(SamplerConfig))


@dataclass(frozen=True)
class FillTask:
    request: FillRequest
    sampler: dict[str, Any]  # SamplerConfig fields over the model's own


def parse_line(line: str, default_max_tokens: int = 64) -> FillTask:
    try:
        task = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    return parse_task(task, default_max_tokens)


def parse_task(task: Any, default_max_tokens: int = 64) -> FillTask:
    if not isinstance(task, dict):
        raise ValueError('a task must be a JSON object with a "prefix"')
    unknown = sorted(set(task) - set(REQUEST_KEYS) - set(SAMPLER_KEYS))
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(map(repr, unknown))}: a task has {', '.join(REQUEST_KEYS)} and sampler fields"
        )
    prefix, suffix = task.get("prefix"), task.get("suffix", "")
    if not isinstance(prefix, str):
        raise ValueError('"prefix" is required and must be a string')
    if not isinstance(suffix, str):
        raise ValueError('"suffix" must be a string')
    language = task.get("language")
    if language is not None and not isinstance(language, str):
        raise ValueError('"language" must be a string')
    max_tokens = task.get("max_tokens", default_max_tokens)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_FILL_TOKENS:
        raise ValueError(f'"max_tokens" must be an integer from 1 to {MAX_FILL_TOKENS}')
    between = task.get("between", [])
    if not isinstance(between, list) or not all(isinstance(b, str) for b in between):
        raise ValueError('"between" must be a list of strings (the code between holes)')
    single_line = task.get("single_line", False)
    if not isinstance(single_line, bool):
        raise ValueError('"single_line" must be true or false')
    sampler = {k: task[k] for k in SAMPLER_KEYS if k in task}
    try:
        SamplerConfig().with_overrides(**sampler)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sampler: {exc}") from exc
    request = FillRequest(prefix, suffix, language, max_tokens, tuple(between), single_line=single_line)
    return FillTask(request, sampler)


def result_record(result: FillResult) -> dict[str, Any]:
    record = {
        "completion": result.text,
        "steps": result.steps,
        "tokens_per_step": round(result.tokens_per_step, 3),
        "ms": round(result.ms, 1),
        "stop": result.stop,
    }
    if result.confidence is not None:
        record["confidence"] = result.confidence.record()
    if len(result.fills) > 1:
        record["fills"] = list(result.fills)
    return record


def confidence_of(record: dict[str, Any]) -> Confidence | None:
    """A record's `confidence` back (a server that does not send one: None)."""
    c = record.get("confidence")
    if not isinstance(c, dict):
        return None
    return Confidence(float(c.get("score", 0.0)), float(c.get("worst", 0.0)), bool(c.get("settled")), 0)
