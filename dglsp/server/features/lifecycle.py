"""Start, settings from the editor, shutdown."""

from __future__ import annotations

from lsprotocol import types

from ..app import DglspServer


def initialize(ls: DglspServer, params: types.InitializeParams) -> None:
    ls.start(params)


def initialized(ls: DglspServer, _params: types.InitializedParams) -> None:
    ls.load_model()
    ls.watch_workspace_file()


def shutdown(ls: DglspServer, _params: None) -> None:
    ls.stop()


def did_change_configuration(ls: DglspServer, params: types.DidChangeConfigurationParams) -> None:
    ls.set_client_settings(params.settings)


def register(ls: DglspServer) -> None:
    ls.feature(types.INITIALIZE)(initialize)
    ls.feature(types.INITIALIZED)(initialized)
    ls.feature(types.SHUTDOWN)(shutdown)
    ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(did_change_configuration)
