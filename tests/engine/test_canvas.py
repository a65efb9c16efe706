from dglsp.engine.canvas import BUCKETS, PREFIX_CUT_STEP, SpecialIds, build_canvas, canvas_size, lay_out

SPECIAL = SpecialIds(bos=2, fim_prefix=5, fim_suffix=6)


def test_canvas_size_picks_the_smallest_bucket_with_room_for_end_of_fill():
    assert canvas_size(1) == 16
    assert canvas_size(15) == 16
    assert canvas_size(16) == 32
    assert canvas_size(100) == 128
    assert canvas_size(10_000) == 256
    assert canvas_size(100, limit=32) == 32
    assert all(canvas_size(b - 1) == b for b in BUCKETS)


def test_build_canvas_marks_slots_free_and_code_fixed():
    canvas = build_canvas([3, 2], [[10, 11]], [20])
    assert canvas.tokens == (0, 0, 0, 10, 11, 0, 0, 20)
    assert canvas.free == (True, True, True, False, False, True, True, False)
    assert canvas.holes == (range(0, 3), range(5, 7))


def test_infill_layout_keeps_the_code_nearest_the_gap():
    prefix, suffix = list(range(100, 1100)), list(range(2000, 2500))
    layout = lay_out(prefix, suffix, [32], SPECIAL, max_positions=600)
    assert layout.prefix[0] == 2  # bos survives the cut
    assert layout.prefix[-1] == prefix[-1]
    assert len(layout.prefix) + len(layout.canvas) <= 600
    kept_suffix = [t for t, free in zip(layout.canvas.tokens, layout.canvas.free, strict=True) if not free]
    assert kept_suffix == suffix[: len(kept_suffix)] and kept_suffix
    assert (len(prefix) - (len(layout.prefix) - 1)) % PREFIX_CUT_STEP == 0


def test_prefix_start_stays_put_while_typing():
    suffix = list(range(10))
    starts = set()
    for extra in range(5):
        prefix = list(range(100, 1100 + extra))
        starts.add(lay_out(prefix, suffix, [16], SPECIAL, max_positions=700).prefix[1])
    assert len(starts) == 1


def test_prompt_layout_puts_suffix_before_prefix_with_fim_markers():
    layout = lay_out([100, 101], [200, 201], [16], SPECIAL, max_positions=100, layout="prompt")
    assert layout.prefix == (2, 6, 200, 201, 5, 100, 101)
    assert all(layout.canvas.free)


def test_prompt_layout_refuses_several_holes():
    try:
        lay_out([1], [2], [16, 16], SPECIAL, max_positions=100, between=[[3]], layout="prompt")
    except ValueError as exc:
        assert "infill" in str(exc)
    else:
        raise AssertionError("expected ValueError")
