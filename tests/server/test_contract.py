"""The server's description of itself is the one contract: the editors' files are generated from it and the
running server answers it."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields
from pathlib import Path

import pytest

from dglsp.bench.wire import Wire
from dglsp.cli.editor_files import drifted, write
from dglsp.server.contract import describe
from dglsp.server.settings import Settings

EDITORS = Path(__file__).resolve().parents[2] / "editors"


def test_the_editors_files_are_what_the_description_gives():
    stale = drifted(EDITORS)
    assert stale == [], f"{stale} drifted from the server's description: run `dglsp describe --write-editors editors`"


def test_a_setting_added_to_the_server_reaches_vs_code_and_neovim(tmp_path, monkeypatch):
    copy = tmp_path / "editors"
    (copy / "vscode/src").mkdir(parents=True)
    (copy / "nvim/lua/dglsp").mkdir(parents=True)
    shutil.copy(EDITORS / "vscode/package.json", copy / "vscode/package.json")
    extra = {**describe()}
    extra["settings"] = [*extra["settings"], {**extra["settings"][-1], "name": "nap_ms", "key": "napMs", "doc": "Nap."}]
    monkeypatch.setattr("dglsp.cli.editor_files.describe", lambda: extra)
    assert sorted(write(copy)) == ["nvim/lua/dglsp/contract.lua", "vscode/package.json", "vscode/src/contract.ts"]
    package = json.loads((copy / "vscode/package.json").read_text())
    server_block = next(b for b in package["contributes"]["configuration"] if b["title"] == "dglsp: server")
    assert server_block["properties"]["dglsp.napMs"]["markdownDescription"] == "Nap."
    assert '"napMs"' in (copy / "vscode/src/contract.ts").read_text()
    assert '"napMs"' in (copy / "nvim/lua/dglsp/contract.lua").read_text()
    assert drifted(copy) == []


def test_every_setting_says_what_it_does_and_its_default_is_valid():
    for f in fields(Settings):
        assert f.metadata["doc"].endswith("."), f.name
    Settings()  # the defaults pass the checks the metadata drives
    with pytest.raises(ValueError, match="multiline must be auto, always or never"):
        Settings(multiline="sometimes")


def test_the_running_server_answers_its_description():
    wire = Wire()
    try:
        assert "capabilities" in wire.initialize()["result"]
        assert wire.request("dglsp/describe", timeout=30)["result"] == json.loads(json.dumps(describe()))
    finally:
        wire.close()
