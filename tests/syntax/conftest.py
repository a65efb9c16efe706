"""The buffers under fixtures/syntax/: one cursor each, marked by █ (U+2588); expectations in expected.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dglsp.syntax.languages import grammar_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "syntax"
MARK = "\u2588"


def load_cases() -> list[dict]:
    """Every case of expected.json with its buffer: `text` (marker removed), `cursor` and `language` added."""
    cases = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))["cases"]
    loaded = []
    for case in cases:
        source = (FIXTURES / case["file"]).read_text(encoding="utf-8")
        assert source.count(MARK) == 1, f"{case['file']} needs exactly one cursor mark"
        language = grammar_for(None, case["file"]).name
        loaded.append({**case, "text": source.replace(MARK, ""), "cursor": source.index(MARK), "language": language})
    return loaded


def _case_id(case: dict) -> str:
    options = [f"{key}={case[key]}" for key in ("invoked", "multiline") if key in case]
    return "-".join([case["file"], *options])


def pytest_generate_tests(metafunc):
    if "gap_case" in metafunc.fixturenames:
        cases = load_cases()
        metafunc.parametrize("gap_case", cases, ids=[_case_id(c) for c in cases])
    if "trim_case" in metafunc.fixturenames:
        cases = [c for c in load_cases() if "fill" in c]
        metafunc.parametrize("trim_case", cases, ids=[_case_id(c) for c in cases])


@pytest.fixture
def all_cases() -> list[dict]:
    return load_cases()


@pytest.fixture
def fixture_files() -> list[str]:
    return sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*") if p.suffix != ".json")
