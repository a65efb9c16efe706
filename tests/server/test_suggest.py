"""suggest(), in-process: the gap, the cache, the debounce, stale answers and a missing model, with a scripted
stand-in for the model (the real one is in test_e2e.py)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from inprocess import ScriptedEngine, edit, initialized, open_doc, with_engine

from dglsp.server.suggest import Selected, suggest

SOURCE = "import math\n\ndef area(r):\n    return \n"
CURSOR = SOURCE.index("return ") + len("return ")


def counts(ls, feature="inline"):
    return ls.stats.outcome_counts().get(feature, {})


async def test_a_fill_is_served_at_the_cursor_then_cached():
    ls, _ = initialized()
    engine = with_engine(ls, ScriptedEngine(lambda _request: ("math.pi * r * r\nprint(1)",)))
    doc = open_doc(ls, SOURCE)
    first = await suggest(ls, "inline", doc, CURSOR, invoked=True)
    assert (first.start, first.end, first.text) == (CURSOR, CURSOR, "math.pi * r * r")
    assert engine.requests[0].prefix.endswith("def area(r):\n    return ")
    again = await suggest(ls, "inline", doc, CURSOR, invoked=True)
    assert again == first and len(engine.requests) == 1
    assert counts(ls) == {"served": 1, "cached": 1}


async def test_a_language_switched_off_never_reaches_the_model():
    ls, _ = initialized()
    engine = with_engine(ls, ScriptedEngine(lambda _request: ("x",)))
    ls.settings = replace(ls.settings, languages={"python": False})
    assert await suggest(ls, "inline", open_doc(ls, SOURCE), CURSOR, invoked=True) is None
    assert engine.requests == [] and counts(ls) == {"disabled": 1}


async def test_an_answer_for_text_that_changed_while_the_model_ran_is_dropped():
    ls, _ = initialized()
    hold = threading.Event()
    engine = with_engine(ls, ScriptedEngine(lambda _request: ("r * r",), hold))
    doc = open_doc(ls, SOURCE)
    pending = asyncio.create_task(suggest(ls, "inline", doc, CURSOR, invoked=True))
    await asyncio.to_thread(engine.started.wait)
    edit(ls, doc.uri, 2, SOURCE + "# typed on\n")
    hold.set()
    assert await pending is None
    assert counts(ls) == {"stale": 1}


async def test_an_automatic_request_is_superseded_by_a_newer_one_during_the_debounce():
    ls, _ = initialized()
    engine = with_engine(ls, ScriptedEngine(lambda _request: ("r * r",)))
    ls.settings = replace(ls.settings, debounce_ms=50)
    doc = open_doc(ls, SOURCE)
    older = asyncio.create_task(suggest(ls, "inline", doc, CURSOR, invoked=False))
    await asyncio.sleep(0)  # the older one is numbered first
    newer = await suggest(ls, "inline", doc, CURSOR, invoked=False)
    assert await older is None and newer.text == "r * r"
    assert len(engine.requests) == 1 and counts(ls) == {"superseded": 1, "served": 1}


async def test_a_selected_completion_is_filled_after_as_if_inserted():
    ls, _ = initialized()
    engine = with_engine(ls, ScriptedEngine(lambda _request: ("(r)",)))
    text = "import math\n\ndef area(r):\n    return math.\n"
    dot = text.index("math.") + len("math.")
    found = await suggest(ls, "inline", open_doc(ls, text), dot, invoked=True, selected=Selected(dot, dot, "sqrt"))
    assert engine.requests[0].prefix.endswith("return math.sqrt")
    assert (found.start, found.end, found.text, found.fill) == (dot, dot, "sqrt(r)", "(r)")


async def test_without_a_model_the_request_is_answered_empty_and_the_user_told_once():
    ls, _ = initialized()
    told: list[str] = []
    ls.tell = lambda level, message, show=None: told.append(message)  # type: ignore[method-assign]
    ls.host.status = replace(ls.host.status, state="error", error="no such directory")
    doc = open_doc(ls, SOURCE)
    for _ in range(3):
        assert await suggest(ls, "inline", doc, CURSOR, invoked=True) is None
    assert counts(ls) == {"no_model": 3}
    assert told == ["dglsp: no completions: the model failed to load: no such directory"]


async def test_a_backend_that_shows_other_files_gets_the_recently_edited_ones_of_the_language():
    ls, _ = initialized()
    engine = with_engine(ls, ScriptedEngine(lambda _request: ("r * r",)))
    for uri, language in (("file:///w/a.py", "python"), ("file:///w/b.py", "python"), ("file:///w/c.lua", "lua")):
        open_doc(ls, f"# {uri}\n", uri, language)
    doc = open_doc(ls, SOURCE)
    await suggest(ls, "inline", doc, CURSOR, invoked=True)
    assert engine.requests[-1].other_files == ()  # dglsp's engine does not read them: none are copied
    engine.shows_other_files = True  # as the llama.cpp backend does
    edit(ls, "file:///w/a.py", 2, "def helper():\n    return 1\n")
    edit(ls, "file:///t.py", 2, SOURCE + "\n")
    await suggest(ls, "inline", doc, CURSOR, invoked=True)
    request = engine.requests[-1]
    assert request.document == "file:///t.py"
    assert request.other_files == (("a.py", "def helper():\n    return 1\n"), ("b.py", "# file:///w/b.py\n"))


async def test_a_fill_under_the_threshold_is_shown_only_when_asked_for_and_marked():
    ls, _ = initialized()
    engine = with_engine(ls, ScriptedEngine(lambda _request: ("r * r",), score=0.3, min_confidence=0.5))
    ls.settings = replace(ls.settings, debounce_ms=0)
    doc = open_doc(ls, SOURCE)
    assert await suggest(ls, "inline", doc, CURSOR, invoked=False) is None
    # While typing, nobody sees it: the sampler was told to give up on it at half its steps.
    assert engine.samplers[0].give_up == 0.5
    asked = await suggest(ls, "inline", doc, CURSOR, invoked=True)
    assert (asked.text, asked.score, asked.low_confidence) == ("r * r", 0.3, True)
    # An explicit request gets the whole fill, not the half-done one (which was not cached).
    assert len(engine.samplers) == 2 and engine.samplers[1].give_up == 0
    assert counts(ls) == {"low_confidence": 1, "served": 1}


async def test_a_confident_fill_is_shown_while_typing_and_the_setting_overrides_the_model():
    ls, _ = initialized()
    with_engine(ls, ScriptedEngine(lambda _request: ("r * r",), score=0.7, min_confidence=0.5))
    ls.settings = replace(ls.settings, debounce_ms=0)
    doc = open_doc(ls, SOURCE)
    shown = await suggest(ls, "inline", doc, CURSOR, invoked=False)
    assert (shown.text, shown.low_confidence) == ("r * r", False)
    ls.settings = replace(ls.settings, min_confidence=0.8)  # stricter than the model's calibration
    ls.cache.clear()
    assert await suggest(ls, "inline", doc, CURSOR, invoked=False) is None
    ls.settings = replace(ls.settings, min_confidence=0.0)  # 0 shows everything
    ls.cache.clear()
    assert (await suggest(ls, "inline", doc, CURSOR, invoked=False)).text == "r * r"
    assert counts(ls) == {"served": 2, "low_confidence": 1}


async def test_a_backend_that_gives_no_score_is_not_gated():
    ls, _ = initialized()
    with_engine(ls, ScriptedEngine(lambda _request: ("r * r",)))
    ls.settings = replace(ls.settings, debounce_ms=0, min_confidence=0.9)
    found = await suggest(ls, "inline", open_doc(ls, SOURCE), CURSOR, invoked=False)
    assert (found.text, found.score, found.low_confidence) == ("r * r", None, False)
