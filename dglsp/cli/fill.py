"""Fill code: JSON lines from stdin to stdout, or the rest of the line at FILE:LINE:COL.

dglsp fill < tasks.jsonl > out.jsonl     each line {"prefix", "suffix"?, "language"?, "max_tokens"?, ...}
                                         (engine/fill_json.py has the whole contract)
dglsp fill src/app.py:12:9               prints the fill at line 12, column 9 (both from 1)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from ..engine.confidence import min_confidence
from ..engine.engine import Engine
from ..engine.fill_json import parse_line, result_record
from ..engine.memory import OutOfMemory
from ..engine.types import FillRequest, FillResult
from ..models.fim import FIM_FORMATS
from ..serving.backends import FORMS, Backend, open_backend
from ..serving.http_json import BackendError, BackendUnavailable
from ..syntax.languages import language_of_path
from .options import CliError, add_model_flags, add_sampler_flags, engine, sampler_config

MAX_FILE_BYTES = 20 << 20


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cursor", nargs="?", metavar="FILE:LINE:COL", help="fill at this cursor instead of stdin")
    parser.add_argument("--json", action="store_true", help="with FILE:LINE:COL, print the full result as JSON")
    parser.add_argument("--multi-line", action="store_true", help="with FILE:LINE:COL, keep lines after the first")
    parser.add_argument(
        "--show-prompt", action="store_true", help="print what the model sees (encoder input, canvas) to stderr"
    )
    parser.add_argument("--backend", metavar="SERVER", help=f"fill on a server, not a local model: {FORMS}")
    parser.add_argument("--token", default=os.environ.get("DGLSP_TOKEN"), help="the server's token ($DGLSP_TOKEN)")
    parser.add_argument("--backend-model", default="", help="the model an Ollama or OpenAI-compatible server uses")
    parser.add_argument(
        "--backend-prompt",
        default="auto",
        choices=("auto", "chat", *(f.name for f in FIM_FORMATS)),
        help="how an OpenAI-compatible server is asked: FIM tokens (auto: by the model's name) or chat",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        metavar="SCORE",
        help="print a fill only when its confidence score reaches this (default: the model's calibrated threshold; "
        '0 prints every fill); below it the completion is empty with "stop": "low_confidence"',
    )
    add_model_flags(parser)
    add_sampler_flags(parser)


def run(args: argparse.Namespace) -> int:
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(encoding="utf-8")
    if args.show_prompt and args.backend not in (None, "local"):
        raise CliError("--show-prompt shows dglsp's own canvas: it needs a local model, not --backend")
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise CliError("--min-confidence must be between 0 and 1")
    if args.cursor:
        prefix, suffix = read_cursor(args.cursor)
        language = language_of_path(args.cursor.rsplit(":", 2)[0])  # a chat prompt names it
        request = FillRequest(prefix=prefix, suffix=suffix, language=language, max_tokens=args.max_tokens)
        eng = _engine(args)
        floor = min_confidence(args.min_confidence, eng)
        if args.show_prompt:
            show_prompt(eng, request)
        try:
            result = eng.fill(request, eng.sampler.with_overrides(give_up=floor))
        except OutOfMemory as exc:  # one line that says what to lower, not a traceback
            raise CliError(f"{exc}; try a smaller --context-tokens or --max-tokens") from exc
        text = result.text if args.multi_line else first_line(result.text)
        record = gated(result, result_record(result) | {"completion": text}, floor)
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        elif record["stop"] == "low_confidence":
            score = record["confidence"]["score"]
            print(
                f"dglsp: the model is not confident here (confidence {score:.3f}, under {floor:.3f}); "
                "--min-confidence 0 prints its fill anyway",
                file=sys.stderr,
            )
        else:
            print(text)
        return 0
    stdin = sys.stdin
    stdin.reconfigure(encoding="utf-8", errors="replace")
    eng = _engine(args)
    floor = min_confidence(args.min_confidence, eng)
    fill_lines(eng, stdin, sys.stdout, default_max_tokens=args.max_tokens, show=args.show_prompt, floor=floor)
    return 0


def gated(result: FillResult, record: dict, floor: float) -> dict:
    """A fill's record with its completion emptied when its confidence score is under `floor`."""
    if result.confidence is None or result.confidence.score >= floor:
        return record
    return (
        record
        | {"completion": "", "stop": "low_confidence"}
        | ({"fills": [""] * len(record["fills"])} if "fills" in record else {})
    )


def show_prompt(eng: Engine | Backend, request: FillRequest) -> None:
    assert isinstance(eng, Engine), "checked in run()"
    sys.stderr.write(eng.prompt(request))
    sys.stderr.flush()


def _engine(args: argparse.Namespace) -> Engine | Backend:
    if not args.backend or args.backend == "local":
        return engine(args)
    try:
        remote = open_backend(args.backend, args.token, args.backend_model, args.backend_prompt)
        remote.connect()
    except (ValueError, BackendUnavailable, BackendError) as exc:
        raise CliError(str(exc)) from exc
    remote.sampler = sampler_config(args, remote.sampler)
    return remote


def fill_lines(
    eng: Engine | Backend,
    lines: TextIO,
    out: TextIO,
    default_max_tokens: int = 64,
    show: bool = False,
    floor: float = 0.0,
) -> None:
    """One output line per input line, in order; a bad line gets {"error"} and the run goes on. A fill scoring
    under `floor` comes out empty, with "stop": "low_confidence"."""
    for line in tqdm(lines, desc="fill", unit="task", disable=None, file=sys.stderr):
        try:
            task = parse_line(line, default_max_tokens)
            if show:
                show_prompt(eng, task.request)
            sampler = eng.sampler.with_overrides(**({"give_up": floor} | task.sampler))
            result = eng.fill(task.request, sampler)
            record = gated(result, result_record(result), floor)
        except ValueError as exc:
            record = {"error": str(exc)}
        except Exception as exc:  # a model failure on one task (e.g. out of memory) must not end the run
            record = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()


def read_cursor(spec: str) -> tuple[str, str]:
    """Split FILE:LINE:COL (1-based, column in characters) into the text before and after the cursor."""
    parts = spec.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise CliError(f"expected FILE:LINE:COL with numbers from 1, got {spec!r}")
    path, line, col = Path(parts[0]), int(parts[1]), int(parts[2])
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CliError(f"{path} is larger than {MAX_FILE_BYTES >> 20} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if b"\0" in data:
        raise CliError(f"{path} looks binary (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text (byte {exc.start})") from exc
    lines = text.splitlines(keepends=True) or [""]
    if not 1 <= line <= len(lines):
        raise CliError(f"line {line} is out of range: {path} has {len(lines)} lines")
    body = lines[line - 1].rstrip("\r\n")
    if not 1 <= col <= len(body) + 1:
        raise CliError(f"column {col} is out of range: line {line} has {len(body)} characters")
    offset = sum(len(x) for x in lines[: line - 1]) + col - 1
    return text[:offset], text[offset:]


def first_line(text: str) -> str:
    """The fill up to the end of its first non-blank line (a gap that starts a new line keeps the newline)."""
    lead = len(text) - len(text.lstrip("\r\n"))
    end = text.find("\n", lead)
    return text if end < 0 else text[:end]
