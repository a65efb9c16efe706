from dataclasses import replace

import pytest

from dglsp.engine.canvas import BUCKETS, build_canvas
from dglsp.engine.engine import Engine
from dglsp.engine.sampler import denoise, entropy_bound_accept, fixed_k_accept
from dglsp.engine.types import FillRequest, SamplerConfig

PREFIX = "def area(width, height):\n    return "
SUFFIX = "\n\n\nprint(area(3, 4))\n"


def prefix_state(model, text=PREFIX):
    engine = Engine(model, prefix_cache=False)
    state = model.denoiser.new_state()
    model.denoiser.extend(state, [model.denoiser.bos_id, *engine.encode(text)])
    return engine, state


def test_entropy_bound_rule_accepts_lowest_entropy_slots_and_at_least_one():
    import torch

    entropy = torch.tensor([0.5, 0.01, 0.02, 3.0, 0.05])
    # sorted .01 .02 .05 .5 3: sums without the largest are 0 .01 .03 .08 .58, so 3.0 alone is refused
    assert entropy_bound_accept(entropy, 0.1).tolist() == [True, True, True, False, True]
    assert entropy_bound_accept(torch.tensor([5.0, 4.0]), 0.1).tolist() == [False, True]


def test_fixed_tokens_never_change_and_steps_stay_under_max(any_model):
    engine, state = prefix_state(any_model)
    canvas = build_canvas([8, 8], [engine.encode("\n    x = ")], engine.encode(SUFFIX))
    fixed = [(i, t) for i, (t, free) in enumerate(zip(canvas.tokens, canvas.free, strict=True)) if not free]
    seen = []

    def check(view):
        seen.append(view.step)
        assert all(view.tokens[i] == t for i, t in fixed)

    out = denoise(any_model.denoiser, state, canvas, SamplerConfig(max_steps=6), on_step=check)
    assert 1 <= out.steps <= 6 and len(seen) == out.steps
    assert all(out.tokens[i] == t for i, t in fixed)


def test_same_seed_same_fill_and_another_seed_another(any_model):
    engine = Engine(any_model, prefix_cache=False)
    request = FillRequest(prefix=PREFIX, suffix=SUFFIX, max_tokens=12)
    stops = frozenset()  # random weights may end a fill at once; keep all slots so the seeds can differ
    engine.model = replace(any_model, stop_ids=stops)
    a = engine.fill(request, SamplerConfig(max_steps=8, seed=1))
    b = engine.fill(request, SamplerConfig(max_steps=8, seed=1))
    c = engine.fill(request, SamplerConfig(max_steps=8, seed=2))
    assert a.fills == b.fills and a.steps == b.steps
    assert a.fills != c.fills


def test_larger_entropy_bound_accepts_more_per_step_and_takes_no_more_steps(any_model):
    engine, state = prefix_state(any_model)
    canvas = build_canvas([32], [], engine.encode(SUFFIX))
    first_accepts, steps = [], []
    for bound in (0.01, 1.0, 20.0, 1000.0):
        accepted = []
        out = denoise(
            any_model.denoiser,
            state,
            canvas,
            SamplerConfig(max_steps=48, entropy_bound=bound, seed=3),
            on_step=lambda v, acc=accepted: acc.append(v.accepted),
        )
        first_accepts.append(accepted[0])
        steps.append(out.steps)
    assert first_accepts == sorted(first_accepts) and first_accepts[-1] == 32
    assert first_accepts[0] >= 1
    if any_model.denoiser.noise == "absorbing":
        assert steps == sorted(steps, reverse=True) and steps[-1] == 1


def test_absorbing_noise_commits_slots_and_ends_when_all_are_committed(masked_model):
    _, state = prefix_state(masked_model)
    canvas = build_canvas([16], [], [])
    views = []
    out = denoise(masked_model.denoiser, state, canvas, SamplerConfig(max_steps=48), on_step=views.append)
    # Every step commits at least one slot for good, so 16 slots take at most 16 steps.
    assert out.stop == "converged" and out.steps <= 16
    assert sum(v.accepted for v in views) == 16
    assert masked_model.denoiser.mask_id not in out.tokens


@pytest.mark.parametrize("k", [1, 4])
def test_fixed_schedule_commits_k_slots_per_step_and_keeps_them(any_model, k):
    import torch

    assert fixed_k_accept(torch.tensor([0.3, 0.1, 0.2]), 2).tolist() == [False, True, True]
    engine, state = prefix_state(any_model)
    canvas = build_canvas([16], [], engine.encode(SUFFIX))
    views = []
    out = denoise(any_model.denoiser, state, canvas, SamplerConfig(tokens_per_step=k, seed=5), on_step=views.append)
    assert out.steps == 16 // k and [v.accepted for v in views] == [k] * (16 // k)
    # Committed slots keep their tokens: after step s at least k * (s + 1) slots already hold the final answer.
    for view in views:
        assert sum(a == b for a, b in zip(view.tokens[:16], out.tokens[:16], strict=True)) >= k * (view.step + 1)
    assert out.tokens == views[-1].tokens and out.stop == "converged"


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_canvas_bucket(dg_model, bucket):
    engine = Engine(dg_model)
    engine.denoiser.max_canvas, saved = 256, engine.denoiser.max_canvas
    try:
        suffix = engine.encode(SUFFIX)
        sizes = []
        engine.fill(
            FillRequest(prefix=PREFIX, suffix=SUFFIX, max_tokens=bucket - 1),
            SamplerConfig(max_steps=2),
            on_step=lambda v: sizes.append(len(v.tokens)),
        )
        assert sizes[0] == bucket + len(suffix)
    finally:
        engine.denoiser.max_canvas = saved


