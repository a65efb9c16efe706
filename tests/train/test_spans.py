import ast

import numpy as np

from dglsp.train.spans import KINDS, Span, as_lines, line_span, node_spans

CODE = 'def área(x):\n    """Doc."""\n    y = f(x, 1) + 2\n    return y * 2\n'


def test_node_spans_are_character_offsets_of_real_nodes_even_after_non_ascii_text():
    spans = node_spans(CODE)
    found = {(KINDS[k], CODE[s:e]) for s, e, k in spans}
    assert ("arguments", "(x, 1)") in found
    assert ("expression", "f(x, 1) + 2") in found
    assert ("statement", "return y * 2") in found
    assert ("body", '"""Doc."""\n    y = f(x, 1) + 2\n    return y * 2') in found


def test_a_node_that_starts_a_line_widens_to_whole_lines_and_one_inside_a_line_stays():
    start = CODE.index("return")
    whole = as_lines(CODE, Span(start, start + len("return y * 2")))
    assert CODE[whole.start : whole.end] == "    return y * 2\n"
    inner = CODE.index("f(x")
    assert as_lines(CODE, Span(inner, inner + 3)) == Span(inner, inner + 3)


def test_line_spans_are_whole_lines_or_the_line_as_typed_after_its_indentation():
    rng = np.random.default_rng(0)
    for _ in range(20):
        whole = line_span(CODE, rng, whole=True)
        typed = line_span(CODE, rng, whole=False)
        assert (whole.start == 0 or CODE[whole.start - 1] == "\n") and CODE[whole.start : whole.end].endswith("\n")
        text = CODE[typed.start : typed.end]
        assert text.strip() == text and text


def test_every_span_of_a_real_file_removes_cleanly():
    import inspect

    text = inspect.getsource(ast)
    spans = node_spans(text)
    assert len(spans) > 500
    assert (spans[:, 0] < spans[:, 1]).all() and spans[:, 1].max() <= len(text)
