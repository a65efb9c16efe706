"""The chat layouts on a directory shaped as Google's released DiffusionGemma -it (tests/google_shaped.py): the
layout comes from what the directory has, the chat prompt carries both sides of the gap, chat-pinned also pins
the suffix in the canvas, and the context budget and the stable prefix cut hold as in dglsp's own layout."""

import pytest
from google_shaped import CHANNEL, END_CHANNEL, END_TURN, gemma_like_tokenizer

from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest
from dglsp.models.base import ModelError
from dglsp.models.chat import GAP, SYSTEM
from dglsp.models.loader import LoadOptions, load_model, pick_layout

REQUEST = FillRequest(
    prefix="def add(a, b):\n    return ",
    suffix="\n\nprint(add(1, 2))  # ends with <turn|> as text\n",
    language="python",
    max_tokens=12,
)


@pytest.fixture(scope="module")
def chat_engine(google_dir):
    return Engine(load_model(google_dir))


@pytest.fixture(scope="module")
def pinned_engine(google_dir):
    return Engine(load_model(google_dir, LoadOptions(layout="chat-pinned")))


def encoder_and_canvas(engine, request=REQUEST):
    fill = engine._start(request, engine.sampler, None, 0.0)
    return engine._lay_out(fill), fill


def test_the_layout_follows_the_tokenizer(tokenizer, google_dir, tmp_path):
    assert pick_layout(None, tokenizer, tmp_path) == "prompt"  # FIM tokens
    assert pick_layout(None, gemma_like_tokenizer(), tmp_path) == "chat"  # a chat template, no FIM tokens
    assert pick_layout(None, gemma_like_tokenizer(chat_template=None), tmp_path) == "prompt"
    assert pick_layout("chat-pinned", gemma_like_tokenizer(), tmp_path) == "chat-pinned"
    with pytest.raises(ModelError, match="needs a chat template"):
        pick_layout("chat", tokenizer, tmp_path)
    with pytest.raises(ModelError, match="unknown layout 'fim'"):
        pick_layout("fim", tokenizer, tmp_path)
    assert load_model(google_dir).info["layout"] == "chat"


def test_the_end_of_turn_ends_a_fill(chat_engine):
    vocab = chat_engine.model.tokenizer.get_vocab()
    assert vocab[END_TURN] in chat_engine.model.stop_ids  # from generation_config.json's eos_token_id list


def test_the_chat_prompt_carries_both_sides_and_the_code_stays_text(chat_engine):
    layout, _ = encoder_and_canvas(chat_engine)
    tokenizer = chat_engine.model.tokenizer
    shown = tokenizer.decode(list(layout.prefix), skip_special_tokens=False)
    assert SYSTEM in shown
    assert f"<|turn>user\n```python\n{REQUEST.prefix}{GAP}{REQUEST.suffix}\n```<turn|>" in shown
    assert shown.endswith("<|turn>model\n")
    # The template's two ends of turn are control tokens; the one in the user's code is not.
    assert list(layout.prefix).count(tokenizer.get_vocab()[END_TURN]) == 2
    assert all(layout.canvas.free) and len(layout.canvas) == 16  # the answer alone: 12 tokens and its end


def test_chat_pinned_pins_the_suffix_after_the_answer(pinned_engine):
    layout, fill = encoder_and_canvas(pinned_engine)
    canvas = layout.canvas
    free = sum(canvas.free)
    assert free == 16 and list(canvas.tokens[free:]) == fill.suffix and not any(canvas.free[free:])
    assert GAP in pinned_engine.model.tokenizer.decode(list(layout.prefix))  # the encoder shows the suffix too
    shown = pinned_engine.prompt(REQUEST)
    assert "[16 slots]\n\nprint(add(1, 2))  # ends with <turn|> as text\n" in shown


@pytest.mark.parametrize("engine_name", ["chat_engine", "pinned_engine"])
def test_a_long_file_fits_the_context_budget_and_its_cut_holds_while_typing(engine_name, request, google_dir):
    engine = Engine(request.getfixturevalue(engine_name).model, context_tokens=600)
    # About 8,000 characters: what the server's stable cut (syntax/gap.py) hands the engine, and several times
    # the 600 tokens allowed.
    body = "".join(f"value_{i} = {i} * {i}\n" for i in range(360))
    request_ = FillRequest(prefix=body + "total = ", suffix="\n" + body, language="python", max_tokens=12)
    layout, _ = encoder_and_canvas(engine, request_)
    assert len(layout.prefix) + len(layout.canvas) <= 600
    typed, _ = encoder_and_canvas(engine, FillRequest(**{**request_.__dict__, "prefix": request_.prefix + "v"}))
    # One more character at the gap: the prompt up to the code it shows is unchanged, so the cache still hits.
    same = next(i for i, (a, b) in enumerate(zip(layout.prefix, typed.prefix, strict=False)) if a != b)
    assert same > len(layout.prefix) // 2


def test_a_fill_runs_and_its_answer_is_cleaned(chat_engine):
    result = chat_engine.fill(REQUEST)
    assert result.steps >= 1 and result.tokens <= REQUEST.max_tokens
    tokenizer = chat_engine.model.tokenizer
    vocab = tokenizer.get_vocab()
    said = [
        vocab[CHANNEL],
        *chat_engine.encode("thought\nadd them"),
        vocab[END_CHANNEL],
        *chat_engine.encode("```python\n    return a + b\n```"),
    ]
    assert chat_engine.answer(REQUEST, said) == "a + b"


def test_several_holes_need_the_infill_layout(chat_engine):
    with pytest.raises(ValueError, match="several holes need the infill layout"):
        chat_engine.fill(FillRequest(prefix="a = ", between=("\nb = ",), suffix="\n", max_tokens=4))


def test_a_template_that_refuses_a_system_turn_gets_the_instruction_in_the_user_turn(google_dir):
    model = load_model(google_dir)
    refusing = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    model.tokenizer.chat_template = refusing + model.tokenizer.chat_template
    engine = Engine(model)
    shown = engine.model.tokenizer.decode(list(encoder_and_canvas(engine)[0].prefix), skip_special_tokens=False)
    assert f"<|turn>user\n{SYSTEM}\n\n```python\n" in shown and "<|turn>system" not in shown