def test_several_holes_fill_in_one_run(any_model):
    engine = Engine(any_model)
    request = FillRequest(prefix="def f(x):\n    ", suffix="\n    return y\n", between=("\n    y = ",), max_tokens=8)
    result = engine.fill(request, SamplerConfig(max_steps=4))
    assert len(result.fills) == 2 and result.blocks == 1
    assert all(isinstance(f, str) for f in result.fills)


def test_a_long_fill_continues_block_by_block(dg_model):
    model = replace(dg_model, stop_ids=frozenset())  # never ends by itself: every block is used in full
    engine = Engine(model)
    assert model.denoiser.max_canvas == 32
    prefix_tokens = 1 + len(engine.encode(PREFIX))
    result = engine.fill(FillRequest(prefix=PREFIX, suffix=SUFFIX, max_tokens=70), SamplerConfig(max_steps=2))
    assert result.blocks == 3 and result.tokens == 70
    # Each finished block joined the prefix: the encoder saw the prefix and then two full blocks.
    assert result.prefix_tokens_encoded == prefix_tokens + 32 + 32


def test_cancelling_from_the_callback_stops_within_one_step(any_model):
    engine = Engine(any_model)
    calls = []

    def cancel_at_third(view):
        calls.append(view.step)
        return view.step == 2

    result = engine.fill(
        FillRequest(prefix=PREFIX, suffix=SUFFIX, max_tokens=60),
        SamplerConfig(max_steps=40, entropy_bound=0.001),
        on_step=cancel_at_third,
    )
    assert result.stop == "cancelled" and result.steps == 3 and calls == [0, 1, 2]
    assert result.blocks == 1


class Peaked:
    """A stand-in model for the stop rule alone: certain of `known` (position -> token), uniform elsewhere."""

    noise, vocab_size, mask_id, device, slots_only = "uniform", 16, None, None, False

    def __init__(self, known: dict[int, int]) -> None:
        import torch

        self.known = known
        self.device = torch.device("cpu")

    def logits_many(self, states, canvases, self_conditioning, slots):
        import torch

        out = []
        for canvas in canvases:
            logits = torch.zeros(1, canvas.shape[1], self.vocab_size)
            for at, token in self.known.items():
                logits[0, at, token] = 40.0
            out.append(logits)
        return out


END = 1


@pytest.mark.parametrize(
    ("holes", "known", "stops_early"),
    [
        ([8], {0: 5, 1: 6, 2: END}, True),  # the pads after the end stay uncertain: no need to wait for them
        ([4, 4], {0: 5, 1: END, 5: 7, 6: END}, True),  # every hole ended and settled
        ([4, 4], {0: 5, 1: END, 5: 7}, False),  # the second hole never ends: all its slots count
    ],
)
def test_stopping_on_the_fill_ignores_the_slots_after_its_end(holes, known, stops_early):
    from dglsp.engine.sampler import Canvasing, denoise_many
    from dglsp.models.base import PrefixState

    canvas = build_canvas(holes, [[9]] * (len(holes) - 1), [])
    model = Peaked(known)
    runs = {}
    for stop_on in ("canvas", "fill"):
        config = SamplerConfig(max_steps=20, stability=1, stop_on=stop_on)
        started = Canvasing.start(model, PrefixState(), canvas, config, None, ends=frozenset({END}))
        (runs[stop_on],) = denoise_many(model, [started])
    assert runs["canvas"].steps == 20 and runs["canvas"].stop == "max_steps"  # the reference rule waits for pads
    if stops_early:
        assert runs["fill"].steps == 2 and runs["fill"].stop == "converged"  # settled twice in a row
    else:
        assert runs["fill"].steps == 20
    for at, token in known.items():  # what the fill is made of is the same either way
        assert runs["fill"].tokens[at] == runs["canvas"].tokens[at] == token


def test_stop_on_is_a_sampler_setting_the_bench_can_name():
    from dglsp.engine.types import parse_config

    _, config = parse_config("stop_on=fill,steps=16", SamplerConfig())
    assert config.stop_on == "fill" and config.max_steps == 16
    with pytest.raises(ValueError, match="stop_on must be canvas or fill"):
        parse_config("stop_on=pads", SamplerConfig())
