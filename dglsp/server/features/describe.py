"""dglsp/describe: the server's own description of its settings, languages, actions and commands."""

from __future__ import annotations

from typing import Any

from ..app import DglspServer
from ..contract import DESCRIBE, describe


def describe_server(_ls: DglspServer, _params: Any = None) -> dict:
    return describe()


def register(ls: DglspServer) -> None:
    ls.feature(DESCRIBE)(describe_server)
