from dglsp.engine.cache import PrefixCache
from dglsp.engine.engine import Engine
from dglsp.engine.types import FillRequest, SamplerConfig

CODE = (
    "import os\n\n\ndef list_python_files(root):\n    found = []\n"
    "    for dirpath, _, names in os.walk(root):\n"
    "        for name in names:\n            if name.endswith('.py'):\n                found.append(name)\n"
)


def keystrokes():
    # The user types the last line character by character, then jumps back up the file.
    stem = CODE + "    return "
    for word in ("s", "so", "sor", "sorted(f", "sorted(found"):
        yield stem + word
    yield CODE[:40]
    yield stem + "sorted(found"


def test_cache_gives_the_same_fills_as_no_cache(any_model):
    settings = SamplerConfig(max_steps=6, seed=5)
    cached, plain = Engine(any_model), Engine(any_model, prefix_cache=False)
    for prefix in keystrokes():
        request = FillRequest(prefix=prefix, suffix="\n\nprint(1)\n", max_tokens=12)
        a, b = cached.fill(request, settings), plain.fill(request, settings)
        assert a.fills == b.fills and a.steps == b.steps
    assert cached.cache.hits >= 5


def test_typing_a_few_characters_encodes_only_the_changed_tail(dg_model):
    engine = Engine(dg_model)
    settings = SamplerConfig(max_steps=1)
    first = engine.fill(FillRequest(prefix=CODE + "    return so", max_tokens=8), settings)
    assert first.prefix_tokens_encoded == 1 + len(engine.encode(CODE + "    return so"))
    typed = engine.fill(FillRequest(prefix=CODE + "    return sorted(", max_tokens=8), settings)
    assert 1 <= typed.prefix_tokens_encoded <= 4
    again = engine.fill(FillRequest(prefix=CODE + "    return sorted(", max_tokens=8), settings)
    assert again.prefix_tokens_encoded == 0


def test_cache_is_bounded_by_entries_and_bytes(dg_model):
    denoiser = dg_model.denoiser
    cache = PrefixCache(denoiser, max_entries=3)
    for i in range(6):
        cache.state_for([denoiser.bos_id, 100 + i, 7, 8, 9])  # diverge at the second token: separate entries
    assert len(cache) == 3
    tiny = PrefixCache(denoiser, max_bytes=1)
    for i in range(4):
        tiny.state_for([denoiser.bos_id, 200 + i, 5])
    assert len(tiny) == 1  # the newest entry always stays


def test_forked_state_leaves_its_parent_intact(dg_model):
    denoiser = dg_model.denoiser
    parent = denoiser.new_state()
    denoiser.extend(parent, [denoiser.bos_id, 11, 12, 13, 14])
    keys_before = [layer.keys.clone() for layer in parent.kv.layers]
    child = denoiser.fork(parent, 3)
    denoiser.extend(child, [40, 41])
    assert parent.ids == [denoiser.bos_id, 11, 12, 13, 14] and child.ids == [denoiser.bos_id, 11, 12, 40, 41]
    for layer, before in zip(parent.kv.layers, keys_before, strict=True):
        assert layer.keys.equal(before)
