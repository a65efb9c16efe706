"""Run the language server: `dglsp --stdio` (what editors start) or `dglsp --tcp --port N` (127.0.0.1 only).

Logs go to stderr (and to the editor's log through window/logMessage); stdout carries only the protocol.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .options import CliError

HOST = "127.0.0.1"  # never listen beyond this machine: the server sees the user's code


def add_parser(parser: argparse.ArgumentParser) -> None:
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    transport.add_argument("--tcp", action="store_true", help=f"listen on {HOST}:PORT instead")
    parser.add_argument("--port", type=int, default=2087, help="port for --tcp (default 2087)")
    parser.add_argument("--log-level", default="info", choices=["error", "warning", "info", "debug"])


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    # pygls logs whole messages at info, buffer text included: only when the user asks for debug.
    logging.getLogger("pygls").setLevel(logging.DEBUG if args.log_level == "debug" else logging.WARNING)
    if args.log_level != "debug":
        # Its traceback for a request that does not parse can quote the request's values (buffer text); the client
        # gets the error as the request's answer anyway.
        logging.getLogger("pygls.protocol.json_rpc").addFilter(
            lambda record: not record.getMessage().startswith("Unable to deserialize")
        )
    if not 0 < args.port < 65536:
        raise CliError(f"--port must be between 1 and 65535, got {args.port}")
    from ..server import make_server

    server = make_server()
    if args.tcp:
        server.start_tcp(HOST, args.port)
        server.leave(0)
    server.leave(server.start_io())
